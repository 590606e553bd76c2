# transport/dcache.cmake — sources of the dcache area, appended to the library.
list(APPEND NACT_SOURCES transport/dcache.c)
