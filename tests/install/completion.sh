#!/bin/sh
# completion.sh — the bash completion (packaging/completion/runbook.bash),
# as installed, driven the way bash drives it: an interactive bash sources
# it, `complete -p runbook` names its function, and COMP_WORDS/COMP_CWORD
# are set for each line as typed before the function is called:
#   - commands (all that `runbook --help` lists), sub-actions, options of a
#     command, an option's listed values (--format, --sync);
#   - runbook names from --dir (and from ./runbooks by default);
#   - run ids from the journal given by --db (for resume, only a run that
#     died); action names for `actions`; nothing for a short option that
#     takes a value (-p KEY=VALUE);
#   - a command the program gains completes with no change to the script.
#   - the same with bash-completion's helpers loaded (files through _filedir);
#   - zsh: its compinit finds the installed _runbook, which completes the
#     same words through bashcompinit.
# Env: RUNBOOK (the built binary), RB_SOURCE_DIR, RB_BUILD_DIR.
. "$RB_SOURCE_DIR/tests/install/lib.sh"
: "${RUNBOOK:?RUNBOOK must name the runbook binary}"
command -v bash >/dev/null 2>&1 || { bad "bash is missing"; summary; exit 1; }

p=$tmp/prefix
"${CMAKE_COMMAND:-cmake}" --install "$RB_BUILD_DIR" --prefix "$p" >"$tmp/out" 2>&1 ||
    { bad "cmake --install"; cat "$tmp/out"; summary; exit 1; }
script=$p/share/bash-completion/completions/runbook
has "$script" "the completion is installed"

# A journal with two runs, and a folder of runbooks.
mkdir -p "$tmp/w/runbooks/sub" "$tmp/w/other"
for n in alpha beta; do
    printf 'apiVersion: runbook/v1\nname: %s\nsteps:\n  - name: a\n    action: log\n    with: { message: x }\n' "$n" \
        >"$tmp/w/runbooks/$n.yaml"
done
printf 'apiVersion: runbook/v1\nname: "gamma"\nsteps: []\n' >"$tmp/w/runbooks/sub/gamma.yml"
printf 'apiVersion: runbook/v1\nname: delta\nsteps: []\n' >"$tmp/w/other/delta.yaml"
"$RUNBOOK" run --db "$tmp/w/j.db" --dir "$tmp/w/runbooks" alpha -q >/dev/null 2>&1
"$RUNBOOK" run --db "$tmp/w/j.db" --dir "$tmp/w/runbooks" beta -q >/dev/null 2>&1
# Run 3 dies in a step (kill -9): the one run `resume` can go on with.
printf 'apiVersion: runbook/v1\nname: long\nsteps:\n  - name: a\n    action: sleep\n    with: { duration: 600s }\n' >"$tmp/long.yaml"
"$RUNBOOK" run --db "$tmp/w/j.db" -q "$tmp/long.yaml" >/dev/null 2>&1 &
long=$!
i=0
until "$RUNBOOK" runs --db "$tmp/w/j.db" 2>/dev/null | grep -q '^3 .* running '; do
    i=$((i + 1))
    [ $i -gt 600 ] && { bad "run 3 never showed as running"; break; }
    sleep 0.1
done
kill -9 $long 2>/dev/null
wait $long 2>/dev/null

# complete LINE: what the completion offers for LINE (the last word is the
# one being completed; a trailing space means an empty word), sorted.
complete_line() {
    bash --norc --noprofile -i -c '
        if [ -n "$3" ]; then source "$3" || exit 1; fi
        source "$1" || exit 1
        spec=$(complete -p runbook) || exit 1
        fn=${spec#*-F }; fn=${fn%% *}
        read -r -a COMP_WORDS <<<"$2"
        case $2 in *" ") COMP_WORDS+=("") ;; esac
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE=$2 COMP_POINT=${#2}
        "$fn" runbook "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
        printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$script" "$1" "$framework" </dev/null 2>/dev/null
}

# offers LINE WANT...: the completion of LINE is exactly WANT (sorted).
offers() {
    line=$1
    shift
    got=$(cd "$tmp/w" && PATH="$bin:$PATH" complete_line "$line" | tr '\n' ' ' | sed 's/ $//')
    want=$(printf '%s\n' "$@" | sort | tr '\n' ' ' | sed 's/ $//')
    if [ "$got" = "$want" ]; then ok "'$line' -> $want"; else bad "'$line' -> '$got', want '$want'"; fi
}
# includes LINE WANT...: the completion of LINE holds each WANT.
includes() {
    line=$1
    shift
    got=" $(cd "$tmp/w" && PATH="$bin:$PATH" complete_line "$line" | tr '\n' ' ')"
    for w in "$@"; do
        case $got in *" $w "*) ;; *) bad "'$line' lacks $w (got:$got)"; return ;; esac
    done
    ok "'$line' offers $*"
}

# Twice: in a bare bash, and with bash-completion's helpers loaded, as on a
# Debian system (when it is installed here).
for framework in "" /usr/share/bash-completion/bash_completion; do
if [ -n "$framework" ]; then
    if [ -f "$framework" ]; then echo "-- with $framework"; else bad "bash-completion is not installed"; continue; fi
fi
bin=$(dirname "$RUNBOOK")
commands=$("$RUNBOOK" --help | awk '/^commands:/ { f = 1; next } f && /^$/ { exit } f { print $1 }')
# shellcheck disable=SC2086
includes "runbook " $commands
offers "runbook ru" run runs
offers "runbook run --for" --force --format
offers "runbook run --format " json text
offers "runbook run --sync " full normal
offers "runbook runs --format " json text
offers "runbook audit " anchor key verify
offers "runbook journal " copy prune
includes "runbook journal prune --" --before --db --dry-run --format --help
includes "runbook journal copy --" --format --from --help --to
offers "runbook run " alpha beta gamma
offers "runbook run al" alpha
offers "runbook run --dir other " delta
offers "runbook show --db j.db " 1 2 3
offers "runbook resume --db j.db " 3
offers "runbook resume --db j.db 2"
offers "runbook run -p "
offers "runbook run --param "
offers "runbook actions ex" exec
includes "runbook actions " exec log sleep http
offers "runbook help ru" run runs
includes "runbook validate --" --format --quiet --plugins --help

# A command the program gains completes from its own help.
mkdir -p "$tmp/newbin"
new_command "$tmp/newbin/runbook" 'usage: runbook frobnicate [--level N] [--mode fast|slow] RUN\n\n  --level N           how much\n  --mode fast|slow    how\n'
bin=$tmp/newbin
offers "runbook frob" frobnicate
offers "runbook frobnicate --" --level --mode
offers "runbook frobnicate --mode " fast slow
offers "runbook frobnicate --db j.db " 1 2 3
includes "runbook validate runb" runbooks
done

# zsh: compinit finds the installed _runbook for `runbook`, which runs the
# installed bash completion through bashcompinit; compadd (the one part of
# zsh that needs a live line editor) is a stand-in that keeps the words
# that start with what is typed, as compadd does.
zdir=$p/share/zsh/site-functions
has "$zdir/_runbook" "the zsh completion is installed"
if command -v zsh >/dev/null 2>&1; then
    zsh_offers() {
        got=$(cd "$tmp/w" && PATH="$bin:$PATH" zsh -f -c '
            fpath=("$1" $fpath)
            autoload -Uz compinit && compinit -u -D
            [[ $_comps[runbook] == _runbook ]] || { print -r -- "not registered: $_comps[runbook]"; exit 1 }
            compadd() {
                while (( $# )) && [[ $1 != - ]]; do shift; done
                shift
                local a
                for a in "$@"; do [[ $a == ${PREFIX}* ]] && print -r -- $a; done
                return 0
            }
            words=(${(z)2}); [[ $2 == *" " ]] && words+=("")
            CURRENT=${#words}; PREFIX=${words[CURRENT]}
            _runbook' _ "$zdir" "$1" </dev/null 2>&1 | sort | tr '\n' ' ' | sed 's/ $//')
        line=$1
        shift
        want=$(printf '%s\n' "$@" | sort | tr '\n' ' ' | sed 's/ $//')
        if [ "$got" = "$want" ]; then ok "zsh: '$line' -> $want"; else bad "zsh: '$line' -> '$got', want '$want'"; fi
    }
    bin=$(dirname "$RUNBOOK")
    zsh_offers "runbook ru" run runs
    zsh_offers "runbook run --format " json text
    zsh_offers "runbook audit " anchor key verify
    zsh_offers "runbook run " alpha beta gamma
    zsh_offers "runbook show --db j.db " 1 2 3
    zsh_offers "runbook journal prune --d" --db --dry-run
    zsh_offers "runbook validate runb" runbooks
else
    bad "zsh is not installed (make deps)"
fi

summary
