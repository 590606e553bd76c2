# examples/bus.cmake — examples of the bus area (included by examples/CMakeLists.txt).
