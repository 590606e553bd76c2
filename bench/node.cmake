# bench/node.cmake — benchmarks of the node area (included by bench/CMakeLists.txt).
# Each starts its second node process itself (loopback tcp).
add_executable(remote_pingpong remote_pingpong.c)
target_link_libraries(remote_pingpong PRIVATE ${nact_bench_lib})
add_executable(remote_counting remote_counting.c)
target_link_libraries(remote_counting PRIVATE ${nact_bench_lib})
add_test(NAME bench_remote_pingpong_smoke COMMAND remote_pingpong 2000)
add_test(NAME bench_remote_counting_smoke COMMAND remote_counting 50000)
set_tests_properties(bench_remote_pingpong_smoke bench_remote_counting_smoke
  PROPERTIES TIMEOUT 120 LABELS node)
