# bench/bus.cmake — benchmarks of the bus area (included by bench/CMakeLists.txt).
add_executable(bench_bus bus.c)
target_link_libraries(bench_bus PRIVATE ${nact_bench_lib})
add_test(NAME bench_bus_smoke COMMAND bench_bus 2000 1 4)
set_tests_properties(bench_bus_smoke PROPERTIES TIMEOUT 120)
