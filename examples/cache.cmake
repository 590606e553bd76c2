# examples/cache.cmake — examples of the cache area (included by examples/CMakeLists.txt).
