# actors/logger.cmake — sources of the logger area, appended to the library.
list(APPEND NACT_SOURCES actors/logger.c)
