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
# with a generous bound; nothing here sleeps a fixed time. A caller also
# traps INT, TERM, HUP and PIPE to exit, so that its EXIT trap stops sshd
# when it is killed (a `| head` that stops reading, ctest's timeout).

sshd_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

sshd_start() {
    _sshd_d=$1
    mkdir -p "$_sshd_d" && chmod 700 "$_sshd_d"
    [ -f "$_sshd_d/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C rb-test-host -f "$_sshd_d/host_ed25519" || return 1
    [ -f "$_sshd_d/client_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C rb-test-client -f "$_sshd_d/client_ed25519" || return 1
    cp "$_sshd_d/client_ed25519.pub" "$_sshd_d/authorized_keys"
    chmod 600 "$_sshd_d/authorized_keys"
    SSHD_HOSTKEY=$(cut -d' ' -f1,2 "$_sshd_d/host_ed25519.pub")
    SSHD_CLIENT_KEY=$_sshd_d/client_ed25519
    # Running as root, sshd wants its privilege-separation directory.
    if [ "$(id -u)" = 0 ] && [ ! -d /run/sshd ]; then mkdir -p /run/sshd && chmod 755 /run/sshd; fi
    _sshd_tries=0
    while [ $_sshd_tries -lt 20 ]; do
        _sshd_tries=$((_sshd_tries + 1))
        SSHD_PORT=$(sshd_free_port) || return 1
        cat >"$_sshd_d/sshd_config" <<CFG
ListenAddress 127.0.0.1
Port $SSHD_PORT
HostKey $_sshd_d/host_ed25519
PidFile none
AuthorizedKeysFile $_sshd_d/authorized_keys
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
        : >"$_sshd_d/sshd.log"
        /usr/sbin/sshd -D -e -f "$_sshd_d/sshd_config" 2>>"$_sshd_d/sshd.log" &
        SSHD_PID=$!
        _sshd_n=0
        while [ $_sshd_n -lt 600 ]; do
            grep -q 'Server listening on 127.0.0.1' "$_sshd_d/sshd.log" && return 0
            kill -0 "$SSHD_PID" 2>/dev/null || break
            _sshd_n=$((_sshd_n + 1))
            sleep 0.05
        done
        kill "$SSHD_PID" 2>/dev/null
        wait "$SSHD_PID" 2>/dev/null
        grep -q 'Address already in use\|Cannot bind' "$_sshd_d/sshd.log" || { cat "$_sshd_d/sshd.log" >&2; return 1; }
    done
    return 1
}

# ssh_masters_stop DIR: ends the connections the ssh action left open (its
# ControlPersist masters) whose control sockets are in DIR, through ssh's
# own `-O exit`.
ssh_masters_stop() {
    for s in "$1"/*; do
        [ -S "$s" ] && ssh -o ControlPath="$s" -O exit x >/dev/null 2>&1
    done
    return 0
}

sshd_stop() {
    [ -n "${SSHD_PID:-}" ] && kill "$SSHD_PID" 2>/dev/null && wait "$SSHD_PID" 2>/dev/null
    SSHD_PID=
    return 0
}

# tarpit_start DIR: a listener on 127.0.0.1 (a port the OS chooses) that
# accepts connections and never writes a byte — a host that answers TCP but
# never speaks SSH. Sets TARPIT_PORT and TARPIT_PID; readiness is the port
# it writes into a FIFO once it listens. Each accepted connection adds a
# line to DIR/tarpit.accepts. The caller stops it with
# tarpit_stop (from its EXIT trap).
tarpit_start() {
    mkfifo "$1/tarpit.port" || return 1
    python3 -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)
with open(sys.argv[1], "w") as f: f.write("%d\n" % s.getsockname()[1])
held = []
while True:
    held.append(s.accept()[0])
    with open(sys.argv[2], "a") as f: f.write("accepted\n")
' "$1/tarpit.port" "$1/tarpit.accepts" &
    TARPIT_PID=$!
    read -r TARPIT_PORT <"$1/tarpit.port"
    [ -n "$TARPIT_PORT" ]
}

tarpit_stop() {
    [ -n "${TARPIT_PID:-}" ] && kill "$TARPIT_PID" 2>/dev/null && wait "$TARPIT_PID" 2>/dev/null
    TARPIT_PID=
    return 0
}
