# bench/pipeline.cmake — benchmarks of the pipeline area (included by bench/CMakeLists.txt).
# pipeline [N [WINDOW]]: N items through source -> map -> filter -> sink.
add_executable(pipeline_bench pipeline.c)
target_link_libraries(pipeline_bench PRIVATE ${nact_bench_lib})
add_test(NAME bench_pipeline_smoke COMMAND pipeline_bench 20000 64)
set_tests_properties(bench_pipeline_smoke PROPERTIES TIMEOUT 120)
