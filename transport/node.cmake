# transport/node.cmake — sources of the node area, appended to the library.
# list(APPEND NACT_SOURCES transport/node.c)
list(APPEND NACT_SOURCES transport/node.c transport/lane.c)
# HMAC-SHA256 and the random generator of the node handshake (mbedtls).
find_library(NACT_MBEDCRYPTO mbedcrypto REQUIRED)
list(APPEND NACT_EXTRA_LIBS ${NACT_MBEDCRYPTO})
