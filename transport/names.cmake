# transport/names.cmake — sources of the names area, appended to the library.
list(APPEND NACT_SOURCES transport/names.c)
