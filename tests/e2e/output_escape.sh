#!/bin/sh
# What a command prints (or an alert label carries) reaches the operator's
# terminal cleaned: live progress, `show` and a drill's `would run:` lines
# show ESC, the other controls and the Unicode bidirectional controls
# (U+202E …) as '?', and cut a long line as show does; a failed step's
# stderr in live progress is "stderr | …" like show's. An ssh step's
# `timeout: 0s` is refused at validate with file:line:col.
# Env: RUNBOOK (the binary).
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
esc=$(printf '\033')
rlo=$(printf '\342\200\256') # U+202E RIGHT-TO-LEFT OVERRIDE
alm=$(printf '\330\234')     # U+061C ARABIC LETTER MARK
clean() { # FILE WHAT: no ESC, no U+202E, no U+061C in FILE
    if grep -q "$esc" "$1" || grep -q "$rlo" "$1" || grep -q "$alm" "$1"; then
        bad "$2 prints a control raw:"; cat -v "$1" | head -20 | cut -c1-200
    else ok; fi
}

cat >rb.yaml <<'YAML'
apiVersion: runbook/v1
name: escapes
params:
  p: { default: "a\u202Eb\e[2Jc\u061Cd" }
steps:
  - { name: esc, run: [sh, -c, "printf 'E\\033[2J\\n' >&2; exit 3"], on_failure: continue }
  - { name: bidi, run: [sh, -c, "printf 'R\\342\\200\\256L\\330\\234M\\n' >&2; exit 3"], on_failure: continue }
  - { name: long, run: [sh, -c, "head -c 100000 /dev/zero | tr '\\000' x >&2; exit 3"], on_failure: continue }
  - { name: arg, run: [echo, "{{ params.p }}"] }
YAML

"$RUNBOOK" run --db j.db rb.yaml >run.out 2>run.err
rc=$?
[ $rc -eq 0 ] && ok || { bad "run exit $rc"; head -20 run.err; }
clean run.err "live progress"
grep -q "stderr | E?\[2J" run.err && ok || { bad "live progress does not show the stderr cleaned"; cat -v run.err | head -20; }
grep -q "stderr | R?L?M" run.err && ok || { bad "live progress does not show bidi controls as ?"; cat -v run.err | head -20; }
longest=$(awk '{ if (length > m) m = length } END { print m }' run.err)
[ "$longest" -le 300 ] && ok || bad "live progress prints a $longest-byte line (show cuts at 160)"
"$RUNBOOK" show --db j.db 1 >show.out 2>&1 && ok || bad "show failed"
clean show.out "show"
grep -q "stderr | R?L?M" show.out && ok || { bad "show does not show bidi controls as ?"; cat -v show.out; }
grep -q 'params .*a?b' show.out && ok || { bad "show's params line is not cleaned"; cat -v show.out | head -5; }
grep -q "echo 'a?b?\[2Jc?d'" show.out && ok || { bad "show's command line is not cleaned"; cat -v show.out; }
"$RUNBOOK" run --dry-run --db j.db rb.yaml >dry.out 2>&1
clean dry.out "a drill"
grep -q "would run: \$ echo 'a?b?\[2Jc?d'" dry.out && ok || { bad "would run: is not cleaned"; cat -v dry.out; }

# An ssh step's timeout of 0s is refused before anything runs (no sshd needed).
cat >ssh0.yaml <<'YAML'
apiVersion: runbook/v1
name: ssh-zero
steps:
  - name: s
    action: ssh
    with: { host: example.invalid, argv: [true], timeout: 0s }
YAML
"$RUNBOOK" validate ssh0.yaml >val.out 2>&1
rc=$?
[ $rc -eq 2 ] && ok || bad "validate of ssh timeout: 0s: exit $rc, want 2"
grep -q "ssh0.yaml:6:.*timeout must be more than 0s" val.out && ok || { bad "ssh timeout: 0s is not refused at its key"; cat val.out; }

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
