# examples/members.cmake — examples of the members area.

# members/ — four nodes in one process: gossip convergence, a call to a
# member known only from the gossip, a graceful leave seen by everyone.
add_executable(nactor_members members/main.c)
target_link_libraries(nactor_members PRIVATE nactor)
if(NACT_TESTS)
  add_test(NAME example_members COMMAND nactor_members)
  set_tests_properties(example_members PROPERTIES TIMEOUT 60 LABELS example)
  set_property(TEST example_members APPEND PROPERTY ENVIRONMENT
    "LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/node/lsan.supp")
endif()
