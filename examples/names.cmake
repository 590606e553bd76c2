# examples/names.cmake — examples of the names area.
