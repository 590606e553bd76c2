# bench/logger.cmake — benchmarks of the logger area (included by bench/CMakeLists.txt).
