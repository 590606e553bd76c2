# bench/pipeline.cmake — benchmarks of the pipeline area (included by bench/CMakeLists.txt).
