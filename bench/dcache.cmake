# bench/dcache.cmake — benchmarks of the dcache area.
