#!/bin/sh
# service-outage against the world: a stopped API gateway is restarted; one
# that fails on restart is recreated; healthy is not_confirmed; without
# docker-compose it is inconclusive.
. "$(dirname "$0")/lib.sh"

p() { echo "-p host=127.0.0.1 -p port=$WORLD_GATEWAY_PORT -p docker_compose=$WORLD_BIN/docker-compose -p webhook_url=$WORLD_WEBHOOK"; }

CASE="stopped"
world_up
brk service-down
alert "$T/a.json" ServiceDown service=api-gateway
# shellcheck disable=SC2046
rb 0 --alert "$T/a.json" $(p)
status_is resolved; severity_is P1; step_is restart ok; step_is redeploy skipped
[ "$(wstate .gateway.state)" = active ] || fail "the gateway is not running"
[ "$(wstate '.compose.files | length > 0 and all(startswith("/"))')" = true ] ||
    fail "docker-compose given a relative file: $(wstate .compose.files)"
ok "restarted (the entry point: P1); the compose file is an absolute path"

CASE="a label that looks like an option"
# The service comes from the alert's label; after `--` it can only be a
# service name: docker-compose never sees --remove-orphans as an option.
world_up
brk service-down
alert "$T/a.json" ServiceDown service=--remove-orphans
# shellcheck disable=SC2046
rb 1 --alert "$T/a.json" $(p)
[ "$(wstate '.compose.options | index("--remove-orphans")')" = null ] ||
    fail "the label reached docker-compose as an option: $(wstate .compose.options)"
step_is restart failed
ok "passed after --: a service name that does not exist, never an option"

CASE="fails on restart"
world_up
brk service-broken
# shellcheck disable=SC2046
rb 0 service-outage $(p)
status_is resolved; step_is restart failed; step_is redeploy ok
[ "$(wstate .gateway.recreated)" = 1 ] || fail "not recreated"
messages_have "INCIDENT RESOLVED"
ok "recreated with --force-recreate"

CASE="healthy"
world_up
# shellcheck disable=SC2046
rb 3 service-outage $(p)
no_step_ran
ok "not_confirmed"

CASE="docker-compose missing"
world_up
brk service-down
# shellcheck disable=SC2046
rb 5 service-outage $(p) -p docker_compose=/nonexistent/docker-compose
no_step_ran
ok "inconclusive"
