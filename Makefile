# nactor — a thin wrapper around CMake (in the spirit of Neovim's Makefile).
#
# On a fresh Debian machine the two commands are:
#
#   make demo      install build dependencies if needed, build, run the example
#   make test      install build dependencies if needed, build, run the tests
#
# Other targets:
#
#   make deps           check for (and as root, install) cmake, gcc, pkg-config,
#                       libnng-dev, libmsgpack-dev, libmbedtls-dev (HMAC for
#                       node authentication)
#   make build          configure build/ (RelWithDebInfo) and build it
#   make demo-supervised  run the supervision-tree example (examples/supervised)
#   make demo-serve     keep the demo node running for nactorctl (docs/cancel.md)
#   make bench          Release build in build-release/, run bench/run-bench.sh
#                       (BENCH_ARGS=--quick for a short run)
#   make asan           build-asan/ with ASan+UBSan, run the tests
#   make tsan           build-tsan/ with TSan, run the tests
#   make install        cmake --install build (PREFIX=/usr/local, DESTDIR honoured)
#   make format         clang-format our .c/.h files in place
#   make format-check   fail if any of them is not formatted
#   make clean          remove every build directory
#
# Variables (make VAR=value): BUILD_TYPE, PREFIX, JOBS, TEST_JOBS,
# TEST_TIMEOUT (seconds per test), SUITE_TIMEOUT (seconds for a whole ctest
# run), CMAKE_FLAGS (extra -D options), BENCH_ARGS (e.g. --quick),
# CLANG_FORMAT.

CMAKE ?= cmake
CTEST ?= ctest
CLANG_FORMAT ?= clang-format
BUILD_TYPE ?= RelWithDebInfo
PREFIX ?= /usr/local
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
TEST_JOBS ?= 2
TEST_TIMEOUT ?= 300
SUITE_TIMEOUT ?= 1500
CMAKE_FLAGS ?=
BENCH_ARGS ?=

BUILD_DIR := build
RELEASE_DIR := build-release
ASAN_DIR := build-asan
TSAN_DIR := build-tsan

# Sanitizer runtime options: stop at the first report, with stacks.
ASAN_ENV := ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:strict_string_checks=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
TSAN_ENV := TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/tsan.supp

# TSan needs its shadow memory at fixed addresses. On some kernels (large
# mmap_rnd_bits) a randomised layout collides with it and TSan dies with
# "unexpected memory mapping"; running without ASLR avoids that. setarch -R
# is refused in some containers (seccomp), so use it only where it works.
TSAN_WRAP = $(shell setarch $$(uname -m) -R true >/dev/null 2>&1 && \
	echo "setarch $$(uname -m) -R")

# Files clang-format owns: our C sources, never build trees or vendored code.
FORMAT_DIRS := include actors mailbox registry transport supervisor tools \
	tests bench examples
FORMAT_EXCLUDE := -path '*/build*' -o -path '*/third_party/*' -o \
	-path '*/vendor/*'
FORMAT_FILES = $(shell find $(wildcard $(FORMAT_DIRS)) \( $(FORMAT_EXCLUDE) \) \
	-prune -o -type f \( -name '*.c' -o -name '*.h' \) -print 2>/dev/null | sort)

# ctest over one build directory: $(call run_ctest,dir,env-prefix)
define run_ctest
	$(2) timeout $(SUITE_TIMEOUT) $(CTEST) --test-dir $(1) --output-on-failure \
		-j$(TEST_JOBS) --timeout $(TEST_TIMEOUT)
endef

.PHONY: all deps build demo demo-serve demo-supervised test bench asan tsan install format \
	format-check clean

all: build

# ---------------------------------------------------------------- deps --
# Each missing piece maps to the Debian package that provides it. Headers
# and libraries are checked by compiling and linking a tiny program, which
# is what the build will need.
deps:
	@set -e; missing=""; \
	for c in cmake:cmake make:make gcc:gcc pkg-config:pkg-config; do \
		command -v $${c%%:*} >/dev/null 2>&1 || missing="$$missing $${c#*:}"; \
	done; \
	if command -v gcc >/dev/null 2>&1; then \
		tmp=$$(mktemp -d); \
		printf '#include <stdio.h>\nint main(void){return 0;}\n' > $$tmp/c.c; \
		gcc $$tmp/c.c -o $$tmp/c >/dev/null 2>&1 || missing="$$missing libc6-dev"; \
		printf '#include <nng/nng.h>\nint main(void){return nng_version()==0;}\n' > $$tmp/n.c; \
		gcc $$tmp/n.c -o $$tmp/n -lnng >/dev/null 2>&1 || missing="$$missing libnng-dev"; \
		printf '#include <msgpack.h>\nint main(void){msgpack_sbuffer b;msgpack_sbuffer_init(&b);msgpack_sbuffer_destroy(&b);return msgpack_version_major()<1;}\n' > $$tmp/m.c; \
		gcc $$tmp/m.c -o $$tmp/m -lmsgpackc >/dev/null 2>&1 || missing="$$missing libmsgpack-dev"; \
		printf '#include <mbedtls/md.h>\nint main(void){return mbedtls_md_info_from_type(MBEDTLS_MD_SHA256)==0;}\n' > $$tmp/t.c; \
		gcc $$tmp/t.c -o $$tmp/t -lmbedcrypto >/dev/null 2>&1 || missing="$$missing libmbedtls-dev"; \
		rm -rf $$tmp; \
	else \
		missing="$$missing libc6-dev libnng-dev libmsgpack-dev libmbedtls-dev"; \
	fi; \
	if command -v pkg-config >/dev/null 2>&1 && ! pkg-config --exists msgpack; then \
		case "$$missing" in *libmsgpack-dev*) ;; *) missing="$$missing libmsgpack-dev";; esac; \
	fi; \
	if [ -z "$$missing" ]; then echo "deps: all build dependencies present"; exit 0; fi; \
	echo "deps: missing:$$missing"; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "deps: running as root, installing with apt-get"; \
		apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	else \
		echo "deps: install them with:"; \
		echo "    sudo apt-get install -y$$missing"; \
		exit 1; \
	fi

# --------------------------------------------------------------- build --
build: deps
	$(CMAKE) -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)
	$(CMAKE) --build $(BUILD_DIR) -j$(JOBS)

demo: build
	./$(BUILD_DIR)/examples/nactor_demo
	./$(BUILD_DIR)/examples/nactor_two_nodes

# The demo node kept running with cancelable jobs, for nactorctl ls / tree /
# watch / cancel in a second terminal (Ctrl-C stops it gracefully).
demo-serve: build
	./$(BUILD_DIR)/examples/nactor_demo --serve 0

# The supervision example: a pipeline whose parser crashes on bad input and
# is restarted while the rest keeps flowing.
demo-supervised: build
	./$(BUILD_DIR)/examples/nactor_supervised

test: build
	$(call run_ctest,$(BUILD_DIR),)

# The tests are not needed in the Release tree, only the benchmarks.
bench: deps
	$(CMAKE) -S . -B $(RELEASE_DIR) -DCMAKE_BUILD_TYPE=Release -DNACT_TESTS=OFF \
		-DNACT_BENCH=ON $(CMAKE_FLAGS)
	$(CMAKE) --build $(RELEASE_DIR) -j$(JOBS)
	@if [ -f bench/run-bench.sh ]; then \
		echo "bash bench/run-bench.sh $(BENCH_ARGS) $(RELEASE_DIR)"; \
		bash bench/run-bench.sh $(BENCH_ARGS) $(RELEASE_DIR); \
	else \
		echo "bench: bench/run-bench.sh not found; benchmarks are built in $(RELEASE_DIR)/bench"; \
	fi

# Sanitizer builds keep optimisation (-O2 -g) so the suite stays fast.
asan: deps
	$(CMAKE) -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DNACT_SANITIZE=address $(CMAKE_FLAGS)
	$(CMAKE) --build $(ASAN_DIR) -j$(JOBS)
	$(call run_ctest,$(ASAN_DIR),$(ASAN_ENV))

tsan: deps
	$(CMAKE) -S . -B $(TSAN_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DNACT_SANITIZE=thread $(CMAKE_FLAGS)
	$(CMAKE) --build $(TSAN_DIR) -j$(JOBS)
	$(call run_ctest,$(TSAN_DIR),$(TSAN_ENV) $(TSAN_WRAP))

# Configure with the prefix too, so that GNUInstallDirs picks the matching
# library directory (lib/<multiarch> for /usr on Debian, lib elsewhere).
install: deps
	$(CMAKE) -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
		-DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)
	$(CMAKE) --build $(BUILD_DIR) -j$(JOBS)
	$(CMAKE) --install $(BUILD_DIR) --prefix $(PREFIX)

# -------------------------------------------------------------- format --
format:
	@command -v $(CLANG_FORMAT) >/dev/null || { echo "format: $(CLANG_FORMAT) not found (apt-get install clang-format)"; exit 1; }
	$(CLANG_FORMAT) -i --style=file $(FORMAT_FILES)

format-check:
	@command -v $(CLANG_FORMAT) >/dev/null || { echo "format-check: $(CLANG_FORMAT) not found (apt-get install clang-format)"; exit 1; }
	@bad=0; for f in $(FORMAT_FILES); do \
		if ! $(CLANG_FORMAT) --style=file "$$f" | cmp -s "$$f" -; then \
			echo "not formatted: $$f"; bad=1; \
		fi; \
	done; \
	if [ $$bad = 1 ]; then echo "run 'make format' to fix"; exit 1; fi; \
	echo "format-check: all files formatted"

# --------------------------------------------------------------- clean --
clean:
	rm -rf $(BUILD_DIR) $(RELEASE_DIR) $(ASAN_DIR) $(TSAN_DIR)
