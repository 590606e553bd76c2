# bench/names.cmake — benchmarks of the names area.
