# examples/members.cmake — examples of the members area.
