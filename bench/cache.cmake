# bench/cache.cmake — benchmarks of the cache area (included by bench/CMakeLists.txt).
# cache: get/set messages per second through a cache actor (1 and 16 in
# flight); bench/cache-vs-redis.sh runs it beside redis-benchmark.
add_executable(cache_bench cache.c)
set_target_properties(cache_bench PROPERTIES OUTPUT_NAME cache)
target_link_libraries(cache_bench PRIVATE ${nact_bench_lib})
add_test(NAME bench_cache_smoke COMMAND cache_bench 20000 1000 3)
set_tests_properties(bench_cache_smoke PROPERTIES TIMEOUT 120)
# The comparison script itself, tiny: skipped (77) when Redis is missing.
add_test(NAME bench_cache_vs_redis_smoke
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cache-vs-redis.sh ${CMAKE_BINARY_DIR} 2000 100 3)
set_tests_properties(bench_cache_vs_redis_smoke PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77)
