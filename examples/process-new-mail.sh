#!/bin/bash
# Process every new message of an inboxfs folder once, in UID order.
#
#   process-new-mail.sh FOLDER HANDLER [ARGS...]
#
# FOLDER is a folder on an inboxfs mount (~/mail/INBOX); HANDLER is run as
# `HANDLER [ARGS...] FOLDER/UID.eml` for each message that arrives, and the
# message counts as processed when HANDLER exits 0.  The last processed UID
# is kept in $XDG_STATE_HOME/inboxfs-examples/ (~/.local/state/...), so the
# script can be stopped and started again, and the mount can go away and
# come back: nothing is processed twice, nothing is skipped.  On the very
# first run only mail arriving from then on is processed.
#
# Exactly once, with one caveat: if the script is killed while HANDLER runs,
# that message is handed to HANDLER again next time (make HANDLER safe to
# repeat, or accept that).  UIDs are only comparable within one UIDVALIDITY:
# if the server re-creates the folder, delete the state file.
set -u
[ $# -ge 2 ] || { echo "usage: $0 FOLDER HANDLER [ARGS...]" >&2; exit 2; }
folder="${1%/}"
shift
state_dir="${XDG_STATE_HOME:-$HOME/.local/state}/inboxfs-examples"
state="$state_dir/$(printf '%s' "$(realpath -m "$folder")" | md5sum | cut -c1-16).last"
mkdir -p "$state_dir"

uids() {  # the folder's UIDs, ascending
    ls -- "$folder" 2>/dev/null | sed -n 's/^\([1-9][0-9]*\)\.eml$/\1/p' | sort -n
}

save() {  # atomically: a crash never leaves a half-written state
    printf '%s\n' "$1" > "$state.tmp" && mv -f "$state.tmp" "$state"
}

catch_up() {
    local last uid
    last=$(cat "$state" 2>/dev/null) || return 1
    for uid in $(uids); do
        [ "$uid" -gt "$last" ] || continue
        if ! "$@" "$folder/$uid.eml"; then
            echo "process-new-mail: handler failed on $uid.eml; retrying later" >&2
            return 1
        fi
        save "$uid"
        last=$uid
    done
}

wait_for_folder() {  # the mount may be away (remount, reboot)
    until [ -f "$folder/.newmail" ]; do sleep 1; done
}

# One round: watch, catch up, then wait for an event or RECHECK seconds.
# The watch is set before catching up, so nothing slips in between; the
# timeout notices a mount that went away (a FUSE unmount is lazy and
# sends inotify watchers nothing) or came back.
recheck=${INBOXFS_RECHECK:-5}
round() {
    local line fd pid
    coproc WATCH { exec inotifywait -t "$recheck" -e create -e close_write "$folder" 2>&1; }
    # (bash forgets WATCH and WATCH_PID once the coprocess ends)
    fd=${WATCH[0]} pid=$WATCH_PID
    while read -r -u "$fd" line; do
        [ "$line" = "Watches established." ] && break
    done
    catch_up "$@"
    while read -r -u "$fd" line; do :; done  # an event, or the timeout
    wait "$pid" 2>/dev/null
}

wait_for_folder
if [ ! -s "$state" ]; then
    save "$(uids | tail -n 1 | grep . || echo 0)"
fi
while true; do
    wait_for_folder
    round "$@"
done
