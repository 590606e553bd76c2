# examples/monitor.cmake — examples of the monitor area (included by examples/CMakeLists.txt).
# metrics_alerts/ — a metrics collector with alerts: a monitor with a
# mailbox-depth threshold, an actor whose mailbox grows, the alert arrives.
add_executable(nactor_metrics_alerts metrics_alerts/main.c)
target_link_libraries(nactor_metrics_alerts PRIVATE nactor)
if(NACT_TESTS)
  add_test(NAME example_metrics_alerts COMMAND nactor_metrics_alerts)
  set_tests_properties(example_metrics_alerts PROPERTIES TIMEOUT 60 LABELS example)
endif()
