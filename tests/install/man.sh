#!/bin/sh
# man.sh — the man pages say what the program and docs/ say (they are
# generated from them at build time by packaging/man/genman.sh; this checks
# that nothing was lost or left stale on the way):
#   - every command `runbook --help` lists has runbook-CMD(1), and every
#     line of `runbook CMD --help` (and of its sub-actions' help) is in it,
#     with the command's section of docs/cli.md;
#   - runbook(1) has every command and every exit code; every environment
#     variable the engine reads is in its ENVIRONMENT or a command's page;
#   - runbook-format(5) has every key of docs/authoring.md's key tables and
#     every heading of authoring.md and expressions.md;
#   - generating again gives the same pages (the build's are not stale);
#   - a command the program gains gets its page with no change to the
#     generator (a stand-in binary that lists one more command).
# Env: RUNBOOK (the built binary), RB_SOURCE_DIR, RB_BUILD_DIR.
. "$RB_SOURCE_DIR/tests/install/lib.sh"
: "${RUNBOOK:?RUNBOOK must name the runbook binary}"
export LC_ALL=C.UTF-8
man=$RB_BUILD_DIR/man
gen=$RB_SOURCE_DIR/packaging/man/genman.sh

for tool in help2man lowdown groff; do
    command -v $tool >/dev/null 2>&1 || bad "$tool is missing (make deps installs it)"
done
[ -d "$man/man1" ] || { bad "no man pages in $man (was the build made without help2man?)"; summary; exit 1; }

# text PAGE: the page as one line of words, for substring checks.
text() {
    groff -k -t -man -Tutf8 -rLL=5000n -rHY=0 -P-cbou "$1" 2>/dev/null |
        sed -e 's/‐/-/g; s/−/-/g; s/’/'"'"'/g; s/‘/'"'"'/g; s/[“”]/"/g' | tr -s ' \n\t' '   '
}
# words: stdin as one line of words.
words() { tr -s ' \n\t' '   ' | sed 's/^ //; s/ $//'; }

# contains PAGE_TEXT_FILE LINE: the page holds the line's words, as a run.
# A heading ("Options:") may have become a section (OPTIONS).
contains() {
    grep -qF -- "$2" "$1" && return 0
    case $2 in
    [A-Za-z]*:) h=$(printf '%s' "${2%:}" | tr '[:lower:]' '[:upper:]'); grep -qF -- " $h " "$1" ;;
    *) return 1 ;;
    esac
}

# check_help PAGE HELP_FILE WHAT: every line of the help is in the page.
# Only the form help2man gives changes: "usage:"/"exit codes:" headings and
# the synopsis's "or:"; and a run-time value ("; here: ./runbook.db") goes.
check_help() {
    missing=0
    while IFS= read -r line; do
        l=$(printf '%s\n' "$line" | sed -E 's/^ *(usage|Usage|exit codes|Exit status):? *//; s/; here: [^)]*\)/)/' | words)
        [ -n "$l" ] || continue
        if ! contains "$1" "$l"; then
            missing=$((missing + 1))
            [ $missing -le 3 ] && echo "    | not in the page: $l"
        fi
    done <"$2"
    if [ $missing -eq 0 ]; then ok "$3"; else bad "$3: $missing lines of --help are not in the page"; fi
}

"$RUNBOOK" --help >"$tmp/help"
awk '/^commands:/ { f = 1; next } f && /^$/ { exit } f { print $1 }' "$tmp/help" >"$tmp/commands"
[ -s "$tmp/commands" ] || bad "runbook --help lists no commands"

text "$man/man1/runbook.1" >"$tmp/runbook.txt"
check_help "$tmp/runbook.txt" "$tmp/help" "runbook(1) holds all of runbook --help"
for n in 0 1 2 3 4 5; do
    grep -q "^  $n " "$tmp/help" || bad "runbook --help does not list exit code $n"
done
# Every variable the engine reads is described: in runbook(1)'s ENVIRONMENT
# (packaging/man/runbook.h2m), or by the --help of a command that reads it.
for f in "$man"/man1/*.1; do text "$f"; done >"$tmp/all.txt"
for v in $(grep -rhoE 'getenv\("(RUNBOOK_[A-Z_]+|NO_COLOR)"\)' "$RB_SOURCE_DIR/engine" "$RB_SOURCE_DIR/actions" |
    sed 's/getenv("\(.*\)")/\1/' | sort -u); do
    if grep -qE -- "[ \$(]$v[ ;,)]" "$tmp/all.txt"; then
        ok "the man pages describe \$$v"
    else
        bad "no man page describes \$$v, which the engine reads (packaging/man/runbook.h2m, or --help)"
    fi
done

while read -r cmd; do
    page=$man/man1/runbook-$cmd.1
    if [ ! -f "$page" ]; then
        bad "runbook-$cmd(1) is missing"
        continue
    fi
    text "$page" >"$tmp/page.txt"
    "$RUNBOOK" "$cmd" --help >"$tmp/cmd.help" 2>&1
    check_help "$tmp/page.txt" "$tmp/cmd.help" "runbook-$cmd(1) holds all of runbook $cmd --help"
    for sub in $(sed -n "s/.*(runbook $cmd \([a-z][a-z0-9-]*\) --help).*/\1/p" "$tmp/cmd.help"); do
        "$RUNBOOK" "$cmd" "$sub" --help >"$tmp/sub.help" 2>&1
        check_help "$tmp/page.txt" "$tmp/sub.help" "runbook-$cmd(1) holds all of runbook $cmd $sub --help"
    done
    summary_line=$(awk -v c="$cmd" '$1 == c { sub(/^ *[^ ]+ +/, ""); print; exit }' "$tmp/help" |
        sed 's/ *$//' | words)
    if contains "$tmp/page.txt" "runbook-$cmd - $summary_line"; then
        ok "runbook-$cmd(1): NAME is the summary of runbook --help"
    else
        bad "runbook-$cmd(1): NAME is not \"$summary_line\""
    fi
    contains "$tmp/runbook.txt" "runbook-$cmd(1)" || bad "runbook(1) SEE ALSO lacks runbook-$cmd(1)"
    # The section of docs/cli.md, when there is one: its first paragraph.
    first=$(awk -v h="## runbook $cmd" 'index($0, h) == 1 && (length($0) == length(h) || substr($0, length(h) + 1, 1) == " ") { f = 1; next }
        f && /^$/ && seen { exit } f && /^[A-Za-z]/ { seen = 1; print }' "$RB_SOURCE_DIR/docs/cli.md" |
        sed -e 's/`//g; s/\*\*//g; s/\[\([^]]*\)\]([^)]*)/\1/g; s/—/-/g' | words | cut -c1-60)
    if [ -n "$first" ]; then
        if sed 's/—/-/g' "$tmp/page.txt" | grep -qF -- "$first"; then
            ok "runbook-$cmd(1) DETAILS: docs/cli.md's section"
        else
            bad "runbook-$cmd(1) lacks docs/cli.md's section (\"$first\")"
        fi
    fi
done <"$tmp/commands"

# runbook-format(5) from docs/authoring.md and docs/expressions.md.
text "$man/man5/runbook-format.5" >"$tmp/format.txt"
contains "$tmp/format.txt" "runbook-format - " && ok "runbook-format(5) has a NAME" ||
    bad "runbook-format(5) has no NAME line"
nkeys=0
missing=0
for key in $(awk -F'|' '/^\| *`[a-zA-Z_]+/ { print $2 }' "$RB_SOURCE_DIR/docs/authoring.md" |
    grep -oE '`[a-zA-Z_]+' | tr -d '`' | sort -u); do
    nkeys=$((nkeys + 1))
    grep -qE -- "(^|[^a-zA-Z_])$key([^a-zA-Z_]|\$)" "$tmp/format.txt" ||
        { missing=$((missing + 1)); echo "    | key not in runbook-format(5): $key"; }
done
if [ $nkeys -gt 20 ] && [ $missing -eq 0 ]; then
    ok "runbook-format(5) has all $nkeys keys of docs/authoring.md"
else
    bad "runbook-format(5): $missing of $nkeys keys missing"
fi
missing=0
for f in authoring expressions; do
    sed -n 's/^##* //p' "$RB_SOURCE_DIR/docs/$f.md" | sed -e 's/`//g' | sed 1d >"$tmp/heads"
    while IFS= read -r h; do
        h=$(printf '%s\n' "$h" | words)
        contains "$tmp/format.txt" "$h" || { missing=$((missing + 1)); echo "    | heading of $f.md not in runbook-format(5): $h"; }
    done <"$tmp/heads"
done
if [ $missing -eq 0 ]; then ok "runbook-format(5) has every heading of authoring.md and expressions.md"; else
    bad "runbook-format(5) lacks $missing headings"; fi

# Generated again from the same binary and sources: the same pages, but
# for the date.
if sh "$gen" "$RUNBOOK" "$RB_SOURCE_DIR" "$tmp/again" >"$tmp/out" 2>&1; then
    stale=0
    for f in "$man"/man1/*.1 "$man"/man5/*.5; do
        g=$tmp/again/${f#"$man"/}
        grep -v '^\.TH' "$f" >"$tmp/a"
        if [ -f "$g" ] && grep -v '^\.TH' "$g" | cmp -s - "$tmp/a"; then :; else
            stale=$((stale + 1))
            echo "    | stale: ${f#"$man"/}"
        fi
    done
    n_built=$(ls "$man"/man1 "$man"/man5 | grep -c '\.[15]$')
    n_again=$(ls "$tmp/again/man1" "$tmp/again/man5" | grep -c '\.[15]$')
    if [ $stale -eq 0 ] && [ "$n_built" = "$n_again" ]; then
        ok "the build's $n_built pages are what the binary and docs/ give now"
    else
        bad "the build's pages are stale ($stale differ; $n_built built, $n_again now): rebuild"
    fi
else
    bad "genman.sh failed"
    sed 's/^/    | /' "$tmp/out"
fi

# docs/cli.md has a section for every command (it is the page's DETAILS).
while read -r c; do
    grep -q "^## runbook $c\( \|\$\)" "$RB_SOURCE_DIR/docs/cli.md" && ok "docs/cli.md has a section for $c" ||
        bad "docs/cli.md has no \"## runbook $c\" section (runbook-$c(1) has no DETAILS)"
done <"$tmp/commands"

# As read: no run-time value frozen in a page; a name in SEE ALSO stays whole
# on a narrow terminal; an exit status that --help wraps is one paragraph.
if grep -l 'here: ' "$man"/man1/*.1 >"$tmp/here"; then
    bad "pages hold a run-time value (here: …): $(tr '\n' ' ' <"$tmp/here")"
else
    ok "no page holds a run-time value (here: …)"
fi
broken=0
for f in "$man"/man1/*.1; do
    MANWIDTH=60 man -l "$f" 2>/dev/null | sed -n '/^SEE ALSO/,/^[A-Z]/p' | grep -q -- '‐$' && broken=$((broken + 1))
done
[ $broken -eq 0 ] && ok "SEE ALSO keeps every page name whole at 60 columns" ||
    bad "$broken pages break a name in SEE ALSO at 60 columns"
for c in audit journal; do
    [ -f "$man/man1/runbook-$c.1" ] || continue
    gaps=$(MANWIDTH=80 man -l "$man/man1/runbook-$c.1" 2>/dev/null |
        awk '/Exit status:/ { f = 1; next } f && /^$/ { n++ } f && /journal cannot be/ { print n + 0; exit }')
    [ "$gaps" = 0 ] && ok "runbook-$c(1): its exit status is one paragraph" ||
        bad "runbook-$c(1): its exit status is split (${gaps:-?} blank lines)"
done

# What is installed is these pages, compressed.
gz_bad=0
for f in "$man"/man1/*.1 "$man"/man5/*.5; do
    gzip -dc "$man/gz/${f#"$man"/}.gz" 2>/dev/null | cmp -s - "$f" || gz_bad=$((gz_bad + 1))
done
[ $gz_bad -eq 0 ] && ok "the compressed pages (installed) are these pages" ||
    bad "$gz_bad compressed pages differ from the pages"

# A new command: a stand-in binary that lists one more, with its own help.
new_command "$tmp/runbook" 'usage: runbook frobnicate [--level N] THING\n\nFrobnicates THING.\n\n  --level N   how much (default 1)\n  -h, --help  this text\n\nexit codes: 0 done, 2 bad usage.\n'
if sh "$gen" "$tmp/runbook" "$RB_SOURCE_DIR" "$tmp/new" >"$tmp/out" 2>&1 &&
    [ -f "$tmp/new/man1/runbook-frobnicate.1" ]; then
    text "$tmp/new/man1/runbook-frobnicate.1" >"$tmp/frob.txt"
    if contains "$tmp/frob.txt" "runbook-frobnicate - frobnicate a thing" &&
        contains "$tmp/frob.txt" "--level N" && contains "$tmp/frob.txt" "Frobnicates THING." &&
        contains "$tmp/frob.txt" "0 done, 2 bad usage."; then
        ok "a new command gets its page with no change to the generator"
    else
        bad "the new command's page lacks its help"
        head -c 600 "$tmp/frob.txt"
    fi
    text "$tmp/new/man1/runbook.1" | grep -qF "runbook-frobnicate(1)" &&
        ok "runbook(1) names the new command's page" || bad "runbook(1) does not name runbook-frobnicate(1)"
else
    bad "no page for a new command"
    sed 's/^/    | /' "$tmp/out"
fi

summary
