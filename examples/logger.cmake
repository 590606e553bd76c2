# examples/logger.cmake — examples of the logger area (included by examples/CMakeLists.txt).
