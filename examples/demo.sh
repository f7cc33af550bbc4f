#!/bin/bash
# shellcheck disable=SC2012  # the tour is about what ls shows
# inboxfs demo: one command on a fresh Debian 12 machine, as root.
#
#   bash examples/demo.sh
#
# Installs what is missing, builds inboxfs, starts a private Dovecot on
# 127.0.0.1 (tests/lib/dovecot.py) with some sample mail, mounts the account
# at /tmp/inboxfs-demo/mnt, shows a tour (ls, head, grep, stat; then the
# live parts: new mail with IN_CREATE, mv, rm and a flag, each checked by
# another IMAP client), waits for Enter when run from a terminal, and
# always cleans up (unmount, stop Dovecot), Ctrl-C included.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEMO=/tmp/inboxfs-demo
MNT="$DEMO/mnt"
PY=/usr/bin/python3
BIN="$REPO/build/inboxfs"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "demo.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run me as root (apt-get, FUSE mount and a private Dovecot)"

# ---------------------------------------------------------------- packages
bash "$REPO/tests/install-deps.sh" >/dev/null || die "installing dependencies failed"

# ---------------------------------------------------------------- build
say "building inboxfs"
cd "$REPO"
[ -d build ] || meson setup build >/dev/null
meson compile -C build >/dev/null || die "build failed (run: meson compile -C build)"
[ -x "$BIN" ] || die "no binary at $BIN"

# ---------------------------------------------------------------- cleanup
DC_PID=""
FS_PID=""
INW_PID=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    [ -n "$INW_PID" ] && kill "$INW_PID" 2>/dev/null && wait "$INW_PID" 2>/dev/null
    if findmnt -n "$MNT" >/dev/null 2>&1; then
        fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null
    fi
    if [ -n "$FS_PID" ] && kill -0 "$FS_PID" 2>/dev/null; then
        for _ in $(seq 50); do kill -0 "$FS_PID" 2>/dev/null || break; sleep 0.1; done
        kill -TERM "$FS_PID" 2>/dev/null
        wait "$FS_PID" 2>/dev/null
    fi
    if [ -n "$DC_PID" ] && kill -0 "$DC_PID" 2>/dev/null; then
        kill -TERM "$DC_PID"          # dovecot.py stops Dovecot and removes its files
        wait "$DC_PID" 2>/dev/null
    fi
    rm -rf "$DEMO/password" "$DEMO/env" "$DEMO/peer.py" "$DEMO/events" "$DEMO/events.err"
    rmdir "$MNT" 2>/dev/null
    echo "demo.sh: cleaned up"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# a previous run that was killed hard may have left a mount behind
if findmnt -n "$MNT" >/dev/null 2>&1; then fusermount3 -uz "$MNT" || true; fi
mkdir -p "$MNT"
chmod 700 "$DEMO"

# ---------------------------------------------------------------- dovecot
say "starting a private Dovecot with sample mail"
rm -f "$DEMO/env"
"$PY" "$REPO/tests/lib/dovecot.py" run --seed-sample --env-file "$DEMO/env" \
    >"$DEMO/dovecot.out" 2>&1 &
DC_PID=$!
for _ in $(seq 300); do                      # up to 30 s
    [ -s "$DEMO/env" ] && break
    kill -0 "$DC_PID" 2>/dev/null || { cat "$DEMO/dovecot.out" >&2; die "Dovecot did not start"; }
    sleep 0.1
done
[ -s "$DEMO/env" ] || { cat "$DEMO/dovecot.out" >&2; die "Dovecot did not start in 30 s"; }
# shellcheck disable=SC1091
. "$DEMO/env"
echo "imaps on $DC_HOST:$DC_IMAPS_PORT, imap+STARTTLS on $DC_HOST:$DC_IMAP_PORT, user $DC_USER"

# ---------------------------------------------------------------- mount
say "mounting $DC_URL on $MNT"
( umask 077; printf '%s\n' "$DC_PASSWORD" >"$DEMO/password" )
echo "\$ inboxfs -f -o cafile=$DC_CAFILE,password_file=$DEMO/password $DC_URL $MNT"
"$BIN" -f -o "cafile=$DC_CAFILE,password_file=$DEMO/password" "$DC_URL" "$MNT" \
    >"$DEMO/inboxfs.log" 2>&1 &
FS_PID=$!
for _ in $(seq 300); do
    [ "$(findmnt -n -o FSTYPE "$MNT" 2>/dev/null)" = fuse.inboxfs ] && break
    kill -0 "$FS_PID" 2>/dev/null || { cat "$DEMO/inboxfs.log" >&2; die "inboxfs exited"; }
    sleep 0.1
done
[ "$(findmnt -n -o FSTYPE "$MNT" 2>/dev/null)" = fuse.inboxfs ] \
    || { cat "$DEMO/inboxfs.log" >&2; die "no mount after 30 s"; }

# ---------------------------------------------------------------- tour
# Show a command as it would be typed (arguments with spaces or
# backslashes quoted), then run it.
show() {
    local a line='$'
    for a in "$@"; do
        if [[ "$a" =~ ^[[:alnum:]_./:%@,+=-]+$ ]]; then line+=" $a"; else line+=" '$a'"; fi
    done
    echo; echo "$line"; "$@" || true
}
cd "$MNT"
say "a short tour"
show ls -R
show ls -l INBOX
first=$(ls INBOX | sort -n | head -n 1)
show head -n 8 "INBOX/$first"
show grep -rli invoice .
show stat -c '%n: %s bytes, received %y' "Entwürfe/$(ls Entwürfe | head -n 1)"

# ---------------------------------------------------------------- live tour
# Another IMAP client (tests/lib/imapraw.py), to deliver mail and to show
# what the server itself says: it prints what it sends and the answers.
cat >"$DEMO/peer.py" <<'PY'
import sys, time
repo, host, port, ca, user, pwfile, cmd, folder = sys.argv[1:9]
sys.path.insert(0, repo + "/tests/lib")
import imapraw
c = imapraw.RawIMAP.connect(host, int(port), cafile=ca)
c.login(user, open(pwfile).read().strip())
def run(line, shown=None):
    print("  another client: C: %s" % (shown or line))
    r = c.command(line)
    for parts in r.untagged:
        print("                  S: %s" % parts[0].decode(errors="replace").rstrip())
    print("                  S: R%04d %s %s" % (c._tagn, r.status, r.text))
if cmd == "append":
    msg = ("From: Bob <bob@example.net>\r\nTo: alice@example.org\r\n"
           "Subject: The meeting moves to 3 pm\r\nDate: %s\r\n\r\n"
           "See you then.\r\n" % time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()))
    run(b"APPEND %s {%d+}\r\n%s" % (folder.encode(), len(msg), msg.encode()),
        "APPEND %s {%d+} (a message from Bob)" % (folder, len(msg)))
elif cmd == "count":
    run("STATUS %s (MESSAGES)" % folder)
else:
    print("  another client: C: EXAMINE %s  (its answer left out)" % folder)
    c.check(c.command("EXAMINE " + folder))
    run("UID SEARCH ALL" if cmd == "uids" else "UID FETCH %s (FLAGS)" % sys.argv[9])
c.logout()
PY
peer() { "$PY" "$DEMO/peer.py" "$REPO" "$DC_HOST" "$DC_IMAPS_PORT" "$DC_CAFILE" "$DC_USER" \
                 "$DEMO/password" "$@"; }
# Wait (at most 15 s) for a line in FILE matching PATTERN.
wait_line() {
    for _ in $(seq 150); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}

say "new mail: it appears as a file, with IN_CREATE (inotify)"
echo "\$ inotifywait -m -e create INBOX &"
inotifywait -m -e create INBOX >"$DEMO/events" 2>"$DEMO/events.err" &
INW_PID=$!
wait_line "$DEMO/events.err" "Watches established" || die "inotifywait did not start"
peer append INBOX
wait_line "$DEMO/events" " CREATE " || die "no IN_CREATE within 15 s"
sed 's/^/  inotifywait: /' "$DEMO/events"
new=$(awk '/ CREATE /{ print $3; exit }' "$DEMO/events")
show grep -m 1 '^Subject:' "INBOX/$new"
show cat INBOX/.newmail

say "mv: UID MOVE on the server; the message gets its new folder's next UID"
show mv "INBOX/$new" Archive/
show ls Archive
peer uids Archive

say "rm: UID EXPUNGE of that message alone; the server's count drops"
peer count INBOX
spam=$(grep -l '^Subject: You have WON' INBOX/*.eml | head -n 1)
show rm "$spam"
peer count INBOX

say "flags: an extended attribute of the file is the message's FLAGS"
show setfattr -n user.imap.flags -v '\Seen \Flagged' "INBOX/$first"
peer flags INBOX "${first%.eml}"
show getfattr -n user.imap.flags "INBOX/$first"

# (.parts and .search: their steps go here once they exist.)
kill "$INW_PID"; wait "$INW_PID" 2>/dev/null || true; INW_PID=""
cd /

echo
if [ -t 0 ]; then
    echo "The account stays mounted at $MNT: look around in another terminal."
    read -r -p "Press Enter to unmount and stop Dovecot... " _ || true
else
    echo "(stdin is not a terminal: not waiting)"
fi
