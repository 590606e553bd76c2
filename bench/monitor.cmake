# bench/monitor.cmake — benchmarks of the monitor area (included by bench/CMakeLists.txt).
# Pingpong with metrics off and on, alternating, best of ROUNDS and ratio.
add_executable(monitor_overhead monitor_overhead.c)
target_link_libraries(monitor_overhead PRIVATE ${nact_bench_lib})
add_test(NAME bench_monitor_overhead_smoke COMMAND monitor_overhead 1 20000)
set_tests_properties(bench_monitor_overhead_smoke PROPERTIES TIMEOUT 120)
