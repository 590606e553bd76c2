# examples/cancel.cmake — examples of the cancel area (included by examples/CMakeLists.txt).
# Each exits nonzero when its result is wrong.

# batch_job/ — a cancelable batch job with progress, run to the end and
# cancelled half-way.
add_executable(nactor_batch_job batch_job/main.c)
target_link_libraries(nactor_batch_job PRIVATE nactor)

# timeout_scope/ — a scope with a deadline (nact_op_cancel_after): one that
# finishes in time, one that times out with its children.
add_executable(nactor_timeout_scope timeout_scope/main.c)
target_link_libraries(nactor_timeout_scope PRIVATE nactor)

# cli_cancel/ — a job cancelled from the terminal with `nactorctl cancel`.
add_executable(nactor_cli_cancel cli_cancel/main.c)
target_link_libraries(nactor_cli_cancel PRIVATE nactor)

if(NACT_TESTS)
  add_test(NAME example_batch_job COMMAND nactor_batch_job)
  add_test(NAME example_timeout_scope COMMAND nactor_timeout_scope)
  set_tests_properties(example_batch_job example_timeout_scope
    PROPERTIES TIMEOUT 60 LABELS example)
  if(NACT_TOOLS)
    add_test(NAME example_cli_cancel
      COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli_cancel/test.sh
              $<TARGET_FILE:nactorctl> $<TARGET_FILE:nactor_cli_cancel>)
    # `make demo`'s program with --serve, inspected with nactorctl
    add_test(NAME example_demo_serve
      COMMAND sh ${PROJECT_SOURCE_DIR}/tests/cancel/demo_serve.sh
              $<TARGET_FILE:nactorctl> $<TARGET_FILE:nactor_demo>)
    set_tests_properties(example_cli_cancel example_demo_serve
      PROPERTIES TIMEOUT 60 LABELS example)
    # TSan: libnng's uninstrumented refcounts (tests/tsan.supp)
    if(NACT_SANITIZE STREQUAL "thread")
      set_tests_properties(example_cli_cancel example_demo_serve PROPERTIES ENVIRONMENT
        "TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=${PROJECT_SOURCE_DIR}/tests/tsan.supp")
    endif()
  endif()
endif()
