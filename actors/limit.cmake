# actors/limit.cmake — sources of the limit area, appended to the library.
list(APPEND NACT_SOURCES actors/limit.c)
