# bench/limit.cmake — benchmarks of the limit area (included by bench/CMakeLists.txt).
