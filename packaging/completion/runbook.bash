# bash completion for runbook(1). Installed as
# share/bash-completion/completions/runbook; `source` it to try it.
#
# Everything is read from the program itself, so a new command or option
# completes with no change here:
#   - commands: the "commands:" list of `runbook --help`;
#   - sub-actions (audit verify): "(runbook CMD SUB --help)" in CMD's help;
#   - options: every --long and -s option in `runbook CMD --help`;
#   - an option's values: "--OPT a|b|c" in that help (--format, --sync, …);
#   - a short option's value as its long one's ("-p, --param");
#   - arguments, by the usage line's word for them: NAME a runbook name
#     (the `name:` of the YAML files in --dir, default ./runbooks then .)
#     or a file, RUN a run id from the journal (--db, $RUNBOOK_DB or
#     ./runbook.db; the newest 50; for resume only those interrupted or
#     still running), PATH or FILE a file; `actions` the action names.
# Needs nothing but bash; uses bash-completion's helpers when they are there.
# zsh runs it too, through bashcompinit (packaging/completion/_runbook.in).

_runbook_help() { # CMD... → its --help, on stdout
    NO_COLOR=1 "$_runbook_bin" "$@" --help 2>/dev/null
}

_runbook_commands() {
    _runbook_help | awk '/^commands:/ { f = 1; next } f && /^$/ { exit } f { print $1 }'
}

# The value of option $1 on the line so far (the last one given), or $2.
_runbook_opt_value() {
    local i v=$2
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        "$1") v=${COMP_WORDS[i + 1]} ;;
        "$1"=*) v=${COMP_WORDS[i]#*=} ;;
        esac
    done
    printf '%s\n' "$v"
}

# Runbook names: the top-level `name:` of each YAML file below the folders.
_runbook_names() {
    local d
    for d in "$@"; do
        [ -d "$d" ] || continue
        find "$d" -maxdepth 8 -name '.*' -prune -o -name node_modules -prune -o \
            -type f \( -name '*.yaml' -o -name '*.yml' \) -print 2>/dev/null |
            head -n 2000 | while IFS= read -r f; do
            sed -n 's/^name:[[:space:]]*["'\'']\{0,1\}\([a-z0-9][a-z0-9-]*\).*/\1/p' "$f" 2>/dev/null | head -n 1
        done
        return
    done
}

# Run ids, newest first; with arguments, only the runs of those statuses.
_runbook_runs() {
    local db
    db=$(_runbook_opt_value --db "${RUNBOOK_DB:-runbook.db}")
    [ -f "$db" ] || return
    NO_COLOR=1 "$_runbook_bin" runs --db "$db" --limit 50 2>/dev/null |
        awk -v want=" $* " '$1 ~ /^[0-9]+$/ && (want == "  " || index(want, " " $3 " ")) { print $1 }'
}

# Action names, as `runbook actions` lists them (with --plugins if given).
_runbook_actions() {
    local plugins
    plugins=$(_runbook_opt_value --plugins "")
    NO_COLOR=1 "$_runbook_bin" actions ${plugins:+--plugins "$plugins"} 2>/dev/null |
        sed -n 's/^\([a-z][a-z0-9_.-]*\) — .*/\1/p'
}

_runbook_files() {
    if command -v _filedir >/dev/null 2>&1; then # (not declare -F: zsh reads that as a float)
        _filedir "$@"
    else
        local IFS=$'\n'
        COMPREPLY+=($(compgen -f -- "$cur"))
    fi
}

_runbook() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local _runbook_bin=${COMP_WORDS[0]} IFS=$' \t\n'
    COMPREPLY=()
    if ((COMP_CWORD == 1)); then
        COMPREPLY=($(compgen -W "$(_runbook_commands) help --help --version" -- "$cur"))
        return
    fi
    local cmd=${COMP_WORDS[1]} help sub
    if [ "$cmd" = help ]; then
        ((COMP_CWORD == 2)) && COMPREPLY=($(compgen -W "$(_runbook_commands)" -- "$cur"))
        return
    fi
    help=$(_runbook_help "$cmd") || return
    local subs
    subs=$(sed -n "s/.*(runbook $cmd \([a-z][a-z0-9-]*\) --help).*/\1/p" <<<"$help")
    if [ -n "$subs" ]; then
        if ((COMP_CWORD == 2)); then
            COMPREPLY=($(compgen -W "$subs" -- "$cur"))
            return
        fi
        sub=${COMP_WORDS[2]}
        help=$(_runbook_help "$cmd" "$sub") || return
    fi

    # A short option is its long one ("-p, --param KEY=VALUE").
    if [[ $prev == -[a-zA-Z] ]]; then
        local long
        long=$(grep -o -E -m1 -e "(^|[ ,[])$prev, --[a-z][a-z0-9-]*" <<<"$help" | head -n 1)
        [ -n "$long" ] && prev=${long##* }
    fi
    # The value of an option: its listed values, else by its metavariable.
    if [[ $prev == -* ]]; then
        local line values meta
        line=$(grep -E -m1 -e "(^|[[ ,])$prev[ =][^ ]" <<<"$help")
        values=$(grep -o -E -e "$prev[ =][a-z][a-z0-9_-]*(\|[a-z][a-z0-9_-]*)+" <<<"$line" | head -n 1)
        if [ -n "$values" ]; then
            COMPREPLY=($(compgen -W "$(tr '|' ' ' <<<"${values#*[ =]}")" -- "$cur"))
            return
        fi
        meta=$(grep -o -E -e "$prev[ =][A-Z][A-Z_=]*" <<<"$line" | head -n 1)
        meta=${meta#*[ =]}
        case $meta in
        DIR) COMPREPLY=($(compgen -d -- "$cur")) ; return ;;
        FILE) _runbook_files; return ;;
        NAME) COMPREPLY=($(compgen -e -- "$cur")) ; return ;; # --env NAME
        ?*) return ;; # KEY=VALUE, N, DATE…: nothing to offer
        esac
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(grep -o -E -e '(^|[ ,[])--?[a-zA-Z][a-zA-Z0-9-]*' <<<"$help" |
            sed 's/^[ ,[]//' | sort -u)" -- "$cur"))
        return
    fi
    local usage
    usage=$(sed -n '1p' <<<"$help")
    case "$cmd $usage" in
    # resume goes on with a run that died: interrupted, or still marked
    # running when no writer has opened the journal since.
    resume*" RUN"*) COMPREPLY=($(compgen -W "$(_runbook_runs interrupted running)" -- "$cur")) ;;
    actions*) COMPREPLY=($(compgen -W "$(_runbook_actions)" -- "$cur")) ;;
    *" RUN"*) COMPREPLY=($(compgen -W "$(_runbook_runs)" -- "$cur")) ;;
    *" NAME"*)
        local dir
        dir=$(_runbook_opt_value --dir "")
        if [ -n "$dir" ]; then
            COMPREPLY=($(compgen -W "$(_runbook_names "$dir")" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$(_runbook_names ./runbooks .)" -- "$cur"))
        fi
        # A FILE instead, once the word looks like a path (or names nothing).
        [[ $cur == */* || $cur == .* || ${#COMPREPLY[@]} -eq 0 ]] && _runbook_files
        ;;
    *" PATH"* | *" FILE"*) _runbook_files ;;
    esac
}
complete -F _runbook runbook
