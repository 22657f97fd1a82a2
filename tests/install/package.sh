#!/bin/sh
# package.sh — the Debian package, built by CPack from this build folder,
# installed and removed with the real dpkg in a throw-away root (dpkg
# --root, maintainer scripts run chrootless with DPKG_ROOT set), so that
# the machine itself is never touched:
#   - Depends names the package of every shared library the binary links
#     (dpkg-shlibdeps), and they are satisfiable: the root's dpkg database
#     holds this machine's entries for exactly those packages;
#   - it holds the binary, /etc/runbook/ as conffiles, man pages, the
#     completion, the SDK, the runbooks (and the systemd unit when
#     packaging/runbook.service exists, not enabled);
#   - installing creates the system user `runbook` and /var/lib/runbook
#     (0750, its own); `runbook --version` and `runbook validate` on the
#     shipped runbooks work from the installed paths;
#   - an edited conffile survives a reinstall and a remove;
#   - purging removes every file, the state directory and the user; a
#     state directory holding a journal is kept, and so is its user.
# Env: RB_SOURCE_DIR, RB_BUILD_DIR, CPACK_COMMAND.
. "$RB_SOURCE_DIR/tests/install/lib.sh"
: "${CPACK_COMMAND:=cpack}"
for tool in dpkg dpkg-deb dpkg-shlibdeps dpkg-query readelf useradd; do
    command -v $tool >/dev/null 2>&1 || { bad "$tool is missing (make deps)"; summary; exit 1; }
done
host_passwd=$(cksum </etc/passwd)

run "$CPACK_COMMAND" -G DEB -B "$tmp/cpack" --config "$RB_BUILD_DIR/CPackConfig.cmake"
expect 0 "generated" "cpack -G DEB builds the package"
deb=$(ls "$tmp"/cpack/runbook_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || { bad "no runbook_*.deb"; summary; exit 1; }

# Depends: the owner of every library the binary needs.
depends=$(dpkg-deb -f "$deb" Depends)
echo "    Depends: $depends"
bin=$RB_BUILD_DIR/runbook
for lib in $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    path=$(ldd "$bin" | awk -v l="$lib" '$1 == l { print $3 }')
    real=$(readlink -f "$path")
    owner=$(dpkg -S "$path" 2>/dev/null || dpkg -S "$real" 2>/dev/null || dpkg -S "$(echo "$path" | sed 's|^/usr||')" 2>/dev/null)
    owner=$(printf '%s\n' "$owner" | head -n 1 | sed 's/:.*//; s/:amd64$//')
    if [ -z "$owner" ]; then
        bad "$lib ($path) belongs to no package"
    elif printf '%s' ", $depends," | grep -qE "[ ,|]$owner( \(|,| \|)"; then
        ok "Depends has $owner, for $lib"
    else
        bad "Depends lacks $owner, which ships $lib"
    fi
done

dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$tmp/files"

# Debian's own fields and files: a maintainer with a real mail host (the
# CMake default names none on purpose: docs/install.md), a copyright file
# that says no licence is granted, a changelog of this version; Suggests
# what building a module needs.
maint=$(dpkg-deb -f "$deb" Maintainer)
case $maint in *@localhost*|*'<>'*|'') bad "Maintainer: '$maint'" ;; *) ok "Maintainer: $maint" ;; esac
case $(dpkg-deb -f "$deb" Suggests) in *libjansson-dev*libuv1-dev*) ok "Suggests the module build's -dev packages" ;;
*) bad "Suggests lacks libjansson-dev, libuv1-dev: $(dpkg-deb -f "$deb" Suggests)" ;; esac
case $(dpkg-deb -f "$deb" Recommends) in *openssh-client*) ok "Recommends openssh-client (the ssh action)" ;;
*) bad "Recommends lacks openssh-client, which the ssh action runs" ;; esac
mkdir -p "$tmp/x" && dpkg-deb -x "$deb" "$tmp/x"
if grep -q '^License: none$' "$tmp/x/usr/share/doc/runbook/copyright" 2>/dev/null &&
    grep -q 'No licence has been granted' "$tmp/x/usr/share/doc/runbook/copyright"; then
    ok "/usr/share/doc/runbook/copyright says that no licence is granted"
else
    bad "no /usr/share/doc/runbook/copyright saying that no licence is granted"
fi
pkgver=$(dpkg-deb -f "$deb" Version)
if zcat "$tmp/x/usr/share/doc/runbook/changelog.gz" 2>/dev/null | head -n 1 | grep -qF "runbook ($pkgver) "; then
    ok "changelog.gz opens with version $pkgver"
else
    bad "changelog.gz is missing or not of version $pkgver"
fi
pc=$(ls "$tmp"/x/usr/lib/*/pkgconfig/runbook-plugin.pc 2>/dev/null | head -n 1)
if [ -n "$pc" ] && [ "$(sed -n 's/^prefix=//p' "$pc")" = /usr ]; then
    ok "runbook-plugin.pc: prefix=/usr, so plugindir is /usr/lib/runbook/plugins"
else
    bad "runbook-plugin.pc (${pc:-not in /usr/lib/TRIPLET/pkgconfig}): $(grep -s '^prefix=' "$pc")"
fi
dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./postrm >"$tmp/postrm" 2>/dev/null
grep -q 'deb-systemd-helper purge runbook.service' "$tmp/postrm" &&
    ok "postrm forgets an enabled unit through deb-systemd-helper purge" ||
    bad "postrm does not call deb-systemd-helper purge"
# lintian, where it is installed: no error, and the tags this package fixed
# stay fixed.
if command -v lintian >/dev/null 2>&1; then
    timeout -k 5 240 lintian --no-cfg "$deb" >"$tmp/lintian" 2>&1
    if grep -E '^E: |no-copyright-file|no-changelog|bogus-mail-host|parse-etc-passwd|copyright-without|wrong-name-for-changelog|pkg-config-unavailable|unused-override' "$tmp/lintian" >"$tmp/lbad"; then
        bad "lintian:"; sed 's/^/    | /' "$tmp/lbad" | head -n 20
    else
        ok "lintian: no error ($(grep -c '^W: ' "$tmp/lintian") warnings)"
    fi
fi
for f in /usr/bin/runbook /etc/runbook/server.yaml /usr/include/runbook/action.h \
    /usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)/pkgconfig/runbook-plugin.pc /usr/share/man/man1/runbook.1.gz /usr/share/man/man1/runbook-run.1.gz \
    /usr/share/man/man5/runbook-format.5.gz /usr/share/bash-completion/completions/runbook \
    /usr/share/zsh/vendor-completions/_runbook \
    /usr/share/runbook/runbooks/node-crash.yaml /usr/share/runbook/schemas/runbook.schema.json; do
    if grep -qx -- "$f" "$tmp/files"; then ok "the package holds $f"; else bad "the package lacks $f"; fi
done
unit=/usr/lib/systemd/system/runbook.service
if [ -f "$RB_SOURCE_DIR/packaging/runbook.service" ]; then
    grep -qx -- "$unit" "$tmp/files" && ok "the package holds $unit" || bad "the package lacks $unit"
fi
if grep -qx -- "/etc/runbook/runbooks/" "$tmp/files"; then ok "the package holds /etc/runbook/runbooks/"; else
    bad "the package lacks /etc/runbook/runbooks/"; fi
dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles >"$tmp/conffiles" 2>/dev/null
for f in "$RB_SOURCE_DIR"/packaging/etc/*; do
    c=/etc/runbook/$(basename "$f")
    grep -qx -- "$c" "$tmp/conffiles" && ok "conffile: $c" || bad "$c is not a conffile"
done

# The throw-away root: an empty dpkg database but for this machine's own
# entries of the packages Depends names, and a passwd with root alone.
R=$tmp/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/triggers" "$R/etc"
: >"$R/var/lib/dpkg/available"
for p in $(printf '%s\n' "$depends" | tr ',' '\n' | sed 's/|.*//; s/(.*//; s/ //g'); do
    dpkg-query -s "$p" 2>/dev/null || bad "Depends names $p, which this machine does not have"
    echo
done >"$R/var/lib/dpkg/status"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\n' >"$R/etc/group"
printf 'root:*:19000:0:99999:7:::\n' >"$R/etc/shadow"
printf 'root:*::\n' >"$R/etc/gshadow"
[ -f /etc/login.defs ] && cp /etc/login.defs "$R/etc/"
find "$R" ! -path "$R/var/lib/dpkg*" | sort >"$tmp/before"
dpkg_root() { run dpkg --root="$R" --force-script-chrootless "$@"; }

dpkg_root -i "$deb"
expect 0 "Setting up runbook" "dpkg -i installs it, its Depends satisfied"
dpkg_root -s runbook
expect 0 "Status: install ok installed" "dpkg says it is installed"

rb=$R/usr/bin/runbook
if grep -qx 'source "/usr/share/bash-completion/completions/runbook" || return 1' \
    "$R/usr/share/zsh/vendor-completions/_runbook"; then
    ok "the zsh completion sources the bash one by its installed path"
else
    bad "the zsh completion does not source /usr/share/bash-completion/completions/runbook"
fi
ver=$(sed -n 's/^#define RB_VERSION "\(.*\)"$/\1/p' "$RB_SOURCE_DIR/include/runbook/runbook.h")
run "$rb" --version
expect 0 "runbook $ver" "the installed runbook --version"
expect 0 "action ABI" "--version names the action ABI"
cd "$tmp" || exit 1
run "$rb" validate "$R/usr/share/runbook/runbooks"
expect 0 "0 invalid" "the installed runbook validates the shipped runbooks"

if grep -q '^runbook:x:[0-9]*:[0-9]*:[^:]*:/var/lib/runbook:/usr/sbin/nologin$' "$R/etc/passwd"; then
    ok "postinst made the system user runbook (no login, home /var/lib/runbook)"
else
    bad "no system user runbook in the root: $(grep runbook "$R/etc/passwd")"
fi
uid=$(awk -F: '$1 == "runbook" { print $3 }' "$R/etc/passwd")
st=$(stat -c '%a %u' "$R/var/lib/runbook" 2>/dev/null)
[ "$st" = "750 $uid" ] && ok "/var/lib/runbook: 0750, the user's" || bad "/var/lib/runbook: '$st', want '750 $uid'"
# The unit agrees with the package: it starts the packaged binary with the
# packaged config, runs as the user postinst made in the directory it made,
# reads the tokens where the docs say, and names docs that are installed.
if [ -f "$R$unit" ]; then
    unit_has() { # REGEX WHAT
        if grep -qE -- "$1" "$R$unit"; then ok "the unit: $2"; else bad "the unit: not $2 ($1)"; fi
    }
    unit_has '^ExecStart=/usr/bin/runbook serve ' "starts /usr/bin/runbook serve"
    unit_has '^ExecStart=.* --config /etc/runbook/server\.yaml( |$)' "reads /etc/runbook/server.yaml"
    unit_has '^User=runbook$' "runs as the user runbook"
    unit_has '^StateDirectory=runbook$' "keeps its state in /var/lib/runbook"
    unit_has '^LoadCredential=tokens:/etc/runbook/tokens$' "reads /etc/runbook/tokens"
    if grep -q '^DynamicUser=yes' "$R$unit"; then
        bad "the unit: DynamicUser=yes, while the package makes the user runbook and /var/lib/runbook"
    else
        ok "the unit: no DynamicUser (the package's user runs it)"
    fi
    for d in $(sed -n 's|^Documentation=||p' "$R$unit" | tr ' ' '\n' | sed -n 's|^file://||p'); do
        [ -f "$R$d" ] && ok "the unit's Documentation $d is installed" ||
            bad "the unit's Documentation $d is not in the package"
    done
    # The default config's comments name installed docs and the tokens file
    # the unit reads.
    for d in $(grep -o 'docs/[A-Za-z0-9_-]*\.md' "$R/etc/runbook/server.yaml" | sort -u); do
        [ -f "$R/usr/share/doc/runbook/$d" ] && ok "server.yaml names $d, which is installed" ||
            bad "server.yaml names $d, which is not installed"
    done
    grep -q '/etc/runbook/tokens' "$R/etc/runbook/server.yaml" && ok "server.yaml names /etc/runbook/tokens" ||
        bad "server.yaml does not say where the tokens are (/etc/runbook/tokens)"
    # systemd's own check (an unknown key, a bad value), on a copy whose
    # ExecStart is the root's binary (this machine has no /usr/bin/runbook).
    if command -v systemd-analyze >/dev/null 2>&1; then
        mkdir -p "$tmp/unit"
        sed "s|/usr/bin/runbook|$R/usr/bin/runbook|g" "$R$unit" >"$tmp/unit/runbook.service"
        run systemd-analyze verify --man=no "$tmp/unit/runbook.service"
        if [ "$rc" -eq 0 ] && ! grep -q 'runbook' "$tmp/out"; then
            ok "systemd-analyze verify: the unit is clean"
        else
            bad "systemd-analyze verify (exit $rc):"; sed 's/^/    | /' "$tmp/out" | head -n 10
        fi
    fi
fi
# The default server config, where the binary knows --config (runbook serve).
if "$rb" validate --help 2>&1 | grep -q -- '--config'; then
    sed "s|/etc/runbook/runbooks|$R/etc/runbook/runbooks|" "$R/etc/runbook/server.yaml" >"$tmp/server.yaml"
    run "$rb" validate --config "$tmp/server.yaml"
    expect 0 "" "runbook validate --config accepts the shipped /etc/runbook/server.yaml"
fi
if ls "$R"/etc/systemd/system/*/runbook.service >/dev/null 2>&1; then
    bad "the service is enabled by the package"
else
    ok "the service is not enabled"
fi
[ "$(cksum </etc/passwd)" = "$host_passwd" ] && ok "this machine's /etc/passwd is untouched" ||
    bad "this machine's /etc/passwd changed"

# The default config is a conffile: an edit survives a reinstall and a
# remove; purge takes it.
echo "# edited by the operator" >>"$R/etc/runbook/server.yaml"
dpkg_root -i "$deb"
expect 0 "Setting up runbook" "dpkg -i again (an upgrade to the same version)"
grep -q '^# edited by the operator$' "$R/etc/runbook/server.yaml" &&
    ok "an edited /etc/runbook/server.yaml survives it" || bad "the edit of server.yaml was lost"
dpkg_root -r runbook
expect 0 "Removing runbook" "dpkg -r removes it"
if [ ! -e "$rb" ] && grep -q '^# edited by the operator$' "$R/etc/runbook/server.yaml"; then
    ok "remove takes the binary and keeps the edited config"
else
    bad "after remove: binary there? $([ -e "$rb" ] && echo yes), config kept? $([ -f "$R/etc/runbook/server.yaml" ] && echo yes)"
fi
dpkg_root --purge runbook
expect 0 "Purging configuration files for runbook" "dpkg --purge removes it"
find "$R" ! -path "$R/var/lib/dpkg*" ! -name '*-' | sort >"$tmp/after"
if cmp -s "$tmp/before" "$tmp/after"; then
    ok "nothing of it is left in the root"
else
    bad "left in the root after purge:"
    diff "$tmp/before" "$tmp/after" | sed 's/^/    | /' | head -n 20
fi
grep -q '^runbook:' "$R/etc/passwd" "$R/etc/group" && bad "the user or group runbook is left" ||
    ok "the user and group are gone"

# A journal in the state directory outlives a purge, with its owner.
dpkg_root -i "$deb"
expect 0 "" "installed again"
printf 'apiVersion: runbook/v1\nname: hi\nsteps:\n  - name: a\n    action: log\n    with: { message: hi }\n' >"$tmp/hi.yaml"
run "$rb" run --db "$R/var/lib/runbook/runbook.db" -q "$tmp/hi.yaml"
[ -f "$R/var/lib/runbook/runbook.db" ] && ok "a journal in /var/lib/runbook" || bad "no journal was made"
dpkg_root --purge runbook
expect 0 "is not empty (a journal?): kept" "purge keeps a state directory that holds a journal, and says so"
[ -f "$R/var/lib/runbook/runbook.db" ] && grep -q '^runbook:' "$R/etc/passwd" &&
    ok "the journal and its user are kept" || bad "the journal or its user was removed"

summary
