# transport/netsec.cmake — sources of the netsec area, appended to the library.
list(APPEND NACT_SOURCES transport/tls.c)
list(APPEND NACT_SOURCES transport/frame.c transport/credit.c)
