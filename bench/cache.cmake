# bench/cache.cmake — benchmarks of the cache area (included by bench/CMakeLists.txt).
