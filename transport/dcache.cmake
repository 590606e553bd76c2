# transport/dcache.cmake — sources of the dcache area, appended to the library.
