# actors/pipeline.cmake — sources of the pipeline area, appended to the library.
list(APPEND NACT_SOURCES actors/pipeline.c)
