# examples/bus.cmake — examples of the bus area (included by examples/CMakeLists.txt).

# event_bus/ — an order flow: wildcards, filter/map, a failing handler
# reported on $bus.error, a pipe, auto-unsubscribe. Exits nonzero when wrong.
add_executable(nactor_event_bus event_bus/main.c)
target_link_libraries(nactor_event_bus PRIVATE nactor)
if(NACT_TESTS)
  add_test(NAME example_event_bus COMMAND nactor_event_bus)
  set_tests_properties(example_event_bus PROPERTIES TIMEOUT 60 LABELS example)
endif()
