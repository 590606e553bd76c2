# bench/dcache.cmake — benchmarks of the dcache area.
# dcache: the distributed cache over two nodes on loopback tcp (it starts
# its second node process itself).
add_executable(dcache_bench dcache.c)
target_link_libraries(dcache_bench PRIVATE ${nact_bench_lib})
add_test(NAME bench_dcache_smoke COMMAND dcache_bench 300)
set_tests_properties(bench_dcache_smoke PROPERTIES TIMEOUT 120 LABELS node)
