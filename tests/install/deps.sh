#!/bin/sh
# deps.sh — the Makefile's package lists (docs/install.md): `make deps`,
# which `make install` and `make package` run, installs what the build
# needs and nothing of the test toolchain; `make deps-test`, which `make
# test` runs, adds it (clang with libFuzzer included, for the fuzz
# smoke); `make demo` adds the demo's health check (curl); `make fuzz`
# installs the build's packages and clang only; `make bench` and `make
# compare` add the benchmarks' tools (ansible-core for the comparison).
# Reads the lists through `make -n`, so nothing is installed.
# Env: RB_SOURCE_DIR, RB_BUILD_DIR.
. "$RB_SOURCE_DIR/tests/install/lib.sh"
command -v make >/dev/null 2>&1 || { bad "make is missing"; summary; exit 1; }
list() { # TARGET: the packages its recipe would install
    make -s -n -C "$RB_SOURCE_DIR" "$1" BUILD="$tmp/b" ASAN_BUILD="$tmp/a" 2>/dev/null |
        sed -n 's/.*for p in \([^;]*\); do.*/\1/p' | head -n 1
}
build=$(list deps)
echo "    deps: $build"
for p in cmake libyaml-dev libjansson-dev libuv1-dev libcurl4-openssl-dev libsqlite3-dev libpq-dev help2man lowdown file; do
    case " $build " in *" $p "*) ok "make deps installs $p (the build needs it)" ;;
    *) bad "make deps lacks $p, which the build needs" ;; esac
done
for p in libcmocka-dev nodejs npm python3-aiosmtpd jq zsh bash-completion man-db clang-14 libclang-rt-14-dev postgresql-15; do
    case " $build " in *" $p "*) bad "make deps installs $p, which only the tests need" ;;
    *) ok "make deps leaves out $p (tests only)" ;; esac
done
testl=$(list deps-test)
for p in cmake libcmocka-dev nodejs python3-aiosmtpd zsh man-db clang-14 libclang-rt-14-dev postgresql-15; do
    case " $testl " in *" $p "*) ok "make deps-test installs $p" ;;
    *) bad "make deps-test lacks $p" ;; esac
done
# make fuzz: the build's packages and clang with libFuzzer, not the tests'.
fuzzl=$(list deps-fuzz)
for p in cmake libyaml-dev clang-14 libclang-rt-14-dev; do
    case " $fuzzl " in *" $p "*) ok "make deps-fuzz installs $p" ;;
    *) bad "make deps-fuzz lacks $p" ;; esac
done
case " $fuzzl " in *" libcmocka-dev "*) bad "make deps-fuzz installs the test toolchain" ;;
*) ok "make deps-fuzz leaves out the test toolchain" ;; esac
make -n -C "$RB_SOURCE_DIR" fuzz FUZZ_BUILD="$tmp/f" 2>/dev/null | grep -q " clang-14" &&
    ok "make fuzz installs clang-14 first" || bad "make fuzz does not install clang-14"
# make coverage: gcovr on top of the tests' packages; never in make deps.
covl=$(list deps-coverage)
case " $covl " in *" gcovr "*) ok "make deps-coverage installs gcovr" ;; *) bad "make deps-coverage lacks gcovr" ;; esac
case " $build " in *" gcovr "*) bad "make deps installs gcovr (coverage only)" ;; *) ok "make deps leaves out gcovr" ;; esac
make -n -C "$RB_SOURCE_DIR" coverage COV_BUILD="$tmp/c" 2>/dev/null | grep -q " gcovr" &&
    ok "make coverage installs gcovr first" || bad "make coverage does not install gcovr"
# make bench and make compare: the tools the benchmarks measure against
# (tests/bench/README.md), Ansible for the comparison first of all.
benchl=$(list deps-bench)
for p in cmake ansible-core jq openssh-server wrk nginx-light sqlite3 strace; do
    case " $benchl " in *" $p "*) ok "make deps-bench installs $p" ;;
    *) bad "make deps-bench lacks $p" ;; esac
done
case " $build " in *" ansible-core "*) bad "make deps installs ansible-core, which only the benchmarks need" ;;
*) ok "make deps leaves out ansible-core (benchmarks only)" ;; esac
for t in bench compare; do
    make -n -C "$RB_SOURCE_DIR" "$t" BUILD="$tmp/b" 2>/dev/null | grep -q " ansible-core" &&
        ok "make $t installs ansible-core first" || bad "make $t does not install ansible-core"
done
demo=$(list deps-demo)
case " $demo " in *" curl "*) ok "make deps-demo installs curl" ;; *) bad "make deps-demo lacks curl" ;; esac
# Which list each target installs before it builds.
for t in install package build; do
    make -n -C "$RB_SOURCE_DIR" "$t" BUILD="$tmp/b" 2>/dev/null | grep -q 'libcmocka-dev' &&
        bad "make $t installs the test toolchain" || ok "make $t installs the build's packages only"
done
for t in test check demo; do
    want=libcmocka-dev
    [ "$t" = demo ] && want=curl
    make -n -C "$RB_SOURCE_DIR" "$t" BUILD="$tmp/b" ASAN_BUILD="$tmp/a" FUZZ_BUILD="$tmp/f" 2>/dev/null | grep -q " $want" &&
        ok "make $t installs $want first" || bad "make $t does not install $want"
done
summary
