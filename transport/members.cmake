# transport/members.cmake — sources of the members area, appended to the library.
