#!/bin/bash
# The docs are the contract: every rule of docs/semantics.md (**R-…**) and
# every key of docs/authoring.md's "The format, key by key" tables must be
# named by at least one spec in tests/spec/ (# rule: / # key: lines), and
# a spec may not name a rule or key the docs do not have.
# Env: RB_SOURCE_DIR.
set -u
src=${RB_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

grep -o '\*\*R-[a-z0-9-]*\.\*\*' "$src/docs/semantics.md" | sed 's/\*\*//g; s/\.$//' | sort -u >"$tmp/rules"
# Keys: the first column of the tables under "The format, key by key",
# prefixed by their section ("steps.retry.until").
awk '
/^## / { inkeys = ($0 ~ /key by key/) }
!inkeys { next }
/^### / { sub(/^### /, ""); sec = tolower($0); sub(/^top level$/, "", sec); sub(/ .*/, "", sec) }
/^#### / { sub(/^#### /, ""); sub_ = tolower($0); sec = (sub_ == "retry" || sub_ == "verify" || sub_ == "undo" || sub_ == "approval") ? "steps." sub_ : sub_ }
/^\| `/ {
    cell = $0; sub(/^\| /, "", cell); sub(/ \|.*/, "", cell)
    n = split(cell, parts, /[\/,]/)
    for (i = 1; i <= n; i++) {
        k = parts[i]; gsub(/[` ]/, "", k)
        if (k == "") continue
        print (sec == "" ? k : sec "." k)
    }
}' "$src/docs/authoring.md" | sort -u >"$tmp/keys"

cat "$src"/tests/spec/*.yaml | sed -n 's/^# rule: //p' | tr ' ' '\n' | grep . | sort -u >"$tmp/spec_rules"
cat "$src"/tests/spec/*.yaml | sed -n 's/^# key: //p' | tr ' ' '\n' | grep . | sort -u >"$tmp/spec_keys"

fail=0
missing=$(comm -23 "$tmp/rules" "$tmp/spec_rules")
[ -n "$missing" ] && { echo "rules of docs/semantics.md without a spec:"; echo "$missing" | sed 's/^/  /'; fail=1; }
missing=$(comm -23 "$tmp/keys" "$tmp/spec_keys")
[ -n "$missing" ] && { echo "keys of docs/authoring.md without a spec:"; echo "$missing" | sed 's/^/  /'; fail=1; }
stray=$(comm -13 "$tmp/rules" "$tmp/spec_rules")
[ -n "$stray" ] && { echo "specs name rules docs/semantics.md does not have:"; echo "$stray" | sed 's/^/  /'; fail=1; }
stray=$(comm -13 "$tmp/keys" "$tmp/spec_keys")
[ -n "$stray" ] && { echo "specs name keys docs/authoring.md does not have:"; echo "$stray" | sed 's/^/  /'; fail=1; }
echo "$(wc -l <"$tmp/rules") rules, $(wc -l <"$tmp/keys") keys, $(ls "$src"/tests/spec/*.yaml | wc -l) specs"
exit $fail
