"""Issue 7, transport and mount security.

TLS           a certificate of another host, an expired certificate, a CA we
              do not trust (given cafile, and the system store by default),
              and a server that offers only TLS 1.1: each refused at mount
              time with one line naming the problem, nothing mounted, and
              Dovecot's log shows the connection but no login attempt.
Plaintext     tls=none sends credentials only to a loopback address unless
              -o allow_plaintext_auth; checked with a scripted server bound
              to this machine's own non-loopback address.
allow_other   the mount is private by default: another uid gets EACCES;
              with -o allow_other it can list and read (never write).
"""

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import warnings

import pytest

import dovecot as dovecot_mod
import fakeimap
import inboxfs as ifs

MOUNT_TIMEOUT = 30.0
FAIL_WITHIN = 10.0 * ifs.timeout_scale()  # a refusal is reported at once


def _assert_refused(r, mountpoint, secret, phrases):
    """Non-zero exit, quickly; exactly one line on stderr containing one
    of phrases; no mount; the secret not shown."""
    assert r.returncode not in (0, None), r
    assert r.elapsed < FAIL_WITHIN, "took %.1f s: %r" % (r.elapsed, r)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, "want exactly one line on stderr: %r" % r.stderr
    assert any(p in lines[0] for p in phrases), "%r names none of %s" % (lines[0], phrases)
    assert not ifs.is_mounted(mountpoint, None), "left a mount behind"
    assert secret not in r.output, "secret leaked"


def _no_login_attempt(dc, log_offset):
    """Dovecot saw the connection end (its imap-login logs each one) and
    no authentication was tried on it."""
    def new_lines():
        return dc.log()[log_offset:].splitlines()

    seen = ifs.wait_until(lambda: [l for l in new_lines() if "imap-login:" in l
                                   and "Disconnected" in l], timeout=10)
    assert seen, "Dovecot logged no disconnect:\n%s" % "\n".join(new_lines())
    for line in new_lines():
        assert "Login: user=" not in line, line
        assert "auth failed" not in line and "Aborted login" not in line, line
        if "auth attempts" in line:
            assert "no auth attempts" in line, line


def _run_refused(inboxfs_bin, dc, tmp_path, url, cafile):
    mnt = str(tmp_path / "mnt")
    os.makedirs(mnt, exist_ok=True)
    pw = ifs.write_password_file(str(tmp_path), dc.password)
    opts = {"password_file": pw}
    if cafile:
        opts["cafile"] = cafile
    offset = len(dc.log())
    r = ifs.run_inboxfs(inboxfs_bin, ifs.build_args(url, mnt, opts), timeout=30)
    return r, mnt, offset


@pytest.fixture(scope="module")
def wrong_host_dovecot():
    """A certificate that names another host only."""
    dc = dovecot_mod.Dovecot(cert_san="DNS:mail.example.org")
    yield dc
    dc.stop()


@pytest.fixture(scope="module")
def expired_dovecot():
    """A certificate for localhost, from our CA, that expired in 2021."""
    dc = dovecot_mod.Dovecot(cert_validity=dovecot_mod.EXPIRED)
    yield dc
    dc.stop()


BAD_CERT_CASES = {
    # case: (server fixture, cafile: its "right" CA, the "wrong" one or None
    # for the system store, phrases the reason must contain)
    "unknown-ca": ("dovecot", "wrong", ["unable to get local issuer certificate"]),
    "system-store": ("dovecot", None, ["unable to get local issuer certificate"]),
    "wrong-host": ("wrong_host_dovecot", "right",
                   ["not valid for 'localhost'", "hostname mismatch"]),
    "expired": ("expired_dovecot", "right", ["certificate has expired"]),
}


@pytest.mark.parametrize("starttls", [False, True], ids=["imaps", "starttls"])
@pytest.mark.parametrize("case", sorted(BAD_CERT_CASES))
def test_bad_certificate_refused(request, inboxfs_bin, tmp_path, case, starttls):
    """system-store: no cafile given, so the system's trust store is used,
    and it does not know the test CA."""
    which, ca, phrases = BAD_CERT_CASES[case]
    dc = request.getfixturevalue(which)
    cafile = {"wrong": dc.wrong_cafile, "right": dc.cafile, None: None}[ca]
    r, mnt, offset = _run_refused(inboxfs_bin, dc, tmp_path, dc.url(tls=not starttls), cafile)
    _assert_refused(r, mnt, dc.password, phrases)
    assert "TLS verification failed" in r.stderr, r
    _no_login_attempt(dc, offset)


# ------------------------------------------------------------------ TLS 1.1

class OldTLSServer:
    """Implicit-TLS IMAP greeter that speaks at most TLS 1.1 (OpenSSL's
    security level 0 lets it), with Dovecot's certificate.  Records every
    line a client sends after the handshake."""

    def __init__(self, certfile, keyfile):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self.ctx = old_tls_context(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(certfile, keyfile)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.lines, self.handshake_errors, self.versions = [], [], []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                c.settimeout(10)
                t = self.ctx.wrap_socket(c, server_side=True)
                self.versions.append(t.version())
                t.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] old TLS\r\n")
                for line in t.makefile("rb"):
                    self.lines.append(line)
                    t.sendall(b"* BYE test over\r\n")
                    break
                t.close()
            except (OSError, ssl.SSLError) as e:
                self.handshake_errors.append(str(e))
                c.close()

    def stop(self):
        self.sock.close()
        self.thread.join(5)


def old_tls_context(protocol):
    ctx = ssl.SSLContext(protocol)
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    if protocol == ssl.PROTOCOL_TLS_CLIENT:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def test_tls11_only_server_refused(inboxfs_bin, dovecot, tmp_path):
    key = os.path.join(os.path.dirname(dovecot.server_cert), "server.key")
    srv = OldTLSServer(dovecot.server_cert, key)
    try:
        # The server really speaks TLS 1.1 to a client willing to.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            cctx = old_tls_context(ssl.PROTOCOL_TLS_CLIENT)
        with cctx.wrap_socket(socket.create_connection(("127.0.0.1", srv.port), 10)) as s:
            assert s.version() == "TLSv1.1"
            assert s.recv(100).startswith(b"* OK")
            s.sendall(b"a LOGOUT\r\n")
        assert ifs.wait_until(lambda: srv.lines, 5)
        srv.lines.clear()
        url = "imaps://%s@localhost:%d" % (dovecot.user, srv.port)
        r, mnt, _ = _run_refused(inboxfs_bin, dovecot, tmp_path, url, dovecot.cafile)
        _assert_refused(r, mnt, dovecot.password, ["TLS 1.2"])
        assert srv.lines == [], "the client sent data over TLS 1.1: %r" % srv.lines
        assert ifs.wait_until(lambda: srv.handshake_errors, 5), "the server saw no handshake"
    finally:
        srv.stop()


# ------------------------------------------------------------ plaintext auth

def _non_loopback_ipv4():
    """This machine's own non-loopback IPv4 address (hostname -I), or None."""
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True,
                             timeout=10).stdout
    except OSError:
        return None
    for addr in out.split():
        if "." in addr and not addr.startswith("127."):
            return addr
    return None


@pytest.fixture
def remote_fake():
    """A scripted server on a non-loopback address of this machine: as far
    as inboxfs can tell (by the address it connects to), a remote host."""
    ip = _non_loopback_ipv4()
    if ip is None:
        pytest.skip("this machine has no non-loopback IPv4 address (hostname -I)")
    cls = type("RemoteFake", (fakeimap.FakeIMAPServer,), {"host": ip})
    srv = cls([fakeimap.FakeMailbox("INBOX")], users={"alice": "plain-pw-31d7"}).start()
    yield srv
    srv.stop()


def _credential_commands(srv):
    return srv.commands("LOGIN") + srv.commands("AUTHENTICATE")


def test_plaintext_auth_refused_off_loopback(inboxfs_bin, remote_fake, tmp_path):
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    pw = ifs.write_password_file(str(tmp_path), remote_fake.password)
    r = ifs.run_inboxfs(inboxfs_bin, ifs.build_args(
        remote_fake.url(), mnt, {"tls": "none", "password_file": pw}))
    _assert_refused(r, mnt, remote_fake.password, ["allow_plaintext_auth"])
    assert remote_fake.host in r.stderr, r
    assert remote_fake.connections >= 1, "never connected: the refusal must come after"
    assert _credential_commands(remote_fake) == [], remote_fake.commands()


def test_plaintext_auth_allowed_with_option(remote_fake, mount, tmp_path):
    pw = ifs.write_password_file(str(tmp_path), remote_fake.password)
    m = mount(remote_fake.url(), options={"tls": "none", "password_file": pw,
                                          "allow_plaintext_auth": True},
              timeout=MOUNT_TIMEOUT)
    assert "INBOX" in os.listdir(m.mountpoint)
    assert _credential_commands(remote_fake), remote_fake.commands()


def test_plaintext_auth_on_loopback(fake_imap, mount, tmp_path):
    srv = fake_imap([fakeimap.FakeMailbox("INBOX")], users={"alice": "plain-pw-8812"})
    assert srv.host.startswith("127.")
    pw = ifs.write_password_file(str(tmp_path), srv.password)
    m = mount(srv.url(), options={"tls": "none", "password_file": pw}, timeout=MOUNT_TIMEOUT)
    assert "INBOX" in os.listdir(m.mountpoint)
    assert _credential_commands(srv)


# ------------------------------------------------------------------ allow_other

@pytest.fixture
def shared_dir():
    """A directory any uid may traverse (pytest's tmp_path is 0700)."""
    d = tempfile.mkdtemp(prefix="inboxfs-shared-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def as_nobody(*argv):
    return subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
                          + list(argv), stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=60, env=ifs.clean_env())


def _mount_seeded(mount, dovecot, tmp_path, shared_dir, extra=None):
    pw = ifs.write_password_file(str(tmp_path), dovecot.password)
    opts = {"cafile": dovecot.cafile, "password_file": pw}
    opts.update(extra or {})
    return mount(dovecot.url(), options=opts, mountpoint=os.path.join(shared_dir, "mnt"),
                 timeout=MOUNT_TIMEOUT)


def _put_message(dovecot):
    c = dovecot.connect()
    try:
        c.append("INBOX", None, None, b"Subject: shared\r\n\r\nhello others\r\n")
    finally:
        c.logout()


def test_mount_is_private_by_default(dovecot, mount, tmp_path, shared_dir):
    _put_message(dovecot)
    m = _mount_seeded(mount, dovecot, tmp_path, shared_dir)
    assert "INBOX" in os.listdir(m.mountpoint)  # the owner can
    r = as_nobody("ls", m.mountpoint)
    assert r.returncode != 0 and b"Permission denied" in r.stderr, r
    r = as_nobody("ls", m.path("INBOX"))
    assert r.returncode != 0 and b"Permission denied" in r.stderr, r


def test_allow_other_lets_others_list_and_read(dovecot, mount, tmp_path, shared_dir):
    _put_message(dovecot)
    m = _mount_seeded(mount, dovecot, tmp_path, shared_dir, {"allow_other": True})
    r = as_nobody("ls", m.path("INBOX"))
    assert r.returncode == 0, r
    names = [n for n in r.stdout.decode().split() if n.endswith(".eml")]
    assert names, (r, m.stderr())
    f = m.path("INBOX", names[-1])
    r = as_nobody("cat", f)
    assert r.returncode == 0 and b"hello others" in r.stdout, r
    # Shared for reading only: the owner's write bit is not given away.
    r = as_nobody("rm", "-f", f)
    assert r.returncode != 0 and b"Permission denied" in r.stderr, r
    assert os.path.exists(f)
