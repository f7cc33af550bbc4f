#!/bin/bash
# Run a command on each new message of an inboxfs folder, as it arrives.
#
#   on-new-mail.sh FOLDER COMMAND [ARGS...]
#
# FOLDER is a folder on an inboxfs mount (~/mail/INBOX); COMMAND is run as
# `COMMAND [ARGS...] FOLDER/UID.eml` for each message inboxfs announces
# while the script runs (IN_CREATE), one at a time.  The simplest recipe:
# nothing is remembered, so mail that arrives while the script is not
# running, or while the mount is away, is not seen; process-new-mail.sh
# keeps its place across restarts.
#
#   on-new-mail.sh ~/mail/INBOX sh -c 'if grep -q "^Subject: .*invoice" "$1"; then lp "$1"; fi' -
#
# A COMMAND that exits non-zero is reported on stderr; the script goes on.
set -u
[ $# -ge 2 ] || { echo "usage: $0 FOLDER COMMAND [ARGS...]" >&2; exit 2; }
folder="${1%/}"
shift
inotifywait -m -q -e create --format %f "$folder" | while read -r f; do
    case $f in
    *.eml) "$@" "$folder/$f" || echo "on-new-mail: $1 failed on $f" >&2 ;;
    esac
done
