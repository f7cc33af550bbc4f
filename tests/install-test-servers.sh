#!/bin/bash
# Install Cyrus IMAP and Courier IMAP privately for the integration tests
# (tests/lib/cyrus.py, tests/lib/courier.py), as root, on Debian 12.
#
# Debian's cyrus-imapd and courier-imap conflict with dovecot-imapd (all
# three provide imap-server), and their postinst scripts would start system
# services.  So the packages are fetched with `apt-get download` and unpacked
# with `dpkg -x` under $PREFIX (never run, never registered with dpkg); only
# their shared-library dependencies are installed normally with apt-get.
# The tests run the binaries from there with LD_LIBRARY_PATH.
#
#   bash tests/install-test-servers.sh      # idempotent; prints the prefix
set -eu
PREFIX=${INBOXFS_TEST_SERVERS:-/opt/inboxfs-test-servers}
DEBS="cyrus-imapd cyrus-common courier-imap courier-base courier-authdaemon
      courier-authlib courier-authlib-userdb libcourier-unicode4"
# What the unpacked binaries link against (ldd below checks the list is
# complete), saslpasswd2 for Cyrus's sasldb.
LIBS="libclamav12 libgamin0 libical3 libidn12 libltdl7 libxapian30 libzephyr4
      libgdbm6 libgnutls30 libwrap0 libjansson4 libpcre3 libsasl2-2
      libsasl2-modules libsasl2-modules-db sasl2-bin"
stamp="$PREFIX/.installed"
want="$(echo $DEBS | tr ' ' '\n' | sort | tr '\n' ' ')"

missing=""
for p in $LIBS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "install-test-servers.sh: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "$PREFIX"; exit 0
fi
echo "install-test-servers.sh: unpacking$(echo " $DEBS" | tr -s ' \n' ' ') into $PREFIX"
dl="$(mktemp -d)"
trap 'rm -rf "$dl"' EXIT
chmod 755 "$dl"   # apt's download sandbox user must be able to write there
# shellcheck disable=SC2086
(cd "$dl" && apt-get download -q $DEBS >/dev/null 2>&1) || (cd "$dl" && apt-get download $DEBS)
rm -rf "$PREFIX.new"
mkdir -p "$PREFIX.new"
for deb in "$dl"/*.deb; do dpkg -x "$deb" "$PREFIX.new"; done

# every ELF file must find its libraries (system ones or ours)
libpath="$PREFIX.new/usr/lib/x86_64-linux-gnu:$PREFIX.new/usr/lib:$PREFIX.new/usr/lib/courier-authlib"
bad=""
for f in "$PREFIX.new"/usr/lib/cyrus/bin/* "$PREFIX.new"/usr/lib/courier/courier/imaplogin \
         "$PREFIX.new"/usr/bin/imapd "$PREFIX.new"/usr/bin/couriertls "$PREFIX.new"/usr/sbin/couriertcpd \
         "$PREFIX.new"/usr/lib/courier/courier-authlib/authdaemond "$PREFIX.new"/usr/lib/courier-authlib/*.so; do
    [ -f "$f" ] && file -b "$f" 2>/dev/null | grep -q ELF || continue
    nf="$(LD_LIBRARY_PATH=$libpath ldd "$f" 2>/dev/null | grep "not found" || true)"
    [ -n "$nf" ] && bad="$bad\n$f:\n$nf"
done
if [ -n "$bad" ]; then
    echo -e "install-test-servers.sh: unresolved libraries:$bad" >&2
    exit 1
fi
rm -rf "$PREFIX"
mv "$PREFIX.new" "$PREFIX"
echo "$want" > "$stamp"
echo "$PREFIX"
