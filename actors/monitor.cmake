# actors/monitor.cmake — sources of the monitor area, appended to the library.
# list(APPEND NACT_SOURCES actors/monitor.c)
