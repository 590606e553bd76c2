# bench/cancel.cmake — benchmarks of the cancel area (included by bench/CMakeLists.txt).

# cancel: a signal's cancel pass over a tree of T operations
# (nact_op_cancel_all), and progress reports while the registry is served.
add_executable(cancel_bench cancel.c)
target_link_libraries(cancel_bench PRIVATE ${nact_bench_lib})
add_test(NAME bench_cancel_smoke COMMAND cancel_bench 10000 20000)
set_tests_properties(bench_cancel_smoke PROPERTIES TIMEOUT 120)
