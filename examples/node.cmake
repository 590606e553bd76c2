# examples/node.cmake — examples of the node area (included by examples/CMakeLists.txt).

# nodes/ — two node processes: remote calls, nodedown after SIGKILL, rejoin.
add_executable(nactor_nodes nodes/main.c)
target_link_libraries(nactor_nodes PRIVATE nactor)
if(NACT_TESTS)
  add_test(NAME example_nodes COMMAND nactor_nodes)
  set_tests_properties(example_nodes PROPERTIES TIMEOUT 60 LABELS example)
endif()
if(NACT_TESTS)
  # the example kills a node with SIGKILL: see tests/node/lsan.supp
  set_property(TEST example_nodes APPEND PROPERTY ENVIRONMENT
    "LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/node/lsan.supp")
endif()
