# bench/cancel.cmake — benchmarks of the cancel area (included by bench/CMakeLists.txt).
