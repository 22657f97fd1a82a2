#!/bin/sh
# genman.sh — writes runbook's man pages from the sources of its --help and
# docs/, so that the pages cannot say something the program does not.
#
#   genman.sh RUNBOOK SRCDIR OUTDIR
#
#   OUTDIR/man1/runbook.1         `runbook --help` (help2man), with the
#                                 ENVIRONMENT and FILES of runbook.h2m
#   OUTDIR/man1/runbook-CMD.1     `runbook CMD --help` for every COMMAND that
#                                 `runbook --help` lists (and the --help of
#                                 each sub-action it names, `audit verify`),
#                                 then the section "## runbook CMD" of
#                                 docs/cli.md, when it has one, as DETAILS
#   OUTDIR/man5/runbook-format.5  docs/authoring.md and docs/expressions.md
#                                 (lowdown), under a NAME of its own
#   OUTDIR/gz/…                   the same, gzip'd: what is installed
#
# A new command needs nothing here: it is listed by `runbook --help`, so it
# gets a page, and a "## runbook NEW" section in docs/cli.md is added to it.
# The help text is normalized only in form (help2man's "Usage:" and
# "Exit status:" headings), never in words. Pages are reproducible: the date
# is SOURCE_DATE_EPOCH when set, else the last commit's, else fixed.
#
#   genman.sh --help-of RUNBOOK [CMD]   the normalized help (help2man's input)
#
# Owns: OUTDIR (emptied and rewritten). Must never: run a command other than
# --help, or read the user's environment into a page (RUNBOOK_* are unset).
set -eu
unset RUNBOOK_DB RUNBOOK_PLUGINS RUNBOOK_JOURNAL_SYNC RUNBOOK_NO_LIVE RUNBOOK_SIGNING_KEY NO_COLOR
export LC_ALL=C.UTF-8

# Prints `runbook CMD --help` (CMD may be empty) in help2man's form: "usage:"
# becomes "Usage:", a second synopsis line "or:", "exit codes: …" an
# "Exit status:" block, and an option so long that one space is left before
# its text (at the column the other descriptions start) gets two, which is
# what tells help2man where the option ends.
normalize() {
    awk '
    { line[NR] = $0 }
    /^        +[^ -]/ { match($0, /^ +/); ind[RLENGTH]++ }
    END {
        for (c in ind) if (ind[c] > best) { best = ind[c]; col = c + 0 }
        for (i = 1; i <= NR; i++) {
            $0 = line[i]
            if (col && /^ +-/ && substr($0, col, 1) == " " && substr($0, col - 1, 1) != " " &&
                substr($0, col + 1, 1) ~ /[^ ]/)
                $0 = substr($0, 1, col) " " substr($0, col + 1)
            if (i == 1) sub(/^usage:/, "Usage:")
            if (i > 1 && syn && /^       +runbook /) { sub(/^ +/, "   or: "); print; continue } # syn stays
            syn = (i == 1)
            if (/^(exit codes|Exit status): *$/) { print "Exit status:"; ex = 2; continue }
            if (/^(exit codes|Exit status): /) {
                sub(/^(exit codes|Exit status): +/, ""); print "Exit status:"; print "  " $0; ex = 1; continue
            }
            if (ex == 2 && /^ +[0-9]+ /) { sub(/^ +/, ""); sub(/ /, "    "); print "  " $0; continue }
            if (ex == 1 && /^[^ ]/) { print "  " $0; continue } # the sentence goes on
            if (ex && /^ +[^ ]/) { sub(/^ +/, "  "); print; continue }
            ex = 0
            print
        }
    }'
}

# here: what a run-time value is where the help was printed ("--db FILE
# the journal (…; here: ./runbook.db)") is not for a page: it goes.
runtime() { sed -E 's/; here: [^)]*\)/)/'; }

help_of() {
    rb=$1 cmd=${2:-}
    if [ -z "$cmd" ]; then
        "$rb" --help | runtime | normalize
        return
    fi
    "$rb" "$cmd" --help | runtime >"$tmp_help"
    normalize <"$tmp_help"
    # Sub-actions the help names as "(runbook CMD SUB --help)".
    for sub in $(sed -n "s/.*(runbook $cmd \([a-z][a-z0-9-]*\) --help).*/\1/p" "$tmp_help"); do
        echo
        echo "runbook $cmd $sub:"
        "$rb" "$cmd" "$sub" --help | runtime | normalize | sed "1s/^Usage: /  usage: /"
    done
}

if [ "${1:-}" = "--help-of" ]; then
    tmp_help=$(mktemp)
    trap 'rm -f "$tmp_help"' EXIT
    help_of "$2" "${3:-}"
    exit 0
fi

[ $# -eq 3 ] || { echo "usage: genman.sh RUNBOOK SRCDIR OUTDIR" >&2; exit 2; }
rb=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
src=$(cd "$2" && pwd)
out=$3
self=$src/packaging/man/genman.sh
for tool in help2man lowdown; do
    command -v $tool >/dev/null 2>&1 ||
        { echo "genman.sh: $tool is missing (make deps installs it)" >&2; exit 1; }
done
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git -C "$src" log -1 --format=%ct 2>/dev/null || echo 1764547200)
fi
export SOURCE_DATE_EPOCH
date=$(date -u -d "@$SOURCE_DATE_EPOCH" '+%B %Y')
version=$("$rb" --version | sed -n '1s/^runbook //p')

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf "$out/man1" "$out/man5" "$out/gz"
mkdir -p "$out/man1" "$out/man5" "$tmp/bin"

# The commands and their one-line summaries, as `runbook --help` lists them.
"$rb" --help | awk '/^commands:/ { f = 1; next } f && /^$/ { exit }
    f { name = $1; sub(/^ *[^ ]+ +/, ""); print name "\t" $0 }' >"$tmp/commands"
[ -s "$tmp/commands" ] || { echo "genman.sh: no commands in runbook --help" >&2; exit 1; }

# Markdown to man(7) body text, escaped for a help2man include file (a line
# that is "[x]" or "/x/" there would be taken for a section or a pattern).
# A table's last column takes the width that is left (tbl's x).
md2roff() {
    lowdown -Tman --nroff-nolinks |
        sed -E -e '/^\.TS/,/\.$/ { s/ expand allbox;/ allbox;/; s/^(l( l)*) l\.$/\1 lx./; }' \
            -e 's/^([[/])/\\\&\1/'
}

see_also() { # the pages of every command but $1 (\% keeps a name whole)
    printf '[SEE ALSO]\n'
    { echo "runbook 1"; cut -f1 "$tmp/commands" | sed 's/^/runbook-/; s/$/ 1/'; echo "runbook-format 5"; } |
        grep -v "^$1 " | awk '{ printf "%s\\fB\\%%%s\\fR(%s)", (NR > 1 ? ",\n" : ""), $1, $2 } END { print "" }'
    printf '.PP\nThe full documentation is in %s.\n' '\fI\%/usr/share/doc/runbook/\fR'
}

# help2man names a page after its program: a wrapper per command.
page() { # NAME SUMMARY CMD INCLUDE...
    name=$1 summary=$2 cmd=$3
    shift 3
    printf '#!/bin/sh\nexec sh "%s" --help-of "%s" %s\n' "$self" "$rb" "$cmd" >"$tmp/bin/$name"
    chmod +x "$tmp/bin/$name"
    incs=""
    for i in "$@"; do incs="$incs --include=$i"; done
    # shellcheck disable=SC2086
    help2man --no-info --locale=C.UTF-8 --section=1 --manual="User Commands" --source="runbook $version" \
        --version-string="$version" --name="$summary" $incs \
        --output="$out/man1/$name.1" "$tmp/bin/$name"
}

while IFS="$(printf '\t')" read -r cmd summary; do
    inc="$tmp/$cmd.h2m"
    see_also "runbook-$cmd" >"$inc"
    awk -v h="## runbook $cmd" 'index($0, h) == 1 && (length($0) == length(h) || substr($0, length(h) + 1, 1) == " ") { f = 1; next }
        f && /^## / { exit } f' "$src/docs/cli.md" >"$tmp/$cmd.md"
    if [ -s "$tmp/$cmd.md" ]; then
        { printf '[DETAILS]\n'; md2roff <"$tmp/$cmd.md"; } >>"$inc"
    fi
    page "runbook-$cmd" "$summary" "$cmd" "$inc"
done <"$tmp/commands"

see_also runbook >"$tmp/runbook.h2m"
page runbook "a declarative runbook engine: detect, grade and recover from failures" "" \
    "$src/packaging/man/runbook.h2m" "$tmp/runbook.h2m"

# runbook-format(5): the format as docs/ describe it.
{
    printf "'\\\\\" t\n"
    printf '.TH RUNBOOK-FORMAT 5 "%s" "runbook %s" "File Formats"\n' "$date" "$version"
    printf '.SH NAME\nrunbook-format \\- the runbook file format: YAML that detects, grades and recovers\n'
    printf '.SH SYNOPSIS\n.nf\napiVersion: runbook/v1\nname: NAME\nsteps:\n  \\- name: STEP\n    run: [COMMAND, ARG...]\n.fi\n'
    sed '1s/^# .*/# DESCRIPTION/' "$src/docs/authoring.md" | md2roff
    sed '1s/^# .*/# EXPRESSIONS AND TEMPLATES/' "$src/docs/expressions.md" | md2roff
    printf '.SH FILES\n%s\n' '\fI/usr/share/runbook/schemas/runbook.schema.json\fR, the JSON Schema of the format for editors; \fI/usr/share/runbook/runbooks/\fR, examples.'
    see_also runbook-format | sed '1s/.*/.SH "SEE ALSO"/'
} | sed -e 's/^\\&\([[/]\)/\1/' >"$out/man5/runbook-format.5"

# What is installed: the same pages compressed, as Debian's policy asks
# (gzip -n: no name or time inside, so the same bytes every time).
rm -rf "$out/gz"
mkdir -p "$out/gz/man1" "$out/gz/man5"
for f in "$out"/man1/*.1 "$out"/man5/*.5; do
    gzip -9n <"$f" >"$out/gz/${f#"$out"/}.gz"
done
