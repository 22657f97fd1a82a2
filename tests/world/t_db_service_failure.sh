#!/bin/sh
# db-service-failure against the world: a stopped database is restarted; a
# corrupt one is restored from the newest dump after an approval, with the
# API gateway stopped meanwhile and recreated after; healthy is
# not_confirmed; without the container runtime it is inconclusive.
. "$(dirname "$0")/lib.sh"

p() {
    echo "-p docker=$WORLD_BIN/docker -p docker_compose=$WORLD_BIN/docker-compose -p db_engine=sqlite" \
         "-p db_target=$WORLD_DB_FILE -p backup_dir=$WORLD_BACKUPS -p webhook_url=$WORLD_WEBHOOK"
}

CASE="stopped"
world_up
brk db-down
alert "$T/a.json" PostgresDown
# shellcheck disable=SC2046
rb 0 --alert "$T/a.json" $(p)
status_is resolved; severity_is P1; step_is restart ok; step_is restore skipped
[ "$(wstate .db.state)" = active ] || fail "the database is not running"
ok "restarted"

CASE="corrupt, restore the dump"
world_up
sqlite3 "$WORLD_DB_FILE" .dump | gzip >"$WORLD_BACKUPS/20260101-database.sql.gz"
brk db-corrupt
# shellcheck disable=SC2046
rb 0 db-service-failure $(p) --yes
status_is resolved
step_is restart failed; step_is stop_gateway ok; step_is restore ok; step_is start_gateway ok
[ "$(wstate .db.state)" = active ] || fail "the database is not running"
[ "$(wstate .gateway.state)" = active ] || fail "the gateway is not running"
[ "$(sqlite3 "$WORLD_DB_FILE" 'select count(*) from users')" = 200 ] || fail "the data did not come back"
ok "restored from the dump after approval, gateway back"

CASE="healthy"
world_up
# shellcheck disable=SC2046
rb 3 db-service-failure $(p)
no_step_ran
ok "not_confirmed"

CASE="container runtime missing"
world_up
brk db-down
# shellcheck disable=SC2046
rb 5 db-service-failure $(p) -p docker=/nonexistent/docker
no_step_ran
ok "inconclusive"
