# examples/cancel.cmake — examples of the cancel area (included by examples/CMakeLists.txt).
