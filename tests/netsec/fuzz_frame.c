/*
 * tests/netsec/fuzz_frame.c — libFuzzer target for the node DATA frame
 * decoder (transport/frame.c). Built only with Clang
 * (-fsanitize=fuzzer,address); run it with tests/netsec/run-fuzz.sh.
 * Aborts when the decoder's check and its record walk disagree.
 */
#include <stdlib.h>

#include "frame_cases.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fc_decode(data, size) < 0)
		abort();
	return 0;
}
