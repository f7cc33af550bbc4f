#!/bin/bash
# Install (as root, with apt-get) whatever of inboxfs's build, test and demo
# dependencies is missing (rsync, isync, mpack, ripmime: the user-flow tests
# and benches).  Used by examples/demo.sh, tests/run.sh and .ci/run.
set -u
PKGS="meson ninja-build gcc gdb clang libclang-rt-14-dev pkg-config libfuse3-dev fuse3 libssl-dev
      libcurl4-openssl-dev libcjson-dev libgmime-3.0-dev dovecot-imapd dovecot-core python3 python3-pytest
      openssl inotify-tools util-linux procps attr man-db file valgrind rsync isync
      mpack ripmime tar findutils"
# The Debian package's build (tests/integration/test_package.py), without
# recommends (gnupg, build-essential's extras).
PKGS_BARE="debhelper dpkg-dev"
missing_of() {
    local p out=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || out="$out $p"
    done
    echo "$out"
}
# shellcheck disable=SC2086  # one word per package
missing="$(missing_of $PKGS)" bare="$(missing_of $PKGS_BARE)"
if [ -n "$missing$bare" ]; then
echo "install-deps.sh: installing:$missing$bare"
export DEBIAN_FRONTEND=noninteractive
# (the system Dovecot that dovecot-core would start is left alone: the
# tests and the demo run their own on free ports)
apt-get update -qq || exit 1
# shellcheck disable=SC2086  # one word per package
if [ -n "$missing" ]; then apt-get install -y -qq $missing >/dev/null || exit 1; fi
# shellcheck disable=SC2086
if [ -n "$bare" ]; then apt-get install -y -qq --no-install-recommends $bare >/dev/null || exit 1; fi
fi
# Cyrus and Courier for the multi-server tests: unpacked privately (they
# conflict with dovecot-imapd), see the script.
bash "$(dirname "${BASH_SOURCE[0]}")/install-test-servers.sh" >/dev/null
