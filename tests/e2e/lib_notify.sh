# lib_notify.sh — what the notify e2e scripts share (sourced, not a test:
# ctest skips tests/e2e/lib*.sh). Needs jq, openssl and python3-aiosmtpd.
#
# check DESCRIPTION JQ-FILTER FILE: ok when the filter over FILE's JSON
# values (slurped) prints true, else bad (the caller's counters).
#
# notify_peer_start PASSWORD: in the current directory (the test's $tmp),
# a certificate for 127.0.0.1 (cert.pem, key.pem) and the receivers of
# tests/e2e/notify_peer.py (HTTP, SMTP with STARTTLS and AUTH as "alerts"
# with PASSWORD, SMTPS) on ports the OS chooses; sets peer_pid, py, hp
# (HTTP), sp (SMTP), ssp (SMTPS). The caller kills peer_pid from its EXIT
# trap. Exits the test when a part is missing or the peer does not start.
check() {
    if [ "$(jq -e -s "$2" "$3" 2>/dev/null)" = true ]; then ok; else bad "$1"; fi
}

notify_peer_start() {
    py=
    for p in /usr/bin/python3 python3; do
        if "$p" -c 'import aiosmtpd' 2>/dev/null; then py=$p; break; fi
    done
    [ -n "$py" ] || { echo "FAIL python3-aiosmtpd is not installed (make deps)"; exit 1; }
    openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 2 \
        -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null ||
        { echo "FAIL openssl req"; exit 1; }
    mkfifo ready
    SMTP_PASSWORD=$1 "$py" "$RB_SOURCE_DIR/tests/e2e/notify_peer.py" serve "$PWD" ready \
        >peer.log 2>&1 &
    peer_pid=$!
    _ports=$(timeout 60 head -n 1 ready) || { echo "FAIL the peer did not start"; cat peer.log; exit 1; }
    set -- $_ports
    hp=$1 sp=$2 ssp=$3
}
