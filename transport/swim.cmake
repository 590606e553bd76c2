# transport/swim.cmake — sources of the swim area, appended to the library.
# list(APPEND NACT_SOURCES transport/swim.c)
