# examples/dcache.cmake — examples of the dcache area.
