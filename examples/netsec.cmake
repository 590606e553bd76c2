# examples/netsec.cmake — examples of the netsec area.
