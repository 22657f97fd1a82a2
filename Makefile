# Thin wrapper around CMake. `make demo` and `make test` work on a bare
# Debian 12 machine: `make deps` installs whatever is missing first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
# CI builds treat warnings as errors.
CMAKE_FLAGS ?= $(if $(CI),-DRB_WERROR=ON,)

.PHONY: all deps build build-asan demo test test-normal test-asan bench clean

all: build

# Debian packages the build, the demo and the tests need. `make deps`
# installs only the missing ones: as root, through sudo otherwise, and
# prints the exact command when it can do neither.
DEB_PKGS = build-essential cmake pkg-config libyaml-dev libjansson-dev \
           libuv1-dev libcurl4-openssl-dev libsqlite3-dev libssl-dev \
           libcmocka-dev sqlite3 curl jq python3 nodejs npm \
           python3-aiosmtpd openssl chromium

deps:
	@missing=""; \
	for p in $(DEB_PKGS); do \
	  case $$p in nodejs) command -v node >/dev/null 2>&1 && continue ;; \
	              python3) command -v python3 >/dev/null 2>&1 && continue ;; \
	              npm) command -v npm >/dev/null 2>&1 && continue ;; esac; \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	[ -z "$$missing" ] && exit 0; \
	cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends$$missing"; \
	echo "deps: installing:$$missing"; \
	if [ "$$(id -u)" = 0 ]; then sh -c "$$cmd"; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo sh -c "$$cmd"; \
	else echo "deps: packages are missing and this user cannot install them; as root run:" >&2; \
	     echo "  $$cmd" >&2; exit 1; fi

build: deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DRB_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS) >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

demo: build
	sh runbooks/demo/demo.sh $(BUILD)

test-normal: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: build-asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS)

test: test-normal test-asan

bench: build
	sh tests/bench/run_all.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
