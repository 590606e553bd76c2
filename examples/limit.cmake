# examples/limit.cmake — examples of the limit area (included by examples/CMakeLists.txt).
# Each exits nonzero when its result is wrong.

# cascading_timeouts/ — main -> A -> B -> C, each hop a shorter timeout.
add_executable(nactor_cascading_timeouts cascading_timeouts/main.c)
target_link_libraries(nactor_cascading_timeouts PRIVATE nactor)
if(NACT_TESTS)
  add_test(NAME example_cascading_timeouts COMMAND nactor_cascading_timeouts)
  set_tests_properties(example_cascading_timeouts PROPERTIES TIMEOUT 60 LABELS example)
endif()

# resilient_executor/ — gather (limit 4) over retry actors against a flaky worker.
add_executable(nactor_resilient_executor resilient_executor/main.c)
target_link_libraries(nactor_resilient_executor PRIVATE nactor)
if(NACT_TESTS)
  add_test(NAME example_resilient_executor COMMAND nactor_resilient_executor)
  set_tests_properties(example_resilient_executor PROPERTIES TIMEOUT 60 LABELS example)
endif()

# adaptive_limiter/ — AIMD limiter finding a backend's capacity (manual clock).
add_executable(nactor_adaptive_limiter adaptive_limiter/main.c)
target_link_libraries(nactor_adaptive_limiter PRIVATE nactor)
if(NACT_TESTS)
  add_test(NAME example_adaptive_limiter COMMAND nactor_adaptive_limiter)
  set_tests_properties(example_adaptive_limiter PROPERTIES TIMEOUT 60 LABELS example)
endif()
