# examples/node.cmake — examples of the node area (included by examples/CMakeLists.txt).
