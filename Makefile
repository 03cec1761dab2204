# Thin front for CMake. `make run` and `make test` install what is missing first.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
# The crash and takeover tests' submissions in the sanitizer runs (1,000 in
# the normal one): the same paths, in less of the suite's time.
SAN_SUBMISSIONS ?= 400

.PHONY: all deps build run install test test-unit test-asan test-tsan bench fuzz clean

all: build

deps:
	@scripts/install-deps

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/supercell up

# Puts supercell on the PATH (PREFIX, default /usr/local), with its bash
# completion; DESTDIR for packaging.
PREFIX ?= /usr/local
install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory test-tsan

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSC_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 SC_E2E_SUBMISSIONS=$(SAN_SUBMISSIONS) \
	  ctest --output-on-failure -j $(JOBS)

# ThreadSanitizer: every test, the end-to-end ones included (the controller
# and agent processes are TSAN builds too); the first race fails the run.
test-tsan: deps
	@cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSC_TSAN=ON >/dev/null
	@cmake --build $(TSAN_BUILD) -j $(JOBS)
	cd $(TSAN_BUILD) && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	  SC_SLOW=3 SC_E2E_SUBMISSIONS=$(SAN_SUBMISSIONS) ctest --output-on-failure -j $(JOBS)

bench: build
	@scripts/install-deps bench
	bench/run-all

# libFuzzer on every target in tests/fuzz, FUZZ_SECONDS each (default 60).
fuzz:
	scripts/fuzz

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) build-fuzz
