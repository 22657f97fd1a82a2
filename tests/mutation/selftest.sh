#!/bin/sh
# mutate.py check fails on a rotten mutant list: text no longer in its file,
# text there twice, a missing file, no lose: line, a patch that no longer
# applies, a shape it cannot read; and passes a good one. (ctest
# mutation.selftest; mutation.list checks the real list.)
# Env: RB_SOURCE_DIR (the repository).
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; sed 's/^/    | /' out.log | head -6; }
check() { python3 "$RB_SOURCE_DIR/tests/mutation/mutate.py" check --top top --list list.txt >out.log 2>&1; }

mkdir -p top/src patches
printf 'int f(int a)\n{\n    return a >= 3;\n}\nint g(void) { return 0; }\nint h(void) { return 0; }\n' >top/src/f.c
cp top/src/f.c f.orig
sed 's/a >= 3/a > 3/' f.orig >f.new
mkdir -p a/src b/src && cp f.orig a/src/f.c && cp f.new b/src/f.c
diff -u a/src/f.c b/src/f.c >patches/ok.diff

# want RC DESCRIPTION [PATTERN]: check's exit code, and what it says.
want() {
    check
    rc=$?
    if [ "$rc" -ne "$1" ]; then bad "$2: exit $rc, want $1"; return; fi
    if [ $# -ge 3 ] && ! grep -q -- "$3" out.log; then bad "$2: no \"$3\""; return; fi
    ok
}

cat >list.txt <<'L'
# a comment
[off-by-one]
file: src/f.c
lose: one too few
-     return a >= 3;
+     return a > 3;

[two-lines]
file: src/f.c
lose: g is h
- int g(void) { return 0; }
- int h(void) { return 0; }
+ int g(void) { return 1; }

[by-patch]
file: src/f.c
lose: the same by a patch
patch: patches/ok.diff
L
want 0 "a good list" "3 mutants, 0 problems"

sed 's/return a >= 3;/return a >= 4;/' f.orig >top/src/f.c
want 1 "text gone from its file" "off-by-one: the - text is in src/f.c 0 times, not once"
grep -q "by-patch: patch patches/ok.diff does not apply" out.log && ok || bad "patch gone stale"
cp f.orig top/src/f.c
printf '    return a >= 3;\n' >>top/src/f.c
want 1 "text there twice" "the - text is in src/f.c 2 times"
cp f.orig top/src/f.c

cp list.txt good.txt
sed 's|file: src/f.c|file: src/gone.c|' good.txt >list.txt
want 1 "a missing file" "file src/gone.c does not exist"
grep -v '^lose:' good.txt >list.txt
want 1 "no lose: line" "no lose: (what a user would lose)"
sed 's/^\[two-lines\]/[off-by-one]/' good.txt >list.txt
want 1 "a name used twice" "the name off-by-one is used twice"
sed 's/^+     return a > 3;/+     return a >= 3;/' good.txt >list.txt
want 1 "a mutant that changes nothing" "it changes nothing"
sed 's/^file: src\/f.c$/fiel: src\/f.c/' good.txt >list.txt
want 1 "a key it does not know" "not a \[name\], a key"
printf '[no-change]\nfile: src/f.c\nlose: x\n' >list.txt
want 1 "neither - lines nor a patch" "neither patch: nor - lines"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
