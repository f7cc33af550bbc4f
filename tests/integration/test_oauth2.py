"""OAuth2 logins (issue 6): a local token endpoint (tests/lib/tokenserver.py,
answering like Microsoft's) and a Dovecot whose oauth2 passdb asks that
endpoint about every token it is shown (RFC 7662 introspection).  So a login
only succeeds with a token the endpoint issued, that has not expired and has
not been revoked: the tests see what a real Office 365 or Gmail login sees.

Every mount here runs with -o debug=all (the protocol trace); the last test
searches all their logs for every secret the run used."""

import os
import stat
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import dovecot as dovecot_mod  # noqa: E402
import connectproxy  # noqa: E402
import faultproxy  # noqa: E402
import imapraw  # noqa: E402
import inboxfs as ifs  # noqa: E402
import mailgen  # noqa: E402
import tokenserver  # noqa: E402

# Dovecot pushes new mail to IDLE 0.5 s after it arrives.
EVENT_TIMEOUT = 10.0

LOGS = []          # stderr files of every inboxfs run in this module
SECRETS = set()    # every secret handed to inboxfs, to be searched for in LOGS


class Auth:
    def __init__(self, directory):
        self.dir = directory
        self.cert, self.key = tokenserver.make_client_cert(directory)
        self.ts = tokenserver.TokenServer(client_cert=self.cert).start()
        self.dc = dovecot_mod.Dovecot(oauth2_introspect_url=self.ts.introspect_url)
        self.append_raw(mailgen.bulk(3))
        self.counter = 100
        SECRETS.update([self.ts.client_secret, self.dc.password])
        with open(self.key) as f:
            SECRETS.update(l for l in f.read().splitlines() if "-----" not in l and l)
        self.secret_file = self.write("client-secret", self.ts.client_secret)

    def write(self, name, value, mode=0o600):
        return ifs.write_password_file(self.dir, value, mode=mode, name=name)

    def append_raw(self, msgs):
        # a connection per append: the tests kick alice's sessions
        raw = self.dc.raw()
        try:
            raw.append_many("INBOX", msgs)
        finally:
            raw.close()

    def uids(self):
        m = self.dc.connect()
        try:
            return set(imapraw.folder_state(m, "INBOX"))
        finally:
            m.logout()

    def append(self):
        """Append one message; returns its file name."""
        before = self.uids()
        self.append_raw(mailgen.bulk(1, start=self.counter))
        self.counter += 1
        new = self.uids() - before
        assert len(new) == 1
        return "%d.eml" % new.pop()

    def logins(self, method):
        return [l for l in self.dc.login_lines() if "method=" + method in l]

    def stop(self):
        self.dc.stop()
        self.ts.stop()


@pytest.fixture(scope="module")
def auth(tmp_path_factory):
    a = Auth(str(tmp_path_factory.mktemp("oauth")))
    yield a
    a.stop()


@pytest.fixture(autouse=True)
def endpoint_back_to_normal(auth):
    yield
    auth.ts.mode = "ok"
    auth.ts.lifetime = 3600


@pytest.fixture
def omount(auth, mount):
    """Mount alice's account with OAuth2 options (+ debug=all, cafiles)."""
    def factory(url=None, env=None, **options):
        opts = {"cafile": auth.dc.cafile, "oauth2_cafile": auth.ts.cafile,
                "debug": "all"}
        opts.update(options)
        m = mount(url or auth.dc.url(), options=opts, env=env)
        LOGS.append(m.stderr_path)
        return m
    return factory


def client_credentials(auth, **extra):
    opts = {"oauth2_token_url": auth.ts.token_url, "oauth2_client_id": auth.ts.client_id,
            "oauth2_client_secret_file": auth.secret_file}
    opts.update(extra)
    return opts


def eml_files(path):
    return {n for n in os.listdir(path) if n.endswith(".eml")}


def check_mount_reads(auth, m):
    """ls shows every message, cat gives the server's bytes."""
    uids = auth.uids()
    assert eml_files(m.path("INBOX")) == {"%d.eml" % u for u in uids}
    uid = min(uids)
    with open(m.path("INBOX", "%d.eml" % uid), "rb") as f:
        assert f.read() == imapraw.fetch_body(auth.dc.connect(), "INBOX", uid)


def wait_for_file(m, name, timeout=EVENT_TIMEOUT):
    def there():
        try:
            return name in os.listdir(m.path("INBOX"))
        except OSError:  # logged out for now: EACCES/EIO until it is back
            return False
    return ifs.wait_until(there, timeout)


def run_failing(inboxfs_bin, auth, tmp_path, **options):
    """A mount that must fail: returns the Result."""
    opts = {"cafile": auth.dc.cafile, "oauth2_cafile": auth.ts.cafile, "debug": "all"}
    opts.update(options)
    mp = str(tmp_path / "mnt-fail")
    os.makedirs(mp, exist_ok=True)
    r = ifs.run_inboxfs(inboxfs_bin, ifs.build_args(auth.dc.url(), mp, opts), timeout=30)
    log = str(tmp_path / "failed-mount.log")
    with open(log, "w") as f:
        f.write(r.output)
    LOGS.append(log)
    assert not ifs.is_mounted(mp)
    return r


# ------------------------------------------------------------ the grants

def test_client_secret_with_xoauth2(auth, omount):
    before = len(auth.logins("XOAUTH2"))
    m = omount(auth="xoauth2", **client_credentials(auth))
    check_mount_reads(auth, m)
    assert len(auth.logins("XOAUTH2")) > before
    req = auth.ts.token_requests("client_credentials")[-1]
    assert req.client_auth == "secret" and req.status == 200


def test_oauthbearer_is_chosen_where_offered(auth, omount):
    before = len(auth.logins("OAUTHBEARER"))
    m = omount(**client_credentials(auth))
    check_mount_reads(auth, m)
    assert len(auth.logins("OAUTHBEARER")) > before


def test_certificate_assertion(auth, omount):
    n = len(auth.ts.token_requests())
    m = omount(oauth2_token_url=auth.ts.token_url, oauth2_client_id=auth.ts.client_id,
               oauth2_client_cert=auth.cert, oauth2_client_key=auth.key)
    check_mount_reads(auth, m)
    reqs = auth.ts.token_requests()[n:]
    assert reqs and all(r.client_auth == "assertion" and r.status == 200 for r in reqs)
    SECRETS.update(r.form.get("client_assertion") for r in reqs)


def test_certificate_not_registered_is_refused(inboxfs_bin, auth, tmp_path):
    cert, key = tokenserver.make_client_cert(str(tmp_path), name="other")
    r = run_failing(inboxfs_bin, auth, tmp_path, oauth2_token_url=auth.ts.token_url,
                    oauth2_client_id=auth.ts.client_id, oauth2_client_cert=cert,
                    oauth2_client_key=key)
    assert r.returncode == 1
    assert "invalid_grant: AADSTS" in r.stderr, r.stderr


def test_world_readable_secret_files_are_refused(inboxfs_bin, auth, tmp_path):
    n = len(auth.ts.token_requests())
    loose = auth.write("loose-secret", auth.ts.client_secret, mode=0o644)
    r = run_failing(inboxfs_bin, auth, tmp_path, **client_credentials(
        auth, oauth2_client_secret_file=loose))
    assert r.returncode == 1
    assert "accessible by group or others" in r.stderr and "chmod 600" in r.stderr
    os.chmod(auth.key, 0o640)
    try:
        r = run_failing(inboxfs_bin, auth, tmp_path, oauth2_token_url=auth.ts.token_url,
                        oauth2_client_id=auth.ts.client_id, oauth2_client_cert=auth.cert,
                        oauth2_client_key=auth.key)
    finally:
        os.chmod(auth.key, 0o600)
    assert r.returncode == 1 and "oauth2_client_key" in r.stderr
    assert "accessible by group or others" in r.stderr
    assert len(auth.ts.token_requests()) == n  # refused before anything was sent


def test_refresh_token_rotation_is_written_back(auth, omount, tmp_path):
    rt = auth.ts.add_refresh_token()
    SECRETS.add(rt)
    path = auth.write("refresh-token", rt)
    m = omount(oauth2_token_url=auth.ts.token_url, oauth2_client_id=auth.ts.client_id,
               oauth2_refresh_token_file=path)
    check_mount_reads(auth, m)
    with open(path) as f:
        saved = f.read().strip()
    SECRETS.add(saved)
    assert saved != rt
    assert saved in auth.ts.refresh_tokens() and rt not in auth.ts.refresh_tokens()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    leftovers = [n for n in os.listdir(auth.dir) if n.startswith("refresh-token.")]
    assert leftovers == []
    assert auth.ts.token_requests("refresh_token")[-1].status == 200


def test_token_cmd(auth, omount, tmp_path):
    token = auth.ts.issue_token()
    SECRETS.add(token)
    tokfile = auth.write("cmd-token", token)
    m = omount(token_cmd="cat " + tokfile)
    check_mount_reads(auth, m)
    seen = [i for i in auth.ts.introspections if i.token == token]
    assert seen and all(i.active for i in seen)


def test_token_requests_use_the_https_proxy_variable(auth, omount):
    """https_proxy, as libcurl reads it: the token request is tunnelled."""
    proxy = connectproxy.ConnectProxy().start()
    try:
        n = len(auth.ts.token_requests())
        m = omount(env=ifs.clean_env({"https_proxy": proxy.url}), **client_credentials(auth))
        check_mount_reads(auth, m)
        assert len(auth.ts.token_requests()) > n
        assert "localhost:%d" % auth.ts.port in proxy.targets
    finally:
        proxy.stop()


# ------------------------------------------------------------ expiry and renewal

def test_five_second_tokens_keep_working(auth, omount):
    """Tokens that live 5 s, sessions kicked every round so that every
    reconnect needs a valid token: the mount keeps listing, IDLE keeps
    delivering, and the endpoint saw each renewal before the token before
    it expired."""
    auth.ts.lifetime = 5
    n0 = len(auth.ts.token_requests())
    i0 = len(auth.ts.introspections)
    m = omount(watch="INBOX", reconnect_max=2, **client_credentials(auth))
    start = time.monotonic()
    rounds = 0
    while rounds < 8 or time.monotonic() - start < 16:
        auth.dc.doveadm("kick", auth.dc.user)
        name = auth.append()
        assert wait_for_file(m, name), "round %d: %s did not appear\n%s" % (
            rounds, name, m.stderr()[-3000:])
        rounds += 1
    check_mount_reads(auth, m)
    reqs = [r for r in auth.ts.token_requests()[n0:] if r.status == 200]
    assert len(reqs) >= 4, reqs
    for prev, nxt in zip(reqs, reqs[1:]):
        # renewed before the previous one expired (5 s after it was issued)
        assert nxt.t < prev.t + 5, (prev, nxt)
    # No login ever presented an expired or unknown token.
    bad = [i for i in auth.ts.introspections[i0:] if not i.active]
    assert bad == []


def test_revoked_token_gets_one_immediate_retry(auth, omount):
    """The server refuses the cached token (revoked at the endpoint): a
    new token at once, not the minute-long wait after a refused login."""
    m = omount(watch="INBOX", **client_credentials(auth))
    check_mount_reads(auth, m)
    n = len(auth.ts.token_requests())
    auth.ts.revoke_all()
    auth.dc.doveadm("kick", auth.dc.user)
    name = auth.append()
    assert wait_for_file(m, name, timeout=8), m.stderr()[-3000:]
    assert len(auth.ts.token_requests()) > n
    assert "refused a token obtained earlier" in m.stderr()
    # the reason from the server's failure challenge (base64 JSON) is shown
    assert '(server: {"status":"' in m.stderr(), m.stderr()[-3000:]


def test_bye_access_token_expired_gets_a_new_token(auth, omount):
    """Office 365 ends a session whose token expired with
    `* BYE Session invalidated - AccessTokenExpired` (a proxy says it here)."""
    proxy = faultproxy.FaultProxy(("127.0.0.1", auth.dc.imap_port)).start()
    try:
        url = auth.dc.url(tls=False, port=proxy.port)
        m = omount(url=url, tls="none", watch="INBOX", **client_credentials(auth))
        check_mount_reads(auth, m)
        n = len(auth.ts.token_requests())
        proxy.close_all(say=b"* BYE Session invalidated - AccessTokenExpired\r\n")
        name = auth.append()
        assert wait_for_file(m, name), m.stderr()[-3000:]
        assert "its access token expired" in m.stderr()
        assert len(auth.ts.token_requests()) > n
        check_mount_reads(auth, m)
    finally:
        proxy.stop()


# ------------------------------------------------------------ endpoint faults

def test_wrong_secret_at_mount_is_one_clear_line(inboxfs_bin, auth, tmp_path):
    wrong = auth.write("wrong-secret", "not-the-secret-" + "x" * 20)
    SECRETS.add("not-the-secret-" + "x" * 20)
    r = run_failing(inboxfs_bin, auth, tmp_path, **client_credentials(
        auth, oauth2_client_secret_file=wrong))
    assert r.returncode == 1
    last = r.stderr.strip().splitlines()[-1]
    assert "invalid_client: AADSTS7000215: Invalid client secret provided." in last, last
    assert "Trace ID" not in last


@pytest.mark.parametrize("mode,expect", [
    ("down", "token request to https://localhost:"),
    ("malformed", "not a JSON object"),
    ("nonjson", "HTTP 200 with a text/html body"),
    ("error500", "HTTP 500"),
])
def test_endpoint_fault_at_mount(inboxfs_bin, auth, tmp_path, mode, expect):
    auth.ts.mode = mode
    r = run_failing(inboxfs_bin, auth, tmp_path, **client_credentials(auth))
    assert r.returncode == 1
    assert expect in r.stderr.strip().splitlines()[-1], r.stderr


def test_token_endpoint_certificate_is_verified(inboxfs_bin, auth, tmp_path):
    """Without oauth2_cafile the test endpoint's CA is unknown: refused."""
    opts = client_credentials(auth)
    r = run_failing(inboxfs_bin, auth, tmp_path, oauth2_cafile=auth.dc.wrong_cafile, **opts)
    assert r.returncode == 1
    last = r.stderr.strip().splitlines()[-1]
    assert "token request to" in last and "certificate" in last, last


@pytest.mark.parametrize("mode", ["down", "malformed", "nonjson", "error500", "wrong_secret"])
def test_endpoint_fault_while_mounted_then_recovery(auth, omount, mode):
    """The token dies and the endpoint goes bad: the daemon logs why, backs
    off, keeps serving what it has; once the endpoint is right again new
    mail arrives."""
    m = omount(watch="INBOX", reconnect_max=1, **client_credentials(auth))
    check_mount_reads(auth, m)
    auth.ts.mode = mode
    auth.ts.revoke_all()
    auth.dc.doveadm("kick", auth.dc.user)
    name = auth.append()
    assert ifs.wait_until(lambda: "next try in" in m.stderr(), EVENT_TIMEOUT), m.stderr()
    assert m.proc.poll() is None
    log = m.stderr()
    assert "token" in log.split("next try in")[-2].splitlines()[-1], log[-2000:]
    auth.ts.mode = "ok"
    assert wait_for_file(m, name, timeout=15), m.stderr()[-3000:]
    check_mount_reads(auth, m)


# ------------------------------------------------------------ secrets

def test_no_secret_in_any_log(auth):
    """Runs last: every log of this module, at debug=all, holds none of
    the secrets (client secret, key, refresh tokens, access tokens,
    assertions, passwords)."""
    assert len(LOGS) >= 10
    secrets = {s for s in SECRETS if s} | set(auth.ts.issued_tokens())
    with auth.ts.lock:
        for r in auth.ts.requests:
            secrets.update(v for k, v in r.form.items()
                           if k in ("client_secret", "refresh_token", "client_assertion"))
            secrets.update(x for x in (r.token, r.refresh_token) if x)
    text = ""
    for p in LOGS:
        with open(p, errors="replace") as f:
            text += f.read()
    assert "C: " in text and "AUTHENTICATE" in text  # the trace was on
    leaked = [s[:6] + "..." for s in secrets if s in text]
    assert leaked == []
