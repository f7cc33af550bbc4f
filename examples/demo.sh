#!/bin/bash
# shellcheck disable=SC2012  # the tour is about what ls shows
# inboxfs demo: one command on a fresh Debian 12 machine, as root.
#
#   bash examples/demo.sh
#
# Installs what is missing, builds inboxfs, starts a private Dovecot on
# 127.0.0.1 (tests/lib/dovecot.py) with some sample mail, mounts the account
# at /tmp/inboxfs-demo/mnt, shows a short tour, waits for Enter when run
# from a terminal, and always cleans up (unmount, stop Dovecot), Ctrl-C
# included.
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
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
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
    rm -rf "$DEMO/password" "$DEMO/env"
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
show() { echo; echo "\$ $*"; "$@" || true; }
cd "$MNT"
say "a short tour"
show ls -R
show ls -l INBOX
first=$(ls INBOX | sort -n | head -n 1)
show head -n 8 "INBOX/$first"
show grep -rli invoice .
show stat -c '%n: %s bytes, received %y' "Entwürfe/$(ls Entwürfe | head -n 1)"
cd /

echo
if [ -t 0 ]; then
    echo "The account stays mounted at $MNT: look around in another terminal."
    read -r -p "Press Enter to unmount and stop Dovecot... " _ || true
else
    echo "(stdin is not a terminal: not waiting)"
fi
