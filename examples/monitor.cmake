# examples/monitor.cmake — examples of the monitor area (included by examples/CMakeLists.txt).
