# lib_pg.sh — a real PostgreSQL 15 server for the tests (Debian's
# postgresql-15), sourced by tests/e2e/pg_*.sh.
#
# pg_available: 0 when the server's programs are installed; a test that
#   finds them missing exits 77 (ctest's skip: SKIP_RETURN_CODE in
#   tests/tests.cmake), never a pass.
# pg_start: makes a cluster in a new directory of its own under /tmp,
#   owned by an unprivileged user (initdb and postgres refuse root: the
#   tests run as root, so the server runs as `nobody` through setpriv; run
#   as another user, the server is that user's), and starts postgres on
#   127.0.0.1 only, on a free port the kernel gave (another is tried when
#   it is taken before postgres binds), its unix socket inside the
#   directory. fsync and synchronous_commit stay at their defaults.
#   Readiness is pg_isready's answer, waited for under a bound; nothing
#   here sleeps a fixed time. Authentication: trust, on loopback, for the
#   roles the test makes (the cluster lives as long as the test).
#   Sets PG_DIR, PG_PORT, PG_PID, PG_SUPER (the superuser, "postgres") and
#   PG_URL_SUPER (postgresql://postgres@127.0.0.1:PORT/postgres).
# pg_stop: stops the server (fast shutdown, then SIGKILL after a bound)
#   and removes its directory. Idempotent. A caller calls it from its EXIT
#   trap and traps INT, TERM, HUP and PIPE to exit, so the server goes
#   with the test however the test ends; should the test's shell be killed
#   outright, postgres gets SIGKILL with it (setpriv --pdeathsig).
# pg_sql URL SQL: runs SQL through psql (ON_ERROR_STOP, tuples only,
#   unaligned), prints the result; psql's exit status.
# pg_url ROLE DB: postgresql://ROLE@127.0.0.1:PORT/DB
# pg_journal_dbs DB...: makes the roles of docs/journal.md, "Roles"
#   (runbook_owner and runbook_engine, both LOGIN) and each DB, UTF-8,
#   owned by runbook_owner; says which statement failed.
# pg_grant_engine URL: runs, as the owner at URL, the GRANT and REVOKE
#   lines of docs/journal.md's "Roles" block as written there (so the
#   tests use the documented grants, not a copy); psql's exit status.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

pg_available() {
    [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/postgres" ] && [ -x "$PG_BIN/pg_isready" ] &&
        command -v psql >/dev/null 2>&1 && command -v setpriv >/dev/null 2>&1
}

pg_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Runs "$@" as the server's user.
pg_as() {
    if [ "$(id -u)" = 0 ]; then
        setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"
    else
        "$@"
    fi
}

pg_url() {
    echo "postgresql://$1@127.0.0.1:$PG_PORT/$2"
}

pg_sql() {
    _pg_u=$1
    shift
    PGCONNECT_TIMEOUT=10 psql -X -q -v ON_ERROR_STOP=1 -t -A -d "$_pg_u" -c "$*"
}

pg_start() {
    PG_DIR=$(mktemp -d /tmp/rb-pg.XXXXXX) || return 1
    PG_SUPER=postgres
    if [ "$(id -u)" = 0 ]; then
        chown nobody:nogroup "$PG_DIR" || return 1
    fi
    chmod 700 "$PG_DIR"
    # -N: initdb does not flush its files (a test cluster; the server's own
    # fsync stays on). UTF8: the journal's text is UTF-8.
    pg_as "$PG_BIN/initdb" -N -D "$PG_DIR/data" -U "$PG_SUPER" -E UTF8 --locale=C \
        --auth=trust >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; return 1; }
    _pg_tries=0
    while [ $_pg_tries -lt 20 ]; do
        _pg_tries=$((_pg_tries + 1))
        PG_PORT=$(pg_free_port) || return 1
        : >"$PG_DIR/server.log"
        chown nobody:nogroup "$PG_DIR/server.log" 2>/dev/null
        # exec: PG_PID is postgres itself (setpriv execs it), the child of
        # this shell, so that its parent's death is this shell's
        (
            if [ "$(id -u)" = 0 ]; then
                exec setpriv --reuid=nobody --regid=nogroup --clear-groups --pdeathsig KILL \
                    "$PG_BIN/postgres" -D "$PG_DIR/data" -c listen_addresses=127.0.0.1 \
                    -c port="$PG_PORT" -c unix_socket_directories="$PG_DIR" \
                    -c logging_collector=off -c max_connections=50
            fi
            exec setpriv --pdeathsig KILL "$PG_BIN/postgres" -D "$PG_DIR/data" \
                -c listen_addresses=127.0.0.1 -c port="$PG_PORT" \
                -c unix_socket_directories="$PG_DIR" -c logging_collector=off \
                -c max_connections=50
        ) >>"$PG_DIR/server.log" 2>&1 &
        PG_PID=$!
        _pg_n=0
        while [ $_pg_n -lt 600 ]; do
            "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U "$PG_SUPER" -d postgres -t 1 && {
                PG_URL_SUPER=$(pg_url "$PG_SUPER" postgres)
                return 0
            }
            kill -0 "$PG_PID" 2>/dev/null || break
            _pg_n=$((_pg_n + 1))
            sleep 0.05
        done
        kill -KILL "$PG_PID" 2>/dev/null
        wait "$PG_PID" 2>/dev/null
        grep -q 'could not bind\|Address already in use' "$PG_DIR/server.log" ||
            { cat "$PG_DIR/server.log" >&2; return 1; }
    done
    return 1
}

pg_stop() {
    if [ -n "${PG_PID:-}" ]; then
        kill -INT "$PG_PID" 2>/dev/null
        _pg_n=0
        while kill -0 "$PG_PID" 2>/dev/null && [ $_pg_n -lt 200 ]; do
            _pg_n=$((_pg_n + 1))
            sleep 0.05
        done
        kill -KILL "$PG_PID" 2>/dev/null
        wait "$PG_PID" 2>/dev/null
        PG_PID=
    fi
    [ -n "${PG_DIR:-}" ] && rm -rf "$PG_DIR"
    PG_DIR=
    return 0
}

pg_journal_dbs() {
    for _pg_sql in "CREATE ROLE runbook_owner LOGIN" "CREATE ROLE runbook_engine LOGIN"; do
        pg_sql "$PG_URL_SUPER" "$_pg_sql" >/dev/null || { echo "setup: $_pg_sql" >&2; return 1; }
    done
    for _pg_db in "$@"; do
        pg_sql "$PG_URL_SUPER" "CREATE DATABASE $_pg_db OWNER runbook_owner ENCODING 'UTF8'" \
            >/dev/null || { echo "setup: database $_pg_db" >&2; return 1; }
    done
}

pg_grant_engine() {
    sed -n '/^-- as runbook_owner/,/^```$/p' "$RB_SOURCE_DIR/docs/journal.md" |
        grep -E '^(GRANT|REVOKE)' >"$PG_DIR/grants.sql"
    [ "$(wc -l <"$PG_DIR/grants.sql")" -ge 4 ] || { echo "no grants in docs/journal.md" >&2; return 1; }
    psql -X -q -v ON_ERROR_STOP=1 -d "$1" -f "$PG_DIR/grants.sql" >/dev/null
}
