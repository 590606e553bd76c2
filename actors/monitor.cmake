# actors/monitor.cmake — sources of the monitor area, appended to the library.
# list(APPEND NACT_SOURCES actors/monitor.c)
list(APPEND NACT_SOURCES actors/monitor_rt.c actors/monitor.c actors/monitor_prom.c
  actors/monitor_srv.c)
