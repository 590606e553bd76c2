# transport/netsec.cmake — sources of the netsec area, appended to the library.
