# bench/names.cmake — benchmarks of the names area.
add_executable(bench_names names.c)
target_link_libraries(bench_names PRIVATE ${nact_bench_lib})
add_test(NAME bench_names_smoke COMMAND bench_names 50)
set_tests_properties(bench_names_smoke PROPERTIES TIMEOUT 120)
