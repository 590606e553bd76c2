# bench/netsec.cmake — benchmarks of the netsec area.
