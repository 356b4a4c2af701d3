# clawlink — a thin layer over CMake. See README.md.
#   make run     build everything (installing what is missing), start the relay
#   make test    the whole suite: unit + e2e, again under ASan+UBSan, fuzz smoke
#   make bench   the benchmark suite (bench/; results in bench/results/latest.json)
#   make fmt     clang-format the C sources
#   make deps    install build and test dependencies (scripts/install-deps)

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
LISTEN     ?= 127.0.0.1:8080
DATA       ?= ./var
FUZZ_RUNS  ?= 20000

CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all deps build run test test-unit test-e2e test-asan test-fuzz test-bench bench fmt fmt-check clean

all: build

deps:
	@scripts/install-deps

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@mkdir -p $(DATA)
	$(BUILD)/clawlink-relay --listen $(LISTEN) --data $(DATA)

test: test-unit test-e2e test-asan test-fuzz test-bench
	@echo "make test: all layers passed"

test-unit: build
	@cd $(BUILD) && ctest --output-on-failure

test-e2e: build
	@CL_BIN_DIR=$(abspath $(BUILD)) node --test --test-concurrency=1 tests/e2e/

# The whole suite again, built with AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan: deps
	@CC=clang cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCL_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure
	@CL_BIN_DIR=$(abspath $(ASAN_BUILD)) CL_SANITIZED=1 node --test --test-concurrency=1 tests/e2e/

# Every parser's libFuzzer harness, run over its seed corpus and then for FUZZ_RUNS inputs.
test-fuzz: deps
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCL_FUZZ=ON -DCL_TESTS=OFF \
	  -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined" >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)
	@for f in $(FUZZ_BUILD)/fuzz_*; do \
	  name=$$(basename $$f); corpus=tests/fuzz/corpus/$${name#fuzz_}; \
	  work=$$(mktemp -d); cp -r $$corpus/. $$work/ 2>/dev/null || true; \
	  echo "fuzz: $$name ($(FUZZ_RUNS) runs)"; \
	  $$f -runs=$(FUZZ_RUNS) -max_len=65536 -print_final_stats=0 $$work >$$work.log 2>&1 \
	    || { tail -40 $$work.log; exit 1; }; rm -rf $$work $$work.log; \
	done

bench: build
	@bench/run $(BUILD)

# The bench harness builds, and its smallest run (--smoke) works and writes
# well-formed JSON with every scenario in it. No number is checked: timing
# belongs to `make bench`, never to a pass/fail test.
test-bench: build
	@bench/run $(BUILD) --smoke --out $(BUILD)/bench-smoke.json >$(BUILD)/bench-smoke.txt 2>&1 \
	  || { tail -40 $(BUILD)/bench-smoke.txt; exit 1; }
	@node bench/check_results.mjs $(BUILD)/bench-smoke.json

fmt:
	@clang-format -i src/*/*.c src/*/*.h tests/unit/*.c tests/fuzz/*.c bench/*.c bench/*.h

fmt-check:
	@clang-format --dry-run --Werror src/*/*.c src/*/*.h tests/unit/*.c tests/fuzz/*.c bench/*.c bench/*.h

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
