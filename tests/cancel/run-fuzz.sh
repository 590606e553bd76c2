#!/bin/sh
# tests/cancel/run-fuzz.sh — run the libFuzzer target of the registry
# server's request decoder (tests/cancel/fuzz_request.c) for a while.
#
#   run-fuzz.sh [SECONDS]                 build it with clang in build-fuzz/
#                                         (libFuzzer + ASan + UBSan), run it
#   run-fuzz.sh --binary PATH [SECONDS]   run an already built fuzz_request
#
# SECONDS defaults to 20. The fuzzer starts from a copy of the seed corpus
# (tests/cancel/fuzz_corpus, valid requests of every verb), so the source
# tree is never written to; new inputs and any crash file stay in a
# temporary directory, which is kept (and named) when the fuzzer finds
# something. Exit: 0 nothing found, 1 a finding or a build failure,
# 77 skipped (no clang, or clang without libFuzzer).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=
if [ "${1:-}" = "--binary" ]; then
	bin=$2
	shift 2
fi
secs=${1:-20}

if [ -z "$bin" ]; then
	if ! command -v clang >/dev/null 2>&1; then
		echo "run-fuzz.sh: clang not found: skipped"
		exit 77
	fi
	probe=$(mktemp -d)
	printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){(void)d;(void)n;return 0;}\n' \
		>"$probe/p.c"
	if ! clang -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
		rm -rf "$probe"
		echo "run-fuzz.sh: clang has no libFuzzer: skipped"
		exit 77
	fi
	rm -rf "$probe"
	bdir=$root/build-fuzz
	cmake -S "$root" -B "$bdir" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DNACT_SANITIZE=address -DNACT_BENCH=OFF -DNACT_EXAMPLES=OFF -DNACT_TOOLS=OFF \
		>/dev/null || exit 1
	cmake --build "$bdir" -j2 --target fuzz_request >/dev/null || exit 1
	bin=$bdir/tests/cancel/fuzz_request
fi
[ -x "$bin" ] || { echo "run-fuzz.sh: no fuzzer at $bin"; exit 1; }

work=$(mktemp -d /tmp/nact-fuzz-XXXXXX)
mkdir "$work/corpus"
cp "$here"/fuzz_corpus/* "$work/corpus/"
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	"$bin" -max_total_time="$secs" -max_len=4096 -timeout=10 -print_final_stats=1 \
	-artifact_prefix="$work/" "$work/corpus" >"$work/log" 2>&1
rc=$?
tail -n 12 "$work/log"
if [ $rc -ne 0 ]; then
	echo "run-fuzz.sh: the fuzzer found something (exit $rc): see $work"
	exit 1
fi
echo "run-fuzz.sh: $secs s, nothing found ($(ls "$work/corpus" | wc -l) corpus inputs)"
rm -rf "$work"
exit 0
