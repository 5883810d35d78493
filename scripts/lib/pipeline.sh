# shellcheck shell=bash
# What deploy.sh and destroy.sh share: running stages under the state lock
# so that whatever happens, the document is stored and the lock released.
#
#   run_locked SCRIPT DOC STAGE...    e.g. run_locked deploy.sh cluster.json "phx-net apply" ...
#
# - On a terminal (unless PHX_VIEW=plain, as -v sets it), `phx-state view`
#   draws one line per stage and every line the stages print goes, with a
#   timestamp, to a 0600 log file (PHX_LOG_DIR, else
#   ~/.local/state/phx/logs, as SCRIPT-NAME-UTCTIME.log), named at the
#   start and again on failure. PHX_VIEW=quiet: the log only, no view.
#   Elsewhere (CI, pipes, 2>file) the stages' lines stream as they come.
# - The lock is taken first, on its own: when someone else holds it, that
#   is the whole story (phx-state names the holder), exit 1, nothing runs.
# - Ctrl-C and SIGTERM reach every stage: each stops and writes the
#   document as it stands; `phx-state push` still stores it and releases
#   the lock; this then reports and exits 130.
# - A failing stage marks the document (.error); the later ones pass it
#   through; it is stored, the lock released, and the first failing stage
#   is named with its message.
# - The document is also kept in a private file on its way to push: if
#   storing it fails, it is not lost, and the message says how to store it.
# Returns 0 on success; otherwise exits with the first failure's status.

# Each stage says when it starts and how long it took (phx_core::progress);
# PHX_STAGE_LINES= (empty) turns that off.
export PHX_STAGE_LINES=${PHX_STAGE_LINES-1}

# The stages piped one into the next, each one's exit status in $codes/N.
_stages() { # index stage...
    local i=$1 s=$2
    shift 2
    # Each stage's shell outlives a signal to the group (a handler, not the
    # default, so the stage itself still gets the signal) to record how the
    # stage ended.
    if [[ $# -eq 0 ]]; then
        trap : INT TERM
        _tagged "$i" run_stage "$s"
        echo $? > "$codes/$i"
        return
    fi
    { trap : INT TERM; _tagged "$i" run_stage "$s"; echo $? > "$codes/$i"; } | _stages $((i + 1)) "$@"
}

# CMD, its stderr tagged "INDEX<TAB>" for the view when there is one
# ($view_fd). The tagger is deaf to Ctrl-C, as the view is: a stage that
# stops on Ctrl-C still has somewhere to say so.
_tagged() { # index cmd...
    local i=$1
    shift
    if [[ -z ${view_fd:-} ]]; then
        "$@"
        return
    fi
    "$@" 2> >(trap '' INT TERM; _tag "$i" >&"$view_fd")
}

_tag() { # index
    local l
    while IFS= read -r l || [[ -n $l ]]; do printf '%s\t%s\n' "$1" "$l"; done
}

# One stage: a command and its verb, or stages that need nothing from each
# other joined by " & " ("phx-net apply & phx-iam apply"): those run side
# by side on the same input, each writing its own copy, and `phx-state
# join` makes the copies one document (each stage writes only its own
# status key). Exit status: the first failing member's, else the join's.
# (The AWS benchmark times this function as deploy.sh runs it.)
run_stage() { # stage
    if [[ $1 != *' & '* ]]; then
        # shellcheck disable=SC2086 # a stage is a command and its verb
        $1
        return
    fi
    local dir members i code=0 c
    dir=$(umask 077 && mktemp -d)
    mapfile -t members <<< "${1// & /$'\n'}"
    cat > "$dir/in"
    for i in "${!members[@]}"; do mkdir "$dir/$i"; done
    # A pipeline, not `&`: its members get Ctrl-C like any stage (a
    # background job of a script ignores SIGINT). Nothing flows through
    # its pipes; each member writes its copy to a file.
    _side_by_side "$dir" 0 "${members[@]}"
    for i in "${!members[@]}"; do
        c=$(cat "$dir/$i.code" 2>/dev/null || echo 1)
        if [[ $code -eq 0 ]]; then code=$c; fi
    done
    # The join is deaf to Ctrl-C and SIGTERM, as the copy on the way to
    # push is: killed, it would lose every member's document.
    (
        trap '' INT TERM
        exec phx-state join "$dir"/*/* < "$dir/in"
    )
    c=$?
    if [[ $c -gt 1 ]]; then
        # No joined document came out (exit 0 and 1 both write one): the
        # members' own are all there is, so they stay.
        printf '%s: phx-state join failed (exit %s); the stages'"'"' documents are kept in %s\n' \
            "${0##*/}" "$c" "$dir" >&2
    else
        rm -rf "$dir"
    fi
    if [[ $code -eq 0 ]]; then code=$c; fi
    return "$code"
}

_side_by_side() { # dir index member...
    local dir=$1 i=$2 m=$3
    shift 3
    local out="$dir/$i/${m%% *}"
    if [[ $# -eq 0 ]]; then
        # shellcheck disable=SC2086
        { trap : INT TERM; $m < "$dir/in" > "$out"; echo $? > "$dir/$i.code"; }
        return
    fi
    # shellcheck disable=SC2086
    { trap : INT TERM; $m < "$dir/in" > "$out"; echo $? > "$dir/$i.code"; } |
        _side_by_side "$dir" $((i + 1)) "$@"
}

# The copy on the way to push: tee, deaf to Ctrl-C and SIGTERM (ignored
# signals stay ignored across exec), or a signal to the whole group (as
# timeout, systemd and CI runners send it) would kill it and push would
# read nothing.
_keep() { # file
    trap '' INT TERM
    exec tee "$1"
}

# push, deaf to Ctrl-C and SIGTERM for the same reason: phx-state push
# finishes storing what it read, but the subshell that runs it in the
# pipeline would die of a signal to the group and report a stored document
# as not stored (CI: exit 143 and "FAILED to store" after the store).
_push() {
    trap '' INT TERM
    _tagged 0 phx-state push --unlock
}

# Whether the stored document carries the same .error as FILE.
stored_as() { # doc file
    local want got
    want=$(jq -c '.error // empty' "$2" 2>/dev/null) || return 1
    [[ -n $want ]] || return 1
    got=$(phx-state pull < "$1" 2>/dev/null | jq -c '.error // empty') || return 1
    [[ $got == "$want" ]]
}

# Start the view (phx-state view) reading a private FIFO; $view_fd is this
# shell's write end (the stages' taggers write through it), $viewer its pid.
_view() { # log stage...
    local log=$1 fifo quiet=()
    shift
    [[ ${PHX_VIEW:-} == quiet ]] && quiet=(--quiet)
    fifo=$(umask 077 && mktemp -u "${TMPDIR:-/tmp}/phx-view-XXXXXX")
    mkfifo -m 600 "$fifo"
    ( trap '' INT TERM; exec phx-state view "${quiet[@]}" --log "$log" -- "$@" < "$fifo" ) &
    viewer=$!
    exec {view_fd}> "$fifo"
    rm -f "$fifo"
}

run_locked() {
    local script=$1 doc=$2
    shift 2
    local locked name backup
    interrupted=false
    trap 'interrupted=true' INT TERM
    locked=$(phx-state lock < "$doc") || exit $?
    if $interrupted; then
        # Ctrl-C while the lock was being taken: give it back, start nothing.
        phx-state unlock <<< "$locked" > /dev/null
        printf '%s: INTERRUPTED before any stage ran; the lock is released\n' "$script" >&2
        exit 130
    fi
    name=$(jq -r .metadata.name <<< "$locked")
    codes=$(mktemp -d)
    backup=$(umask 077 && mktemp "${TMPDIR:-/tmp}/phx-$name-XXXXXX.json")
    local log='' viewer=''
    view_fd=''
    if [[ ${PHX_VIEW:-} == quiet || ( -t 2 && ${PHX_VIEW:-} != plain ) ]]; then
        log="${PHX_LOG_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/phx/logs}/${script%.sh}-$name-$(date -u +%Y%m%dT%H%M%SZ).log"
        [[ ${PHX_VIEW:-} == quiet ]] || printf '%s: details in %s\n' "$script" "$log" >&2
        _view "$log" "$@"
    fi
    set +e
    printf '%s\n' "$locked" | _stages 1 "$@" | _keep "$backup" | _push > /dev/null
    local push=${PIPESTATUS[3]}
    if [[ -n $view_fd ]]; then
        # The view ends when the last stage's lines are in.
        exec {view_fd}>&-
        wait "$viewer"
        view_fd=''
    fi
    set -e
    trap - INT TERM
    # push also exits 1 after storing a document marked failed: stored is
    # when the store holds this document's .error.
    if [[ $push -ne 0 ]] && ! stored_as "$doc" "$backup"; then
        printf '%s: FAILED to store the document; it is kept in %s: store it with\n  phx-state push --unlock < %s\n' \
            "$script" "$backup" "$backup" >&2
        rm -rf "$codes"
        exit "$push"
    fi
    rm -f "$backup"
    local i status=0 failed stage=
    for ((i = 1; i <= $#; i++)); do
        status=$(cat "$codes/$i" 2>/dev/null || echo 1)
        if [[ $status -ne 0 ]]; then stage=${!i}; break; fi
    done
    rm -rf "$codes"
    # 130: a stage stopped by Ctrl-C (this script may not see the signal
    # itself: started in the background, it ignores SIGINT).
    [[ $status -eq 130 ]] && interrupted=true
    if $interrupted || [[ $status -ne 0 ]]; then
        failed=$(phx-state pull < "$doc" 2>/dev/null | jq -r '.error | select(.) | "\(.tool): \(.message)"' 2>/dev/null || true)
        if $interrupted; then
            printf '%s: INTERRUPTED%s\n' "$script" "${failed:+ in $failed}" >&2
            [[ $status -ne 0 ]] || status=130
        else
            printf '%s: FAILED in %s\n' "$script" "${failed:-${stage%% *} (exit $status)}" >&2
        fi
        printf '%s: the document (with everything made so far) is stored and the lock released; fix and re-run\n' "$script" >&2
        [[ -z $log ]] || printf '%s: details in %s\n' "$script" "$log" >&2
        exit "$status"
    fi
}
