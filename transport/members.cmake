# transport/members.cmake — sources of the members area, appended to the library.
list(APPEND NACT_SOURCES transport/members.c)
