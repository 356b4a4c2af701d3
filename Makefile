# clawlink — a thin layer over CMake. See README.md.
#   make run     build the relay, the agent and the web app (installing what is
#                missing), start the relay with the demo (LISTEN=, DATA=)
#   make login   a new one-time sign-in link for make run's demo user (EMAIL=
#                for another user), from the relay's database in DATA
#   make test    the whole suite: unit + e2e, again under ASan+UBSan, fuzz smoke
#   make bench   the benchmark suite (bench/; results in bench/results/latest.json)
#   make fmt     clang-format the C sources
#   make deps    install build and test dependencies (scripts/install-deps)

MAKEFLAGS  += --no-print-directory

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
LISTEN     ?= 127.0.0.1:8080
DATA       ?= ./var
FUZZ_RUNS  ?= 20000
# the end-to-end test files (not their lib/ helpers): black-box, then in a real browser
E2E_BLACKBOX := tests/e2e/*.test.mjs
E2E_TESTS    := $(E2E_BLACKBOX) tests/e2e/browser/*.test.mjs

CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all deps build web bins run login test test-unit test-web test-e2e test-asan test-fuzz test-bench bench fmt fmt-check clean

all: build

deps:
	@scripts/install-deps

build: deps web
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The web app (web/: TypeScript, Vite, xterm.js) built into web/dist, which
# CMake embeds into clawlink-relay. Rebuilt only when a source changed.
WEB_SRC := $(shell find web/src web/public -type f 2>/dev/null) web/index.html web/package-lock.json \
           web/vite.config.ts web/tsconfig.json
web: web/.built
web/.built: $(WEB_SRC) | deps
	@cd web && npm run --silent build -- --logLevel warn
	@touch $@

# Only what running needs, quietly: the two binaries (and the web app,
# embedded into the relay); the compiler's output goes to BUILD/bins.log
# and is shown only if the build fails. A configured BUILD is kept as it is
# (make build reconfigures it with CMAKE_FLAGS).
bins: deps web
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@echo "make: building clawlink-relay and clawlink (log: $(BUILD)/bins.log)"
	@cmake --build $(BUILD) -j $(JOBS) --target clawlink-relay clawlink >$(BUILD)/bins.log 2>&1 \
	  || { tail -40 $(BUILD)/bins.log; echo "make: the build failed (all of it: $(BUILD)/bins.log)"; exit 1; }

# Starts the relay on LISTEN with its data in DATA. On an empty database it
# also pairs this machine as a demo device and prints a one-time sign-in
# link (scripts/run-demo; DEMO=0 turns that off). Ctrl-C stops it (exit 0).
run: bins
	@scripts/run-demo $(BUILD) $(LISTEN) $(DATA)

# A new one-time sign-in link (15 minutes, once, on this machine) for make
# run's demo user, or for EMAIL=..., from the database in DATA; the relay
# may be running or not (clawlink-relay login-link).
login: bins
	@$(BUILD)/clawlink-relay login-link --data "$(DATA)" --listen "$(LISTEN)" $(if $(EMAIL),--email "$(EMAIL)")

test: test-unit test-web test-e2e test-asan test-fuzz test-bench
	@echo "make test: all layers passed"

test-unit: build
	@cd $(BUILD) && ctest --output-on-failure

# The web app's logic (web/test/: protocol, connection, commands; fuzzers
# for FUZZ_RUNS inputs) under node's test runner; no browser, no build.
test-web: deps
	@cd web && FUZZ_RUNS=$(FUZZ_RUNS) npm test --silent

test-e2e: build
	@CL_BIN_DIR=$(abspath $(BUILD)) node --test --test-concurrency=1 $(E2E_TESTS)

# The C again, built with AddressSanitizer + UndefinedBehaviorSanitizer: the
# unit tests and the black-box e2e files, which drive every relay and agent
# path. The real-browser files (tests/e2e/browser/) run once, in test-e2e:
# they test the web app, and under the sanitizers they cost ~6 minutes of
# the suite's ~50-minute budget (README "Tests").
test-asan: deps web
	@CC=clang cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCL_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure
	@CL_BIN_DIR=$(abspath $(ASAN_BUILD)) CL_SANITIZED=1 node --test --test-concurrency=1 $(E2E_BLACKBOX)

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
	@clang-format -i src/*/*.c src/*/*.h tools/*.c tests/unit/*.c tests/fuzz/*.c bench/*.c bench/*.h

fmt-check:
	@clang-format --dry-run --Werror src/*/*.c src/*/*.h tools/*.c tests/unit/*.c tests/fuzz/*.c bench/*.c bench/*.h

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) web/dist web/.built
