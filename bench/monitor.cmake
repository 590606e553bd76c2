# bench/monitor.cmake — benchmarks of the monitor area (included by bench/CMakeLists.txt).
