# examples/limit.cmake — examples of the limit area (included by examples/CMakeLists.txt).
