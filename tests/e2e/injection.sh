#!/bin/sh
# Alert labels are data, never commands: hostile label values reach the
# programs of the argv form and the shell form (run: bare and inside the
# author's own "…" and '…', and exec's shell:) as the exact bytes that were
# sent, and create nothing. A NUL byte is refused with a clear
# error before anything runs.
# Env: RUNBOOK (the binary), RB_SOURCE_DIR (the repository).
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

cat >rb.yaml <<'YAML'
apiVersion: runbook/v1
name: injection
params:
  instance: { default: "{{ alert.labels.instance }}", required: true }
steps:
  - { name: argv, run: [sh, -c, 'printf %s "$1" > argv.out', x, "{{ params.instance }}"] }
  - { name: shell, run: "printf %s {{ params.instance }} > shell.out" }
  - { name: quoted, run: "printf '%s' \"{{ alert.labels.instance }}\" > quoted.out" }
  - name: exec-shell
    action: exec
    with: { shell: "printf %s {{ params.instance }} > exec_shell.out" }
  - { name: single, run: "printf '%s' '{{ alert.labels.instance }}' > single.out" }
  - { name: mixed, run: "printf '%s' \"<{{ alert.labels.instance }}>\"'<{{ alert.labels.instance }}>' > mixed.out" }
YAML

# Each value: the JSON string as the webhook would carry it, and the bytes
# it stands for (printf format).
check() {
    json=$1 want_fmt=$2
    rm -f ./*.out PWN* j.db
    printf '{"status":"firing","labels":{"alertname":"NodeDown","instance":"%s"}}' "$json" >alert.json
    "$RUNBOOK" run --quiet --db j.db --alert alert.json rb.yaml >run.log 2>&1
    rc=$?
    if [ $rc -ne 0 ]; then bad "label $json: run exit $rc"; cat run.log; return; fi
    printf "$want_fmt" >want
    for f in argv.out shell.out quoted.out single.out exec_shell.out; do
        if cmp -s want "$f"; then ok; else bad "label $json: $f differs: $(od -c "$f" | head -3)"; fi
    done
    printf "<$want_fmt><$want_fmt>" >want
    if cmp -s want mixed.out; then ok; else bad "label $json: mixed.out differs: $(od -c mixed.out | head -3)"; fi
    if ls PWN* >/dev/null 2>&1; then bad "label $json: a command ran ($(ls PWN*))"; else ok; fi
}

check '$(touch PWN1)' '$(touch PWN1)'
check '`touch PWN2`' '`touch PWN2`'
check '; touch PWN3; echo' '; touch PWN3; echo'
check "a'b\\\"c" "a'b\"c"
check 'line1\ntouch PWN4' 'line1\ntouch PWN4'
check '$((1+1)) ${HOME} \\\\ * ?' '$((1+1)) ${HOME} \\\\ * ?'
check "'; touch PWN5; '" "'; touch PWN5; '"

# NUL: refused at the door with a clear error, nothing runs.
rm -f ./*.out j.db
printf '{"labels":{"instance":"a\\u0000b; touch PWN6"}}' >alert.json
"$RUNBOOK" run --quiet --db j.db --alert alert.json rb.yaml >run.log 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q 'u0000' run.log && ! ls ./*.out PWN* >/dev/null 2>&1; then ok; else
    bad "NUL label: exit $rc, $(cat run.log)"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
