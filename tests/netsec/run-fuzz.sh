#!/bin/sh
# tests/netsec/run-fuzz.sh [SECONDS] — build the libFuzzer target of the
# node DATA frame decoder (tests/netsec/fuzz_frame.c) with clang in its own
# build directory (build-fuzz/, or $NACT_FUZZ_BUILD) and run it for SECONDS
# (default 60). Exit 77 (skipped) when clang is missing; nonzero when the
# fuzzer finds a crash (the input is left in the build directory).
set -eu
secs=${1:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
bdir=${NACT_FUZZ_BUILD:-$root/build-fuzz}
if ! command -v clang >/dev/null 2>&1; then
	echo "run-fuzz.sh: clang not installed: skipped" >&2
	exit 77
fi
CC=clang cmake -S "$root" -B "$bdir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$bdir" -j2 --target fuzz_frame >/dev/null
bin=$(find "$bdir" -name fuzz_frame -type f -perm -u+x | head -1)
[ -n "$bin" ] || { echo "run-fuzz.sh: fuzz_frame not built" >&2; exit 1; }
corpus="$bdir/fuzz_frame.corpus"
mkdir -p "$corpus"
cd "$bdir"
echo "run-fuzz.sh: fuzzing the frame decoder for $secs s"
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} "$bin" -max_total_time="$secs" -max_len=4096 \
	-print_final_stats=1 "$corpus"
