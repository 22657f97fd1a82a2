# lib.sh — shared by the helper scripts in this folder (sourced, not run).
# The exit-code contract every script here keeps (runbooks/README.md):
#   0  healthy / done        1  the symptom is there / the action failed
#   2  usage error           3  cannot assess: a tool, file or endpoint the
#                               script needs is missing; the reason is on stderr
# A runbook turns 3 into a check that "could not run" (docs/authoring.md,
# "A probe that cannot run"), so a missing tool never confirms an incident.

cannot() { echo "cannot assess: $*" >&2; exit 3; }
need() { for t in "$@"; do command -v "$t" >/dev/null 2>&1 || cannot "$t not found"; done; }
usage() { echo "usage: $USAGE" >&2; exit 2; }
