#!/bin/bash
# Build the Debian package of inboxfs in one command (Debian 12):
#
#   bash packaging/build-deb.sh [OUTDIR]     # OUTDIR: default the current directory
#   sudo apt-get install ./inboxfs_*.deb
#
# The working tree (what git tracks plus new files it does not ignore: no
# build directories) is copied to a temporary directory and built there with
# dpkg-buildpackage -us -uc -b, so the source tree is never written to; the
# .deb files are copied to OUTDIR.  Missing build dependencies are installed
# with apt-get when run as root (else named).  lintian, when installed,
# checks the package: an error fails the build.  DEB_BUILD_OPTIONS is passed
# on (nocheck: no unit tests).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$(realpath "${1:-.}")"
die() { echo "build-deb.sh: $*" >&2; exit 1; }

command -v dpkg-buildpackage >/dev/null || die "dpkg-buildpackage is missing (apt-get install dpkg-dev)"
[ -d "$OUT" ] || die "no directory $OUT"
version="$(dpkg-parsechangelog -l "$REPO/debian/changelog" -S Version)"
WORK="$(mktemp -d /tmp/inboxfs-deb.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
SRC="$WORK/inboxfs-$version"
mkdir "$SRC"

# ---------------------------------------------------------------- the tree
if git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$REPO" ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [ -e "$REPO/$f" ] && printf '%s\0' "$f"; done |
        tar -C "$REPO" --null -T - -cf - | tar -C "$SRC" -xf -
else
    tar -C "$REPO" --exclude='./build*' --exclude=.git --exclude=__pycache__ \
        --exclude=.pytest_cache -cf - . | tar -C "$SRC" -xf -
fi

# ---------------------------------------------------------------- build dependencies
if ! (cd "$SRC" && dpkg-checkbuilddeps >/dev/null 2>&1); then
    [ "$(id -u)" = 0 ] || { (cd "$SRC" && dpkg-checkbuilddeps) || true
                            die "install the build dependencies above (or run me as root)"; }
    echo "build-deb.sh: installing the build dependencies"
    DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -qq --no-install-recommends "$SRC" \
        >"$WORK/apt.log" 2>&1 || { tail -20 "$WORK/apt.log"; die "apt-get build-dep failed"; }
fi

# ---------------------------------------------------------------- build
echo "build-deb.sh: building inboxfs $version in $SRC"
if ! (cd "$SRC" && dpkg-buildpackage -us -uc -b -Jauto) >"$WORK/build.log" 2>&1; then
    tail -60 "$WORK/build.log"
    die "dpkg-buildpackage failed"
fi
debs=("$WORK"/*.deb)
[ -e "${debs[0]}" ] || die "dpkg-buildpackage made no .deb"

if command -v lintian >/dev/null; then
    echo "build-deb.sh: lintian"
    lintian --fail-on error "$WORK"/inboxfs_*.changes || die "lintian found errors"
fi
cp "${debs[@]}" "$OUT/"
for d in "${debs[@]}"; do echo "built $OUT/$(basename "$d")"; done
