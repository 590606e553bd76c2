# examples/names.cmake — examples of the names area.
add_executable(nactor_names names/main.c)
target_link_libraries(nactor_names PRIVATE nactor)
if(NACT_TESTS)
  add_test(NAME example_names COMMAND nactor_names)
  set_tests_properties(example_names PROPERTIES LABELS example TIMEOUT 60)
endif()
