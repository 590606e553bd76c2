# bench/members.cmake — benchmarks of the members area.
# members_cluster [N [PERIOD_MS]]: N node processes on loopback; gossip
# convergence, SWIM load per member per period, kill -9 -> all see it down.
add_executable(members_cluster members_cluster.c)
target_link_libraries(members_cluster PRIVATE ${nact_bench_lib} m)
add_test(NAME bench_members_cluster_smoke COMMAND members_cluster 3 100)
set_tests_properties(bench_members_cluster_smoke PROPERTIES TIMEOUT 120 LABELS node)
