# examples/cache.cmake — examples of the cache area (included by examples/CMakeLists.txt).

# layered_cache/ — a local cache in front of a shared cache: hits at each
# layer, write-through, invalidation by an event. Exits nonzero when wrong.
add_executable(nactor_layered_cache layered_cache/main.c)
target_link_libraries(nactor_layered_cache PRIVATE nactor)
if(NACT_TESTS)
  add_test(NAME example_layered_cache COMMAND nactor_layered_cache)
  set_tests_properties(example_layered_cache PROPERTIES TIMEOUT 60 LABELS example)
endif()

# cache_invalidation/ — two caches subscribed to a bus topic drop a key (or
# everything) when a writer publishes a change. Exits nonzero when wrong.
add_executable(nactor_cache_invalidation cache_invalidation/main.c)
target_link_libraries(nactor_cache_invalidation PRIVATE nactor)
if(NACT_TESTS)
  add_test(NAME example_cache_invalidation COMMAND nactor_cache_invalidation)
  set_tests_properties(example_cache_invalidation PROPERTIES TIMEOUT 60 LABELS example)
endif()
