# bench/bus.cmake — benchmarks of the bus area (included by bench/CMakeLists.txt).
