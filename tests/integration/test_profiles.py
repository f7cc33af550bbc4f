"""The big hosted services' known behaviour, as test profiles (issue 10).

Office 365: a Dovecot with Office 365's capabilities (no CONDSTORE, QRESYNC,
NOTIFY, COMPRESS, OAUTHBEARER; AUTH=XOAUTH2 the only login) whose oauth2
passdb checks every token with tests/lib/tokenserver.py, behind
tests/lib/faultproxy.py, which says `* BYE Session invalidated -
AccessTokenExpired` mid-IDLE and adds an EXISTS after each EXPUNGE, as
Office 365 does.

Gmail: a Dovecot with Gmail's capabilities and its `[Gmail]/...`
special-use folders (rm with -o delete=trash lands in [Gmail]/Trash), and
tests/lib/fakeimap.py for what Dovecot cannot do: RFC822.SIZE that differs
from the bytes served, and `NO [LIMIT]` for a login over the connection
limit.

Checked with the real ls/cat/mv/rm on the mount and an independent imaplib
client (for Office 365 it logs in with XOAUTH2 itself)."""

import os
import re
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import dovecot as dovecot_mod  # noqa: E402
import fakeimap  # noqa: E402
import faultproxy  # noqa: E402
import imapraw  # noqa: E402
import inboxfs as ifs  # noqa: E402
import mailgen  # noqa: E402
import tokenserver  # noqa: E402

EVENT_TIMEOUT = 15.0

# Office 365's post-login capabilities (shared notes, section 9) less what
# Dovecot does not implement (the CLIENTACCESSRULES family, IMAP4rev2).
O365_CAPS = "IMAP4rev1 SASL-IR UIDPLUS MOVE ID UNSELECT ENABLE CHILDREN IDLE NAMESPACE LITERAL+"
# Gmail's, less X-GM-EXT-1, XLIST, COMPRESS and APPENDLIMIT (not Dovecot's).
GMAIL_CAPS = ("IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID CHILDREN UIDPLUS ENABLE MOVE "
              "CONDSTORE ESEARCH UTF8=ACCEPT LIST-EXTENDED LIST-STATUS LITERAL- SPECIAL-USE")
GMAIL_FOLDERS = """
namespace inbox {
  mailbox "[Gmail]/All Mail" {
    special_use = \\All
    auto = create
  }
  mailbox "[Gmail]/Sent Mail" {
    special_use = \\Sent
    auto = create
  }
  mailbox "[Gmail]/Trash" {
    special_use = \\Trash
    auto = create
  }
}
"""


def emls(path):
    return {n for n in os.listdir(path) if n.endswith(".eml")}


def wait_for_file(m, folder, name, timeout=EVENT_TIMEOUT):
    def there():
        try:
            return name in os.listdir(m.path(folder))
        except OSError:  # between sessions: EIO until it is back
            return False
    return ifs.wait_until(there, timeout)


# =====================================================================
# Office 365
# =====================================================================

def extra_exists_after_expunge(state, data):
    """faultproxy filter: after the last `* n EXPUNGE` of a chunk, say
    `* m EXISTS` again (m = the count left), as Office 365 does."""
    state["tail"] = (state.get("tail", b"") + data)[-4096:]
    for mm in re.finditer(rb"\* (\d+) EXISTS\r\n", data):
        state["exists"] = int(mm.group(1))
    hits = list(re.finditer(rb"\* \d+ EXPUNGE\r\n", data))
    if not hits or "exists" not in state:
        return data
    state["exists"] -= len(hits)
    state["extra"] = state.get("extra", 0) + 1
    end = hits[-1].end()
    return data[:end] + b"* %d EXISTS\r\n" % state["exists"] + data[end:]


class O365:
    def __init__(self, directory):
        self.dir = directory
        self.ts = tokenserver.TokenServer().start()
        self.dc = dovecot_mod.Dovecot(
            oauth2_introspect_url=self.ts.introspect_url,
            extra_config=["imap_capability = " + O365_CAPS, "auth_mechanisms = xoauth2"])
        self.proxy = faultproxy.FaultProxy(("127.0.0.1", self.dc.imap_port)).start()
        self.proxy.server_filter = self.filter
        self.filter_states = []
        self.secret_file = ifs.write_password_file(directory, self.ts.client_secret,
                                                   name="client-secret")
        m = self.imap()
        m.create("Archive")
        for i in range(4):
            m.append("INBOX", None, None, mailgen.simple_message(i))
        m.logout()

    def filter(self, state, data):
        if not state:
            self.filter_states.append(state)
        return extra_exists_after_expunge(state, data)

    def imap(self):
        """imaplib, logged in with XOAUTH2 and a token minted for it."""
        import imaplib
        m = imaplib.IMAP4_SSL(self.dc.host, self.dc.imaps_port,
                              ssl_context=self.dc.ssl_context(), timeout=30)
        tok = self.ts.issue_token(user=self.dc.user)
        sasl = "user=%s\x01auth=Bearer %s\x01\x01" % (self.dc.user, tok)
        m.authenticate("XOAUTH2", lambda _challenge: sasl.encode())
        return m

    def state(self, folder="INBOX"):
        m = self.imap()
        try:
            return imapraw.folder_state(m, folder)
        finally:
            m.logout()

    def body(self, folder, uid):
        m = self.imap()
        try:
            return imapraw.fetch_body(m, folder, uid)
        finally:
            m.logout()

    def append(self):
        before = set(self.state())
        m = self.imap()
        m.append("INBOX", None, None, mailgen.simple_message(len(before) + 100))
        m.logout()
        new = set(self.state()) - before
        assert len(new) == 1
        return "%d.eml" % new.pop()

    def stop(self):
        self.proxy.stop()
        self.dc.stop()
        self.ts.stop()


@pytest.fixture(scope="module")
def o365(tmp_path_factory):
    o = O365(str(tmp_path_factory.mktemp("o365")))
    yield o
    o.stop()


@pytest.fixture
def o365_mount(o365, mount, tmp_path):
    m = mount(o365.dc.url(tls=False, port=o365.proxy.port),
              options={"tls": "none", "debug": "all", "watch": "INBOX",
                       "oauth2_token_url": o365.ts.token_url,
                       "oauth2_client_id": o365.ts.client_id,
                       "oauth2_client_secret_file": o365.secret_file,
                       "oauth2_cafile": o365.ts.cafile},
              env=ifs.clean_env({"XDG_STATE_HOME": str(tmp_path / "state")}))
    return m


def test_o365_capabilities_and_xoauth2(o365, o365_mount):
    """What the profile offers, and that inboxfs logged in with XOAUTH2."""
    c = imapraw.RawIMAP.connect(o365.dc.host, o365.dc.imaps_port, cafile=o365.dc.cafile)
    pre = c.capabilities
    c.close()
    assert "AUTH=XOAUTH2" in pre and not {"AUTH=OAUTHBEARER", "AUTH=PLAIN"} & pre, pre
    assert "C: A1 AUTHENTICATE XOAUTH2" in o365_mount.stderr() or \
        re.search(r"C: \S+ AUTHENTICATE XOAUTH2", o365_mount.stderr()), o365_mount.stderr()[-2000:]
    assert [l for l in o365.dc.login_lines() if "method=XOAUTH2" in l]
    text = o365_mount.stderr()
    for cap in ("CONDSTORE", "QRESYNC", "NOTIFY", "COMPRESS"):
        assert not re.search(r"S: .*CAPABILITY[^\n]* %s" % cap, text), cap


def test_o365_ls_cat_new_mail(o365, o365_mount):
    m = o365_mount
    state = o365.state()
    assert emls(m.path("INBOX")) == {"%d.eml" % u for u in state}
    uid = min(state)
    with open(m.path("INBOX", "%d.eml" % uid), "rb") as f:
        assert f.read() == o365.body("INBOX", uid)
    name = o365.append()
    assert wait_for_file(m, "INBOX", name), m.stderr()[-3000:]


def test_o365_rm_with_extra_exists(o365, o365_mount):
    """rm: UID EXPUNGE, answered with EXPUNGE and then an EXISTS that
    repeats the count: the listing stays right, nothing is invented."""
    m = o365_mount
    before = o365.state()
    uid = max(before)
    os.unlink(m.path("INBOX", "%d.eml" % uid))
    assert set(o365.state()) == set(before) - {uid}
    assert sum(s.get("extra", 0) for s in o365.filter_states) >= 1, "no EXISTS added"
    assert emls(m.path("INBOX")) == {"%d.eml" % u for u in set(before) - {uid}}
    # the watcher saw the same EXPUNGE + EXISTS: new mail still shows
    name = o365.append()
    assert wait_for_file(m, "INBOX", name), m.stderr()[-3000:]
    assert emls(m.path("INBOX")) == {"%d.eml" % u for u in o365.state()}


def test_o365_mv(o365, o365_mount):
    m = o365_mount
    before = o365.state()
    uid = min(before)
    body = o365.body("INBOX", uid)
    archive_before = set(o365.state("Archive"))
    subprocess.run(["mv", m.path("INBOX", "%d.eml" % uid), m.path("Archive") + "/"],
                   check=True)
    assert set(o365.state()) == set(before) - {uid}
    new = set(o365.state("Archive")) - archive_before
    assert len(new) == 1
    assert o365.body("Archive", new.pop()) == body
    assert re.search(r"C: \S+ UID MOVE", m.stderr())
    assert emls(m.path("INBOX")) == {"%d.eml" % u for u in o365.state()}


def test_o365_token_expired_mid_idle(o365, o365_mount):
    """`* BYE Session invalidated - AccessTokenExpired` to every session,
    the IDLE one included: a new token, new sessions, new mail shows."""
    m = o365_mount
    assert ifs.wait_until(lambda: re.search(r"C: \S+ IDLE", m.stderr()), EVENT_TIMEOUT), \
        m.stderr()[-4000:]
    n = len(o365.ts.token_requests())
    o365.proxy.close_all(say=b"* BYE Session invalidated - AccessTokenExpired\r\n")
    name = o365.append()
    assert wait_for_file(m, "INBOX", name), m.stderr()[-3000:]
    assert "its access token expired" in m.stderr()
    assert len(o365.ts.token_requests()) > n
    assert emls(m.path("INBOX")) == {"%d.eml" % u for u in o365.state()}



def test_o365_check(o365, inboxfs_bin):
    """inboxfs --check with the client-credentials options logs in with
    XOAUTH2 and prints the table an independent XOAUTH2 client's CAPABILITY
    after login gives: no CONDSTORE, QRESYNC, NOTIFY, BINARY or ESEARCH,
    and what inboxfs does instead."""
    opts = {"tls": "none", "oauth2_token_url": o365.ts.token_url,
            "oauth2_client_id": o365.ts.client_id,
            "oauth2_client_secret_file": o365.secret_file, "oauth2_cafile": o365.ts.cafile}
    tokens = len(o365.ts.token_requests())
    r = ifs.run_inboxfs(inboxfs_bin, ["--check", "-o", ",".join("%s=%s" % kv for kv in opts.items()),
                                      o365.dc.url(tls=False, port=o365.proxy.port)])
    assert r.returncode == 0, r
    assert len(o365.ts.token_requests()) > tokens
    m = o365.imap()
    try:
        caps = m.capability()[1][0].decode().split()
        boxes = imapraw.list_mailboxes(m, with_flags=True)
    finally:
        m.logout()
    assert not {"CONDSTORE", "QRESYNC", "NOTIFY"} & set(caps), caps
    ifs.assert_check_report(ifs.parse_check(r.stdout), caps, boxes)

# =====================================================================
# Gmail
# =====================================================================

@pytest.fixture(scope="module")
def gmail():
    dc = dovecot_mod.Dovecot(extra_config=["imap_capability = " + GMAIL_CAPS, GMAIL_FOLDERS])
    c = dc.raw()
    c.append_many("INBOX", mailgen.bulk(4))
    c.logout()
    yield dc
    dc.stop()


def test_gmail_folders_and_rm_to_trash(gmail, mount, tmp_path):
    """[Gmail]/... are directories; rm with delete=trash moves the message
    to the \\Trash folder, [Gmail]/Trash (UID MOVE), found by SPECIAL-USE."""
    pwfile = ifs.write_password_file(str(tmp_path), gmail.password, name="gmail-pw")
    m = mount(gmail.url(), options={"cafile": gmail.cafile, "password_file": pwfile,
                                    "delete": "trash", "debug": "imap"})
    assert {"All Mail", "Sent Mail", "Trash"} <= set(os.listdir(m.path("[Gmail]")))
    c = gmail.connect()
    before = imapraw.folder_state(c, "INBOX")
    trash_before = set(imapraw.folder_state(c, "[Gmail]/Trash"))
    uid = min(before)
    body = imapraw.fetch_body(c, "INBOX", uid)
    subprocess.run(["rm", m.path("INBOX", "%d.eml" % uid)], check=True)
    assert set(imapraw.folder_state(c, "INBOX")) == set(before) - {uid}
    new = set(imapraw.folder_state(c, "[Gmail]/Trash")) - trash_before
    assert len(new) == 1
    new_uid = new.pop()
    assert imapraw.fetch_body(c, "[Gmail]/Trash", new_uid) == body
    c.logout()
    assert "%d.eml" % new_uid in emls(m.path("[Gmail]", "Trash"))
    assert re.search(r'C: \S+ UID MOVE %d "\[Gmail\]/Trash"' % uid, m.stderr()), \
        m.stderr()[-2000:]



def test_gmail_check(gmail, inboxfs_bin, tmp_path):
    """inboxfs --check finds the [Gmail]/... special-use folders (-o
    delete=trash moves to \\Trash) as LIST shows them, and Gmail's
    capabilities."""
    pwfile = ifs.write_password_file(str(tmp_path), gmail.password, name="gmail-pw")
    r = ifs.run_inboxfs(inboxfs_bin, ["--check", "-o", "cafile=%s,password_file=%s"
                                      % (gmail.cafile, pwfile), gmail.url()])
    assert r.returncode == 0, r
    c = gmail.raw()
    c.capabilities = set()
    c.command("CAPABILITY")
    caps = set(c.capabilities)
    c.logout()
    m = gmail.connect()
    try:
        boxes = imapraw.list_mailboxes(m, with_flags=True)
    finally:
        m.logout()
    rep = ifs.parse_check(r.stdout)
    ifs.assert_check_report(rep, caps, boxes)
    assert rep["special"]["\\Trash"] == "[Gmail]/Trash", rep

def _gmail_body(uid, n):
    head = b"Subject: gmail size %d\r\nFrom: g@example.org\r\n\r\n" % uid
    line = b"The size Gmail reports is not the size it serves.\r\n"
    return head + (line * (n // len(line) + 1))[:n - len(head) - 2] + b"\r\n"


GMAIL_FAKE_CAPS = ["IMAP4rev1", "UNSELECT", "IDLE", "NAMESPACE", "QUOTA", "ID", "XLIST",
                   "CHILDREN", "X-GM-EXT-1", "UIDPLUS", "COMPRESS=DEFLATE", "ENABLE",
                   "MOVE", "CONDSTORE", "ESEARCH", "UTF8=ACCEPT", "LIST-EXTENDED",
                   "LIST-STATUS", "LITERAL-", "SPECIAL-USE", "APPENDLIMIT=35651584",
                   "AUTH=PLAIN", "SASL-IR"]


def test_gmail_lying_sizes(fake_imap, mount, tmp_path):
    """RFC822.SIZE under- and over-reported in [Gmail]/All Mail: cat gives
    every byte served, and stat then shows the real size."""
    msgs = [fakeimap.FakeMessage(1, _gmail_body(1, 9000), size=8000),
            fakeimap.FakeMessage(2, _gmail_body(2, 700), size=900)]
    srv = fake_imap([fakeimap.FakeMailbox("INBOX"),
                     fakeimap.FakeMailbox("[Gmail]", attributes=["\\Noselect"]),
                     fakeimap.FakeMailbox("[Gmail]/All Mail", msgs, attributes=["\\All"])],
                    users={"alice": "gm-pw"}, capabilities=GMAIL_FAKE_CAPS)
    pw = ifs.write_password_file(str(tmp_path), "gm-pw", name="gm-pw")
    m = mount(srv.url(), options={"tls": "none", "password_file": pw})
    folder = m.path("[Gmail]", "All Mail")
    assert {n: os.stat(os.path.join(folder, n)).st_size for n in emls(folder)} == \
        {"1.eml": 8000, "2.eml": 900}
    for msg in msgs:
        f = os.path.join(folder, "%d.eml" % msg.uid)
        data = subprocess.run(["cat", f], capture_output=True, check=True).stdout
        assert data == msg.body
        assert os.stat(f).st_size == len(msg.body)


class LimitedSession(fakeimap.FakeSession):
    """Gmail-like: a login over the server's limit of simultaneous
    connections is refused with NO [LIMIT] (the connection stays open)."""

    def _login_ok(self, tag, user):
        srv = self.server
        with srv._lock:
            live = [s for s in srv.sessions if s.user is not None and not s.closed]
            refuse = len(live) >= srv.limit
            if not refuse:
                self.user = user
        if refuse:
            srv.refused += 1
            self.tagged(tag, "NO", "[LIMIT] Too many simultaneous connections. (Failure)")
            return
        self.tagged(tag, "OK", "[CAPABILITY %s] Logged in" % self.caps_text())


def test_gmail_connection_limit(fake_imap, mount, tmp_path):
    """Three folders watched (watch=all), but the server takes two
    connections: the refused watchers back off (a minute, like any refused
    login) instead of hammering the server, and the mount works (ls, cat
    in every folder) with the connections it got."""
    boxes = [fakeimap.FakeMailbox("INBOX", [fakeimap.FakeMessage(1, _gmail_body(1, 400))]),
             fakeimap.FakeMailbox("Orders", [fakeimap.FakeMessage(1, _gmail_body(2, 400))]),
             fakeimap.FakeMailbox("Lists", [])]
    srv = fake_imap(boxes, users={"alice": "gm-pw"}, capabilities=GMAIL_FAKE_CAPS,
                    session_class=LimitedSession)
    srv.limit, srv.refused = 2, 0
    pw = ifs.write_password_file(str(tmp_path), "gm-pw", name="gm-pw")
    m = mount(srv.url(), options={"tls": "none", "password_file": pw, "debug": "imap",
                                  "watch": "all"})
    assert ifs.wait_until(lambda: srv.refused >= 1, EVENT_TIMEOUT), m.stderr()[-3000:]
    for folder in ("INBOX", "Orders"):
        assert emls(m.path(folder)) == {"1.eml"}
        with open(m.path(folder, "1.eml"), "rb") as f:
            assert f.read() == srv.mailbox(folder).by_uid(1).body
    assert "LIMIT" in m.stderr()
    # it does not hammer the server: a refused watcher backs off
    refused = srv.refused
    assert refused < 10, refused
