# examples/dcache.cmake — examples of the dcache area.

# two_nodes/ — `make demo`: two nodes; actors on one use a cache and a
# pipeline stage on the other; kill -9, nodedown, restart, recovery.
add_executable(nactor_two_nodes two_nodes/main.c)
target_link_libraries(nactor_two_nodes PRIVATE nactor)
if(NACT_TESTS)
  add_test(NAME example_two_nodes COMMAND nactor_two_nodes)
  set_tests_properties(example_two_nodes PROPERTIES TIMEOUT 60 LABELS example)
  # the example kills a node with SIGKILL: see tests/node/lsan.supp
  set_property(TEST example_two_nodes APPEND PROPERTY ENVIRONMENT
    "LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/node/lsan.supp")
endif()
