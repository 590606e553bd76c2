# transport/swim.cmake — sources of the swim area, appended to the library:
# SWIM membership as a pure state machine (transport/swim.h, docs/swim.md).
list(APPEND NACT_SOURCES transport/swim.c)
