# lib_sshd.sh — a real OpenSSH server for the tests, sourced by tests/e2e/ssh*.sh.
#
# sshd_start DIR: starts `sshd -D -e` on 127.0.0.1 on a free port chosen by
# the OS (a port is asked of the kernel, and if another process takes it
# before sshd binds, the next one is tried), with its own host key, its own
# config and key authentication for the current user only, all under DIR.
# Sets SSHD_PORT, SSHD_PID, SSHD_HOSTKEY (the public host key line),
# SSHD_CLIENT_KEY (the private key the user authenticates with). The caller
# stops it with sshd_stop DIR (from its EXIT trap).
#
# Readiness is sshd's own "Server listening" line in its log, waited for
# with a generous bound; nothing here sleeps a fixed time.

sshd_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

sshd_start() {
    d=$1
    mkdir -p "$d" && chmod 700 "$d"
    [ -f "$d/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C rb-test-host -f "$d/host_ed25519" || return 1
    [ -f "$d/client_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C rb-test-client -f "$d/client_ed25519" || return 1
    cp "$d/client_ed25519.pub" "$d/authorized_keys"
    chmod 600 "$d/authorized_keys"
    SSHD_HOSTKEY=$(cut -d' ' -f1,2 "$d/host_ed25519.pub")
    SSHD_CLIENT_KEY=$d/client_ed25519
    # Running as root, sshd wants its privilege-separation directory.
    if [ "$(id -u)" = 0 ] && [ ! -d /run/sshd ]; then mkdir -p /run/sshd && chmod 755 /run/sshd; fi
    tries=0
    while [ $tries -lt 20 ]; do
        tries=$((tries + 1))
        SSHD_PORT=$(sshd_free_port) || return 1
        cat >"$d/sshd_config" <<CFG
ListenAddress 127.0.0.1
Port $SSHD_PORT
HostKey $d/host_ed25519
PidFile none
AuthorizedKeysFile $d/authorized_keys
AllowUsers $(id -un)
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxSessions 64
MaxStartups 64:30:100
LogLevel INFO
CFG
        : >"$d/sshd.log"
        /usr/sbin/sshd -D -e -f "$d/sshd_config" 2>>"$d/sshd.log" &
        SSHD_PID=$!
        n=0
        while [ $n -lt 600 ]; do
            grep -q 'Server listening on 127.0.0.1' "$d/sshd.log" && return 0
            kill -0 "$SSHD_PID" 2>/dev/null || break
            n=$((n + 1))
            sleep 0.05
        done
        kill "$SSHD_PID" 2>/dev/null
        wait "$SSHD_PID" 2>/dev/null
        grep -q 'Address already in use\|Cannot bind' "$d/sshd.log" || { cat "$d/sshd.log" >&2; return 1; }
    done
    return 1
}

sshd_stop() {
    [ -n "${SSHD_PID:-}" ] && kill "$SSHD_PID" 2>/dev/null && wait "$SSHD_PID" 2>/dev/null
    SSHD_PID=
}
