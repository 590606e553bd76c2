# bench/logger.cmake — benchmarks of the logger area (included by bench/CMakeLists.txt).
# logger: lines per second through the log actor under a flood from threads.
add_executable(logger_bench logger.c)
set_target_properties(logger_bench PROPERTIES OUTPUT_NAME logger)
target_link_libraries(logger_bench PRIVATE ${nact_bench_lib} Threads::Threads)
add_test(NAME bench_logger_smoke COMMAND logger_bench 20000 2 4096)
set_tests_properties(bench_logger_smoke PROPERTIES TIMEOUT 120)
