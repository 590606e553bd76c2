# transport/node.cmake — sources of the node area, appended to the library.
# list(APPEND NACT_SOURCES transport/node.c)
