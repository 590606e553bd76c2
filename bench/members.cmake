# bench/members.cmake — benchmarks of the members area.
