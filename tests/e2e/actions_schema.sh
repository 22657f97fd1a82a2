#!/bin/sh
# actions_schema.sh — schemas/runbook.schema.json describes each built-in
# action's `with` exactly as the action's parameter map does.
#
# The definitions "actionWith", "withTemplate" and "with_<action>" of the
# schema file are generated: they must equal what
# `runbook actions --format schema` prints (no stale "with_*" left over),
# and "oneOfActionRun" must apply "actionWith", or they would check nothing.
# The parameter map in the C descriptor is the one source; never edit these
# definitions by hand. After changing a parameter map, regenerate with
#
#     RB_UPDATE=1 RUNBOOK=build/runbook RB_SOURCE_DIR=. sh tests/e2e/actions_schema.sh
#
# (then tests/e2e/schema_agreement.sh checks the runbooks against it).
#
# Env: RUNBOOK (the binary), RB_SOURCE_DIR (the repository root),
# RB_UPDATE=1 to rewrite the schema file instead of failing.
set -u

: "${RUNBOOK:?RUNBOOK must name the runbook binary}"
: "${RB_SOURCE_DIR:?RB_SOURCE_DIR must name the repository root}"

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
unset RUNBOOK_PLUGINS # built-ins only: plugins are not part of the schema file

if ! command -v node >/dev/null 2>&1; then
    echo "FAIL node is needed (make deps installs it)"
    exit 1
fi
if ! "$RUNBOOK" actions --format schema >"$tmp/gen.json" 2>"$tmp/err"; then
    echo "FAIL runbook actions --format schema failed"
    sed 's/^/    | /' "$tmp/err"
    exit 1
fi

node - "$RB_SOURCE_DIR/schemas/runbook.schema.json" "$tmp/gen.json" "${RB_UPDATE:-0}" <<'JS'
const fs = require('fs');
const { isDeepStrictEqual } = require('util');
const [schemaPath, genPath, update] = process.argv.slice(2);
const schema = JSON.parse(fs.readFileSync(schemaPath, 'utf8'));
const gen = JSON.parse(fs.readFileSync(genPath, 'utf8'));
const defs = schema.definitions || (schema.definitions = {});
const problems = [];
for (const k of Object.keys(gen)) {
    if (!(k in defs)) problems.push(`definitions.${k} is missing`);
    else if (!isDeepStrictEqual(defs[k], gen[k]))
        problems.push(`definitions.${k} differs from \`runbook actions --format schema\``);
}
const stale = Object.keys(defs).filter((k) => k.startsWith('with_') && !(k in gen));
for (const k of stale) problems.push(`definitions.${k} is stale: no built-in action has that name`);
const hook = { $ref: '#/definitions/actionWith' };
const one = defs.oneOfActionRun;
const hooked = one && Array.isArray(one.allOf) && one.allOf.some((s) => isDeepStrictEqual(s, hook));
if (!hooked) problems.push('definitions.oneOfActionRun does not apply #/definitions/actionWith');

if (update === '1') {
    for (const k of stale) delete defs[k];
    for (const k of Object.keys(gen)) defs[k] = gen[k];
    if (one && !hooked) (one.allOf = one.allOf || []).push(hook);
    fs.writeFileSync(schemaPath, JSON.stringify(schema, null, 2) + '\n');
    for (const p of problems) console.log(`fixed ${p}`);
    console.log(`${schemaPath}: ${problems.length ? 'updated' : 'already up to date'}`);
    process.exit(0);
}
for (const k of Object.keys(gen))
    if (!problems.some((p) => p.startsWith(`definitions.${k} `))) console.log(`ok   definitions.${k}`);
for (const p of problems) console.log(`FAIL ${p}`);
if (problems.length)
    console.log('regenerate: RB_UPDATE=1 RUNBOOK=... RB_SOURCE_DIR=... sh tests/e2e/actions_schema.sh');
if (hooked) console.log('ok   definitions.oneOfActionRun applies actionWith');
console.log(problems.length ? `${problems.length} failed` : 'schema file in step with the parameter maps');
process.exit(problems.length ? 1 : 0);
JS
