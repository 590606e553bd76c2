# transport/names.cmake — sources of the names area, appended to the library.
