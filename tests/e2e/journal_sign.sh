#!/bin/sh
# Signed checkpoints and anchors (docs/journal.md, "Signed checkpoints"):
# `audit key init` makes the pair; with RUNBOOK_SIGNING_KEY each run's end
# signs the chain head; an attacker with write access who rewrites every
# event after some point AND recomputes the whole chain and head (triggers
# dropped, as they can) passes plain `audit verify` but not `--pubkey`, nor
# `--anchor` — both name the first span that changed. Also: a wrong public
# key, a private key others can read, a signature row edited or deleted,
# and verify after `journal prune` (with and without a key, with
# signatures and anchors taken before the prune).
# Env: RUNBOOK (the binary).
set -u
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: no sqlite3 tool"; exit 0; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: no python3"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; sed 's/^/    | /' out.log 2>/dev/null | head -8; }
export TZ=UTC
unset RUNBOOK_SIGNING_KEY RUNBOOK_DB

cat >two.yaml <<'YAML'
apiVersion: runbook/v1
name: two
steps:
  - { name: one, run: [echo, hi] }
  - { name: two, run: [echo, hi] }
YAML
run() { "$RUNBOOK" run --quiet --db j.db two.yaml >/dev/null 2>&1 || bad "runbook run failed"; }
signed_run() { RUNBOOK_SIGNING_KEY=k.key run; }
verify() { "$RUNBOOK" audit verify --db j.db "$@" >out.log 2>&1; }
checkpoint_wal() { sqlite3 j.db 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null; }

# --- the key pair ---------------------------------------------------------------
"$RUNBOOK" audit key --help >out.log 2>&1 && grep -q "audit key init --out PREFIX" out.log && ok ||
    bad "audit key --help"
"$RUNBOOK" audit key init >out.log 2>&1; [ $? -eq 2 ] && grep -q "\-\-out PREFIX is required" out.log &&
    ok || bad "key init without --out"
(umask 0; "$RUNBOOK" audit key init --out k >out.log 2>&1) && ok || bad "key init"
[ "$(stat -c %a k.key) $(stat -c %a k.pub)" = "600 644" ] && ok || bad "key modes: $(stat -c %a k.key k.pub)"
grep -q "BEGIN PRIVATE KEY" k.key && grep -q "BEGIN PUBLIC KEY" k.pub && ok || bad "PEM files"
# libcrypto reads them as Ed25519, the public half matches the private one
if command -v openssl >/dev/null 2>&1; then
    openssl pkey -in k.key -noout -text 2>/dev/null | grep -q "ED25519" && ok || bad "not Ed25519"
    [ "$(openssl pkey -in k.key -pubout 2>/dev/null)" = "$(cat k.pub)" ] && ok || bad "pub != key's"
fi
cp k.key k.key.orig
"$RUNBOOK" audit key init --out k >out.log 2>&1
[ $? -eq 2 ] && grep -q "k.key: already exists" out.log && cmp -s k.key k.key.orig && ok ||
    bad "key init overwrote a key"
"$RUNBOOK" audit key init --out other >/dev/null 2>&1 || bad "second key"

# A private key others can read is refused, and nothing runs.
chmod 640 k.key
RUNBOOK_SIGNING_KEY=k.key "$RUNBOOK" run --quiet --db j.db two.yaml >out.log 2>&1
[ $? -eq 2 ] && grep -q "can be read by others than its owner (mode 0640): refused" out.log &&
    grep -q "nothing was run" out.log && ok || bad "a readable key was used"
[ ! -f j.db ] || [ "$(sqlite3 j.db 'SELECT count(*) FROM runs')" = 0 ] && ok || bad "a run started"
chmod 600 k.key
cp k.pub pub.key && chmod 600 pub.key
RUNBOOK_SIGNING_KEY=pub.key "$RUNBOOK" run --quiet --db j.db two.yaml >out.log 2>&1
[ $? -eq 2 ] && grep -q "not a PEM private key" out.log && ok || bad "a public key signs"

# --- signing at each run's end ------------------------------------------------------
signed_run
signed_run
signed_run
[ "$(sqlite3 j.db 'SELECT count(*) FROM signatures')" = 3 ] && ok || bad "one signature per run"
[ "$(sqlite3 j.db "SELECT count(*) FROM signatures s JOIN events e ON e.id = s.event_id
     WHERE e.type = 'run_finished' AND s.hash = e.hash")" = 3 ] && ok || bad "signatures name run ends"
verify --pubkey k.pub && grep -q "signed       up to event #" out.log &&
    grep -q "unsigned     0 events" out.log && ok || bad "verify --pubkey of a signed journal"
# a run without the key: verified, counted as unsigned
run
verify --pubkey k.pub && grep -q "unsigned     11 events after it.*1 run ended in them unsigned" out.log &&
    ok || bad "unsigned events counted"
signed_run
verify --pubkey k.pub && grep -q "unsigned     0 events" out.log && ok || bad "signed again"
"$RUNBOOK" audit verify --db j.db --pubkey k.pub --format json >out.log 2>&1 &&
    python3 -c 'import json,sys; r=json.load(open("out.log")); s=r["signatures"]
assert r["ok"] and s["total"] == 4 and s["valid"] == 4 and s["unsigned_events"] == 0, s
assert s["last"]["event_id"] == r["head"]["event_id"], s' && ok || bad "json report"
"$RUNBOOK" audit anchor --db j.db >anchor.txt 2>/dev/null && grep -q "^runbook-anchor-v1:55:[0-9a-f]\{64\}:[0-9]*$" anchor.txt &&
    ok || bad "audit anchor: $(cat anchor.txt)"
"$RUNBOOK" audit anchor --db j.db --format json >out.log 2>&1 &&
    python3 -c 'import json; a=json.load(open("out.log")); assert a["event_id"] == 55 and len(a["hash"]) == 64' &&
    ok || bad "audit anchor --format json"
verify --anchor anchor.txt && grep -q "anchor       event #55 .* is there, unchanged" out.log && ok ||
    bad "verify --anchor FILE"
verify --anchor "$(cat anchor.txt)" && ok || bad "verify --anchor STRING"
verify --anchor runbook-anchor-v1:55:zz:1; [ $? -eq 2 ] && ok || bad "a damaged anchor is bad usage"
verify --pubkey nonesuch.pub; [ $? -eq 2 ] && ok || bad "a missing key is bad usage"
checkpoint_wal
cp j.db clean.db

# --- the attack: rewrite every event after #25 and the whole chain after it ----------------
# Events: run 1 #1-11, run 2 #12-22, run 3 #23-33 (signed at #11, #22, #33),
# run 4 #34-44 (no key), run 5 #45-55 (signed at #55).
cat >rewrite.py <<'PY'
import hashlib, sqlite3, struct, sys
def event_hash(run_id, seq, wall_ms, mono_ns, type_, step, attempt, data, prev):
    i64 = lambda v: struct.pack(">q", v)
    blob = lambda b: i64(len(b)) + b
    m = b"runbook-journal-event-v1\0" + i64(run_id) + i64(seq) + i64(wall_ms) + i64(mono_ns)
    m += blob(type_.encode())
    m += b"\0" if step is None else b"\1" + blob(step.encode())
    m += i64(attempt) + blob(data.encode()) + prev
    return hashlib.sha256(m).digest()
db = sqlite3.connect(sys.argv[1])
after = int(sys.argv[2])
db.executescript("DROP TRIGGER events_no_update; DROP TRIGGER chain_head_follows;")
cut = db.execute("SELECT cut_hash FROM checkpoints ORDER BY id DESC LIMIT 1").fetchone()
prev = cut[0] if cut else None
for r in db.execute("SELECT id, run_id, seq, wall_ms, mono_ns, type, step, attempt, data,"
                    " prev_hash FROM events ORDER BY id").fetchall():
    if prev is None:
        prev = r[9]
    data = r[8].replace('"hi', '"forged') if r[0] > after else r[8]
    h = event_hash(*r[1:8], data, prev)
    db.execute("UPDATE events SET data = ?, prev_hash = ?, hash = ? WHERE id = ?", (data, prev, h, r[0]))
    prev = h
db.execute("UPDATE chain_head SET hash = ?", (prev,))
db.commit()
PY
python3 rewrite.py j.db 25 || bad "rewrite"
[ "$(sqlite3 j.db "SELECT count(*) FROM events WHERE data LIKE '%forged%'")" -gt 0 ] && ok || bad "nothing forged"
verify && ok || bad "the rewritten chain should pass plain verify (the attack works on the chain alone)"
verify --pubkey k.pub
[ $? -eq 1 ] && grep -q "j.db: TAMPERED: 2 problems" out.log &&
    grep -q "event #33: signed checkpoint #3 .* events #23 to #33 were changed after it was taken (signed checkpoint #2, of event #22, still matches)" out.log &&
    [ "$(grep -c '^  event' out.log)" = 2 ] && ok || bad "--pubkey names the first bad span"
verify --anchor anchor.txt
[ $? -eq 1 ] && grep -q "event #55: the anchor of event #55 .* events #1 to #55 were changed" out.log &&
    ok || bad "--anchor catches the rewrite"
# anchors kept over time bracket the change as signatures do
cp clean.db early.db
sqlite3 early.db "SELECT 'runbook-anchor-v1:' || id || ':' || lower(hex(hash)) || ':' || wall_ms FROM events WHERE id IN (20, 30)" >anchors.txt
verify --anchor anchors.txt
[ $? -eq 1 ] && grep -q "events #21 to #30 were changed after it was taken (the anchor of event #20 still matches)" out.log &&
    ok || bad "a file of anchors"

# the newest signed events deleted, head moved back: the signature names what is gone
cp clean.db j.db
sqlite3 j.db "DROP TRIGGER events_no_delete; DROP TRIGGER chain_head_follows;
  DELETE FROM events WHERE id > 44; DELETE FROM runs WHERE id = 5;
  UPDATE chain_head SET event_id = 44, hash = (SELECT hash FROM events WHERE id = 44);"
verify >/dev/null 2>&1 && ok || bad "the truncated chain should pass plain verify"
verify --pubkey k.pub
[ $? -eq 1 ] && grep -q "names event #55 but the journal ends at #44" out.log && ok ||
    bad "--pubkey catches the newest runs deleted"

# --- keys and signature rows ----------------------------------------------------------------
cp clean.db j.db
verify --pubkey other.pub
[ $? -eq 1 ] && grep -q "no checkpoint in the journal is signed by the key .* (4 signed by other keys)" out.log &&
    grep -q "j.db: NOT PROVEN: the hash chain is intact" out.log &&
    ok || bad "a wrong public key"
verify --pubkey other.pub --pubkey k.pub && ok || bad "a rotation: the old and the new key"
sqlite3 j.db "DROP TRIGGER signatures_no_update; UPDATE signatures SET event_id = 11 WHERE id = 2"
verify --pubkey k.pub
[ $? -eq 1 ] && grep -q "signed checkpoint #2 (of the head at event #11, .*) is not a valid signature by key .*: the signature row was edited" out.log &&
    ok || bad "a signature row edited"
cp clean.db j.db
sqlite3 j.db "DROP TRIGGER signatures_no_update; UPDATE signatures SET signature = zeroblob(64) WHERE id = 4"
verify --pubkey k.pub; [ $? -eq 1 ] && grep -q "signed checkpoint #4 .* the signature row was edited" out.log &&
    ok || bad "a signature's bytes edited"
cp clean.db j.db
sqlite3 j.db "DROP TRIGGER signatures_no_delete; DELETE FROM signatures WHERE id = 2"
verify --pubkey k.pub; [ $? -eq 1 ] && grep -q "signed checkpoint #2 is missing (deleted)" out.log && ok ||
    bad "a signature row deleted"
cp clean.db j.db
sqlite3 j.db "UPDATE signatures SET signed_at = 0" >out.log 2>&1 && bad "signatures are updatable"
grep -q "signatures are append-only" out.log && ok || bad "the trigger's words"

# --- prune --------------------------------------------------------------------------------------
# An anchor of run 1's end, taken before everything is pruned: it cannot be
# checked any more; the head's anchor and the signatures still check.
cp clean.db j.db
sqlite3 j.db "SELECT 'runbook-anchor-v1:' || id || ':' || lower(hex(hash)) || ':' || wall_ms FROM events WHERE id = 11" >old-anchor.txt
"$RUNBOOK" journal prune --db j.db --before 2999-01-01 >out.log 2>&1 && grep -q "removed 5 runs" out.log &&
    ok || bad "prune all"
verify && ok || bad "verify after prune, no key"
verify --pubkey k.pub && grep -q "signed       up to event #55" out.log && ok ||
    bad "the signature of the cut's head still checks after the prune"
verify --anchor anchor.txt && ok || bad "the anchor of the cut's head still checks after the prune"
verify --anchor old-anchor.txt
[ $? -eq 1 ] && grep -q "its event was pruned (checkpoint 1 cut the chain after it): it cannot be checked" out.log &&
    grep -q "NOT PROVEN" out.log &&
    ok || bad "an anchor of a pruned event"
signed_run
run
signed_run
verify --pubkey k.pub && grep -q "unsigned     0 events" out.log && ok || bad "verify --pubkey after prune and new runs"
verify --anchor anchor.txt && ok || bad "the pre-prune anchor after new runs"
checkpoint_wal
cp j.db pruned.db
# the events left after the prune rewritten with the chain: caught by the
# signatures made before the prune (#55, the cut) and after it
python3 rewrite.py j.db 60 || bad "rewrite after prune"
verify && ok || bad "the rewrite after the prune passes plain verify"
verify --pubkey k.pub
[ $? -eq 1 ] && grep -q "events #56 to #66 were changed after it was taken (signed checkpoint #4, of event #55, still matches)" out.log &&
    ok || bad "--pubkey after a prune names the first bad span"
# rewriting the cut itself (the checkpoint's cut_hash, its hash and the whole chain
# after it) is caught by the signature of the cut, made before the prune
cp pruned.db j.db
python3 - j.db <<'PY' || bad "rewrite the checkpoint"
import hashlib, sqlite3, struct, sys
db = sqlite3.connect(sys.argv[1])
db.executescript("DROP TRIGGER checkpoints_no_update;")
i64 = lambda v: struct.pack(">q", v)
r = db.execute("SELECT id, created_at, before_ms, cut_event_id, cut_hash, pruned_runs, pruned_events, prev_hash FROM checkpoints").fetchone()
cut = bytes(32)
m = b"runbook-journal-checkpoint-v1\0" + i64(r[0]) + i64(r[1]) + i64(r[2]) + i64(r[3]) + cut + i64(r[5]) + i64(r[6]) + r[7]
db.execute("UPDATE checkpoints SET cut_hash = ?, hash = ? WHERE id = ?", (cut, hashlib.sha256(m).digest(), r[0]))
db.commit()
PY
python3 rewrite.py j.db 0 || bad "rewrite from the cut"
verify && ok || bad "the rewritten checkpoint passes plain verify"
verify --pubkey k.pub
[ $? -eq 1 ] && grep -q "event #55: signed checkpoint #4 .* the checkpoint that cut the chain there now has .*: the checkpoint was rewritten" out.log &&
    ok || bad "a rewritten checkpoint is caught by the signature of its cut"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
