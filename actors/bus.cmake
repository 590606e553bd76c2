# actors/bus.cmake — sources of the bus area, appended to the library.
list(APPEND NACT_SOURCES actors/bus.c)
