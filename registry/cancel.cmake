# registry/cancel.cmake — sources of the cancel area, appended to the library.
list(APPEND NACT_SOURCES registry/signal.c)
