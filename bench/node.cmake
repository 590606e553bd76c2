# bench/node.cmake — benchmarks of the node area (included by bench/CMakeLists.txt).
