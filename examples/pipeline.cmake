# examples/pipeline.cmake — examples of the pipeline area (included by examples/CMakeLists.txt).
# Each exits nonzero when its result is wrong.

# pipeline_enrich/ — validation (skip and count) then enrichment on a parallel map.
add_executable(nactor_pipeline_enrich pipeline_enrich/main.c)
target_link_libraries(nactor_pipeline_enrich PRIVATE nactor)

# pipeline_batch/ — a batch stage in front of a bulk writer, partial batch flushed.
add_executable(nactor_pipeline_batch pipeline_batch/main.c)
target_link_libraries(nactor_pipeline_batch PRIVATE nactor)

# pipeline_window/ — a moving average with a sliding window.
add_executable(nactor_pipeline_window pipeline_window/main.c)
target_link_libraries(nactor_pipeline_window PRIVATE nactor m)

if(NACT_TESTS)
  add_test(NAME example_pipeline_enrich COMMAND nactor_pipeline_enrich)
  add_test(NAME example_pipeline_batch COMMAND nactor_pipeline_batch)
  add_test(NAME example_pipeline_window COMMAND nactor_pipeline_window)
  set_tests_properties(example_pipeline_enrich example_pipeline_batch example_pipeline_window
    PROPERTIES TIMEOUT 60 LABELS example)
endif()
