# actors/cache.cmake — sources of the cache area, appended to the library.
list(APPEND NACT_SOURCES actors/cache.c)
