#!/bin/sh
# tree.sh — `cmake --install` into a temporary prefix gives a tree a user
# and a module author can use, with nothing taken from the source or build
# folder:
#   - bin/runbook runs (--version says the version, journal schema and
#     action ABI) and validates the shipped runbooks in share/runbook/;
#   - the headers, the JSON Schema, docs, man pages and completion are there;
#   - the example action module (share/doc/runbook/examples/plugin/hello.c)
#     builds out of tree with `pkg-config --cflags runbook-plugin` alone,
#     loads with --plugins and runs; the .pc says the ABI version the header
#     defines;
#   - a prefix other than /usr gets its defaults in PREFIX/etc/runbook.
. "$RB_SOURCE_DIR/tests/install/lib.sh"
: "${CMAKE_COMMAND:=cmake}"

p=$tmp/prefix
run "$CMAKE_COMMAND" --install "$RB_BUILD_DIR" --prefix "$p"
expect 0 "" "cmake --install --prefix $p"

rb=$p/bin/runbook
for f in bin/runbook include/runbook/action.h include/runbook/runbook.h \
    lib/pkgconfig/runbook-plugin.pc lib/runbook/plugins lib/runbook/demo-target share/runbook/schemas/runbook.schema.json \
    share/runbook/runbooks/node-crash.yaml share/runbook/runbooks/demo/scripts/health.sh \
    share/doc/runbook/README.md share/doc/runbook/docs/cli.md \
    share/doc/runbook/examples/plugin/hello.c share/man/man1/runbook.1.gz \
    share/man/man1/runbook-run.1.gz share/man/man5/runbook-format.5.gz \
    share/bash-completion/completions/runbook etc/runbook/server.yaml etc/runbook/runbooks; do
    has "$p/$f" "installed: $f"
done
# The installed docs' links to ../ (the source tree's files) lead to the
# installed copies; tests/ alone is not installed.
for d in "$p"/share/doc/runbook/docs/*.md; do
    for l in $(grep -o '](\.\./[^)#]*' "$d" | sed 's/^](//'); do
        case $l in ../tests/*) continue ;; esac
        if [ -e "$(dirname "$d")/$l" ]; then ok "$(basename "$d") links $l"; else
            bad "installed $(basename "$d") links $l, which is not there"; fi
    done
done
if [ -x "$p/share/runbook/runbooks/demo/scripts/health.sh" ]; then
    ok "a shipped script stays executable"
else
    bad "share/runbook/runbooks/demo/scripts/health.sh is not executable"
fi
if [ -e "$p/share/runbook/runbooks/demo/demo_target.c" ]; then
    bad "the demo's C source is installed"
else
    ok "the demo's C source is not installed"
fi

abi=$(sed -n 's/^#define RB_ACTION_ABI_VERSION \([0-9]*\)$/\1/p' "$RB_SOURCE_DIR/include/runbook/action.h")
ver=$(sed -n 's/^#define RB_VERSION "\(.*\)"$/\1/p' "$RB_SOURCE_DIR/include/runbook/runbook.h")
schema=$(sed -n 's/^PRAGMA user_version = \([0-9]*\);$/\1/p' "$RB_SOURCE_DIR/schemas/journal.sql")
run "$rb" --version
expect 0 "runbook $ver" "installed runbook --version: the version"
expect 0 "journal schema $schema" "--version: the journal schema of schemas/journal.sql"
expect 0 "action ABI $abi" "--version: the action ABI of action.h"

# From elsewhere: nothing may come from the source or build folder.
cd "$tmp" || exit 1
run "$rb" validate "$p/share/runbook/runbooks"
expect 0 "0 invalid" "the installed runbooks validate from the installed binary"

# man finds the installed pages by their names.
run env MANWIDTH=80 man -M "$p/share/man" -P cat runbook-run
expect 0 "--sync full|normal" "man -M PREFIX/share/man runbook-run"
run env MANWIDTH=80 man -M "$p/share/man" -P cat 5 runbook-format
expect 0 "apiVersion" "man -M PREFIX/share/man 5 runbook-format"

# The SDK: the example module, built the way docs/install.md says.
export PKG_CONFIG_PATH="$p/lib/pkgconfig"
run pkg-config --variable=abi_version runbook-plugin
expect 0 "$abi" "pkg-config: abi_version is the header's"
if [ "$(cat "$tmp/out")" = "$abi" ]; then ok "abi_version is exactly $abi"; else bad "abi_version: $(cat "$tmp/out")"; fi
run pkg-config --variable=plugindir runbook-plugin
if [ "$(cat "$tmp/out")" = "$p/lib/runbook/plugins" ]; then ok "plugindir is plain: $p/lib/runbook/plugins"; else
    bad "plugindir: $(cat "$tmp/out"), want $p/lib/runbook/plugins"; fi
cflags=$(pkg-config --cflags runbook-plugin) || cflags=
case " $cflags " in
*" -I$p/"*) ok "cflags point into the prefix: $cflags" ;;
*) bad "cflags do not point into $p: $cflags" ;;
esac
mkdir -p "$tmp/mods"
# shellcheck disable=SC2086
run cc -shared -fPIC -O2 -Wall -Wextra -Werror $cflags -o "$tmp/mods/hello.so" \
    "$p/share/doc/runbook/examples/plugin/hello.c"
expect 0 "" "the example module builds out of tree with pkg-config --cflags runbook-plugin"
run "$rb" actions --plugins "$tmp/mods" hello
expect 0 "hello" "runbook actions --plugins loads the module built out of tree"
cat >"$tmp/greet.yaml" <<'YAML'
apiVersion: runbook/v1
name: greet
steps:
  - name: greet
    action: hello
    with: { name: installed }
  - name: echo
    action: log
    with: { message: "{{ steps.greet.message }}" }
YAML
run "$rb" run --plugins "$tmp/mods" --db "$tmp/j.db" "$tmp/greet.yaml"
expect 0 "hello, installed" "runbook run uses the out-of-tree module's action"

summary
