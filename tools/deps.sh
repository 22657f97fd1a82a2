#!/bin/sh
# Installs the Debian packages the build, the demo and the tests need —
# only those missing. Works as root, through sudo otherwise, and prints the
# exact command when it can do neither.
set -eu

PKGS="build-essential cmake pkg-config libyaml-dev libjansson-dev libuv1-dev
libcurl4-openssl-dev libsqlite3-dev libssl-dev libcmocka-dev sqlite3 curl
nodejs npm"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done
# A node/npm that did not come from Debian (e.g. an image's own) is fine too.
case "$missing" in *nodejs*) command -v node >/dev/null 2>&1 && missing=$(echo "$missing" | sed 's/ nodejs//') ;; esac
case "$missing" in *npm*) command -v npm >/dev/null 2>&1 && missing=$(echo "$missing" | sed 's/ npm//') ;; esac

[ -z "$missing" ] && exit 0

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends$missing"
echo "deps: installing:$missing"
if [ "$(id -u)" = 0 ]; then
    sh -c "$cmd"
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo sh -c "$cmd"
else
    echo "deps: missing packages and no root; run as root:" >&2
    echo "  $cmd" >&2
    exit 1
fi
