# bench/limit.cmake — benchmarks of the limit area (included by bench/CMakeLists.txt).
add_executable(bench_limit limit.c)
target_link_libraries(bench_limit PRIVATE ${nact_bench_lib})
add_test(NAME bench_limit_smoke COMMAND bench_limit 100000)
set_tests_properties(bench_limit_smoke PROPERTIES TIMEOUT 120)
