# Thin wrapper around CMake. `make demo` and `make test` work on a bare
# Debian 12 machine: `make deps` installs whatever is missing first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
COV_BUILD  ?= build-cov
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
# The world tests (label `world`) mostly wait on sockets: more at once.
WORLD_JOBS ?= 8
# CI builds treat warnings as errors.
CMAKE_FLAGS ?= $(if $(CI),-DRB_WERROR=ON,)

.PHONY: all deps build build-asan build-fuzz demo test check test-normal test-asan test-fuzz fuzz bench compare mutation coverage clean lint valgrind

all: build

# Debian packages, in three lists (docs/install.md): `make deps` installs
# only the missing ones of a list, as root, through sudo otherwise, and
# prints the exact command when it can do neither.
#   DEB_PKGS       what the build needs (`make build`, `install`, `package`)
#   DEB_DEMO_PKGS  what `make demo` runs besides (the world it breaks: python3; its checks: curl, jq)
#   DEB_TEST_PKGS  what `make test` runs besides: cmocka, the servers and
#                  clients the tests start, the tools that read the pages
DEB_PKGS = build-essential cmake pkg-config libyaml-dev libjansson-dev \
           libuv1-dev libcurl4-openssl-dev libsqlite3-dev libssl-dev libh2o-dev libpq-dev
DEB_DEMO_PKGS = curl jq python3
DEB_TEST_PKGS = libcmocka-dev sqlite3 curl jq python3 nodejs npm \
                python3-aiosmtpd openssl openssh-client openssh-server patch \
                prometheus-alertmanager python3-prometheus-client wrk nginx-light \
                chromium rocksdb-tools postgresql-15

# rb_deps: installs the missing packages of the list $(1).
define rb_deps
	@missing=""; \
	for p in $(1); do \
	  case $$p in nodejs) command -v node >/dev/null 2>&1 && continue ;; \
	              python3) [ -x /usr/bin/python3 ] && continue ;; \
	              npm) command -v npm >/dev/null 2>&1 && continue ;; esac; \
	  case " $$missing " in *" $$p "*) continue ;; esac; \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	[ -z "$$missing" ] && exit 0; \
	cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends$$missing"; \
	echo "deps: installing:$$missing"; \
	if [ "$$(id -u)" = 0 ]; then sh -c "$$cmd"; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo sh -c "$$cmd"; \
	else echo "deps: packages are missing and this user cannot install them; as root run:" >&2; \
	     echo "  $$cmd" >&2; exit 1; fi
endef

.PHONY: deps-demo deps-test deps-fuzz deps-coverage deps-bench
deps:
	$(call rb_deps,$(DEB_PKGS))
deps-demo:
	$(call rb_deps,$(DEB_PKGS) $(DEB_DEMO_PKGS))
# Before the build is configured: CMake looks for cmocka then.
deps-test:
	$(call rb_deps,$(DEB_PKGS) $(DEB_TEST_PKGS))
deps-fuzz:
	$(call rb_deps,$(DEB_PKGS) $(DEB_FUZZ_PKGS))
deps-coverage:
	$(call rb_deps,$(DEB_PKGS) $(DEB_TEST_PKGS) $(DEB_COV_PKGS))
deps-bench:
	$(call rb_deps,$(DEB_PKGS) $(DEB_BENCH_PKGS))

# The build makes the man pages (help2man, lowdown) and the package (file,
# for CPack's dpkg-shlibdeps); the man page and completion tests read them
# with groff-base, man-db, bash-completion and zsh.
DEB_PKGS += help2man lowdown file
DEB_TEST_PKGS += groff-base man-db bash-completion zsh
# The fuzz targets (tests/fuzz/README.md): Debian's clang with libFuzzer and
# the sanitizer runtimes (libclang-rt), llvm-symbolizer (llvm-14) for the
# stacks of a finding. `make test` runs their smoke, so CI installs them.
DEB_FUZZ_PKGS = clang-14 libclang-rt-14-dev llvm-14
DEB_TEST_PKGS += $(DEB_FUZZ_PKGS)
FUZZ_CC ?= clang-14
# `make lint` (clang-tidy, cppcheck; jq filters the compile commands) and
# `make valgrind` (the unit tests under valgrind): docs/development.md.
DEB_LINT_PKGS = clang-tidy cppcheck jq
DEB_TEST_PKGS += $(DEB_LINT_PKGS) valgrind

build: deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DRB_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS) >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

demo: deps-demo build
	sh runbooks/demo/demo.sh $(BUILD)

test-normal: deps-test
	$(MAKE) build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -LE 'world|valgrind' && \
	  ctest --output-on-failure -j $(WORLD_JOBS) -L world

# The sanitizers' settings for every ctest of the ASan/UBSan build.
SAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

test-asan: deps-test
	$(MAKE) build-asan
	cd $(ASAN_BUILD) && $(SAN_ENV) \
	  sh -c 'ctest --output-on-failure -j $(JOBS) -LE world && ctest --output-on-failure -j $(WORLD_JOBS) -L world'

# The fuzz targets with clang + ASan + UBSan (libFuzzer), in their own
# build: the engine's files are instrumented for the fuzzer there only.
build-fuzz: deps-fuzz
	CC=$(FUZZ_CC) cmake -S . -B $(FUZZ_BUILD) -DRB_FUZZ=ON -DRB_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_targets

# The ctest label `fuzz`: every target replays its checked-in inputs (the
# seeds and the reproducers of fixed findings) and fuzzes a few seconds.
test-fuzz: deps-test
	$(MAKE) build-fuzz
	cd $(FUZZ_BUILD) && ctest --output-on-failure -j $(JOBS) -L fuzz

# make test (the README's test command; under 20 minutes on two cores): the
# whole suite in the normal build, and the fuzz smoke beside its world
# tests, which mostly wait on sockets (tests/beside.sh prints each whole and
# fails when either failed).
test: deps-test
	$(MAKE) build build-fuzz
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -LE 'world|valgrind'
	sh tests/beside.sh "cd $(BUILD) && ctest --output-on-failure -j $(WORLD_JOBS) -L world" \
	  "cd $(FUZZ_BUILD) && ctest --output-on-failure -j $(JOBS) -L fuzz"

# make check: what CI (.ci/run) runs after make test — the whole suite again
# in the ASan/UBSan build, with valgrind's leak check of the unit tests and
# make lint beside its world tests.
check: deps-test
	$(MAKE) build build-asan
	cd $(ASAN_BUILD) && $(SAN_ENV) ctest --output-on-failure -j $(JOBS) -LE world
	sh tests/beside.sh "cd $(ASAN_BUILD) && $(SAN_ENV) ctest --output-on-failure -j $(WORLD_JOBS) -L world" \
	  "(cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L valgrind) && LINT_JOBS=$(JOBS) sh tests/lint/run.sh $(BUILD)"

# Static analysis: clang-tidy and cppcheck with the checked-in configurations
# (.clang-tidy, tests/.clang-tidy, tests/lint/); fails on any finding
# (docs/development.md). Needs only a configured build: compile_commands.json.
.PHONY: deps-lint
deps-lint:
	$(call rb_deps,$(DEB_PKGS) $(DEB_LINT_PKGS))
lint: deps-lint
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	LINT_JOBS=$(JOBS) sh tests/lint/run.sh $(BUILD)

# The unit tests (unit.*) once under valgrind --leak-check=full: the ctest
# label `valgrind` (tests/tests.cmake), in the normal build.
valgrind: deps-test
	$(MAKE) build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L valgrind

# Fuzzing for long (not part of `make test`): each target in turn for
# FUZZ_SECONDS (default 600), one at a time, under nice; prints executions,
# coverage and findings per target and fails when one found something.
# `make fuzz FUZZ_TARGETS="expr load"` runs only those. The corpora grow in
# $(FUZZ_BUILD)/fuzz/NAME and are kept between runs (not committed).
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?= $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
fuzz: build-fuzz
	@fail=0; for t in $(FUZZ_TARGETS); do \
	  RB_SOURCE_DIR=$(CURDIR) RB_BUILD_DIR=$(CURDIR)/$(FUZZ_BUILD) \
	    sh tests/fuzz/run.sh run $(FUZZ_BUILD)/fuzz_$$t $$t $(FUZZ_SECONDS) || fail=1; \
	done; exit $$fail

# `make install PREFIX=/opt/runbook` (default /usr/local; DESTDIR is honoured).
.PHONY: install package test-package
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

# The Debian package, runbook_VERSION_ARCH.deb in $(BUILD) (docs/install.md).
package: build
	cd $(BUILD) && cpack -G DEB

# The package's full test alone (it is in `make test` too).
test-package: deps-test
	$(MAKE) build
	cd $(BUILD) && ctest --output-on-failure -R '^install\.package$$'

# Coverage (not part of `make test`; docs/testing.md): the whole suite in
# its own gcc --coverage build ($(COV_BUILD)), then gcovr prints line and
# branch figures for engine/ and actions/ apart and together, and writes the
# per-file HTML report $(COV_BUILD)/coverage/index.html. COV_WORLD=0 leaves
# out the world tests (label `world`, the slowest). The report is written
# even when a test failed; the target fails then.
DEB_COV_PKGS = gcovr
COV_WORLD ?= 1
coverage: deps-coverage
	CC=gcc cmake -S . -B $(COV_BUILD) -DRB_COVERAGE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS) >/dev/null
	cmake --build $(COV_BUILD) -j $(JOBS)
	find $(COV_BUILD) -name '*.gcda' -delete
	@cd $(COV_BUILD) && { ctest --output-on-failure -j $(JOBS) -LE world; rc=$$?; \
	  if [ "$(COV_WORLD)" != 0 ]; then ctest --output-on-failure -j $(WORLD_JOBS) -L world || rc=1; \
	  else echo "coverage: world tests left out (COV_WORLD=0)"; fi; \
	  echo $$rc > coverage-ctest.rc; }
	sh tests/coverage.sh $(COV_BUILD)
	@rc=$$(cat $(COV_BUILD)/coverage-ctest.rc); [ "$$rc" = 0 ] || \
	  { echo "coverage: some tests failed (figures above are still measured)" >&2; exit 1; }

# The benchmarks (tests/bench/README.md; not part of `make test`): what
# they run or measure against — ansible-core and jq (compare.sh, ssh.sh),
# sshd (ssh.sh), wrk, nginx, python3, sqlite3 and curl (serve.sh, review.sh),
# strace (journal.sh's fsync count).
DEB_BENCH_PKGS = ansible-core jq openssh-client openssh-server wrk nginx-light \
                 python3 sqlite3 curl strace

# Every benchmark, then the engine's figures in one table (summary.sh);
# the output is kept in $(BUILD)/bench.log.
bench: deps-bench
	$(MAKE) build
	sh tests/bench/run_all.sh $(BUILD)

# The comparison alone: the engine, Ansible and a sh loop on the same
# recovery work of COMPARE_STEPS steps (tests/bench/compare.sh).
COMPARE_STEPS ?= 100
compare: deps-bench
	$(MAKE) build
	sh tests/bench/compare.sh $(BUILD) $(COMPARE_STEPS)

# Mutation testing (not part of `make test`): each mutant of
# tests/mutation/mutants.txt is planted alone in a scratch copy, built and
# put through the normal suite; prints caught/survived and the score, and
# fails when one survives. `make mutation MUTANTS="a b"` runs only those.
MUTATION_JOBS ?= 2
mutation: deps-test
	JOBS=$(MUTATION_JOBS) python3 tests/mutation/mutate.py run $(MUTANTS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(COV_BUILD)
