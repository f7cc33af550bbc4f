"""The disk cache (issue 8): -o cache_disk=SIZE keeps bodies and folder
lists under $XDG_CACHE_HOME/inboxfs/.  A remount lists at once and is
brought up to date; cached messages stay readable with the server down;
a damaged file is never served."""

import os
import stat
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import dovecot as dovecot_mod  # noqa: E402
import imapraw  # noqa: E402
import inboxfs as ifs  # noqa: E402
import mailgen  # noqa: E402


@pytest.fixture(scope="module")
def dovecot():
    dc = dovecot_mod.Dovecot()  # our own: one test crashes it
    yield dc
    dc.stop()


# Dovecot's capabilities after login, without CONDSTORE and QRESYNC: the
# remount then finds expunges by UID SEARCH.
NO_QRESYNC = ("IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT LITERAL+ UIDPLUS "
              "MOVE UNSELECT CHILDREN NAMESPACE ESEARCH SPECIAL-USE")


@pytest.fixture(scope="module")
def dovecot_plain():
    dc = dovecot_mod.Dovecot(extra_config=["imap_capability = " + NO_QRESYNC])
    yield dc
    dc.stop()


class Cached:
    def __init__(self, dc, tmp_path, mount):
        self.dc, self.mount_fn = dc, mount
        self.raw = dc.raw()
        self.raw.append_many("INBOX", mailgen.bulk(20, size_pad=3000))
        self.pw = ifs.write_password_file(str(tmp_path), dc.password)
        self.cache = str(tmp_path / "cache")
        self.env = ifs.clean_env({"XDG_CACHE_HOME": self.cache,
                                  "XDG_STATE_HOME": str(tmp_path / "state")})

    def mount(self, **opts):
        o = {"cafile": self.dc.cafile, "password_file": self.pw, "cache_disk": "64M",
             "watch": "none", "debug": "imap"}
        o.update(opts)
        return self.mount_fn(self.dc.url(), options=o, env=self.env)

    def state(self):
        m = self.dc.connect()
        try:
            return imapraw.folder_state(m, "INBOX")
        finally:
            m.logout()

    def bodies(self):
        m = self.dc.connect()
        try:
            return imapraw.fetch_bodies(m, "INBOX")
        finally:
            m.logout()

    def files(self):
        out = []
        for root, dirs, names in os.walk(self.cache):
            out += [os.path.join(root, n) for n in names]
        return out


def listing(m):
    return sorted(n for n in os.listdir(m.path("INBOX")) if n.endswith(".eml"))


@pytest.mark.parametrize("server", ["qresync", "search"])
def test_remount_lists_from_the_cache_and_catches_up(request, tmp_path, mount, server):
    dovecot = request.getfixturevalue("dovecot" if server == "qresync" else "dovecot_plain")
    c = Cached(dovecot, tmp_path, mount)
    m = c.mount()
    for uid, body in c.bodies().items():
        with open(m.path("INBOX", "%d.eml" % uid), "rb") as f:
            assert f.read() == body
    m.unmount()
    files = c.files()
    assert any(f.endswith("/index") for f in files) and len(files) > 20
    for f in files:  # someone's mail: private
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
    # while unmounted: one message arrives, one is expunged
    state = c.state()
    gone = min(state)
    m2 = dovecot.connect()
    m2.select("INBOX")
    m2.uid("STORE", str(gone), "+FLAGS", "(\\Deleted)")
    m2.uid("EXPUNGE", str(gone))
    m2.logout()
    c.raw.append_many("INBOX", mailgen.bulk(1, start=500))
    m = c.mount()
    assert listing(m) == sorted("%d.eml" % u for u in c.state())
    for uid, (size, date, _) in c.state().items():
        st = os.stat(m.path("INBOX", "%d.eml" % uid))
        assert (st.st_size, st.st_mtime) == (size, date)
    # brought up to date without fetching every message again: the server
    # says what vanished (QRESYNC), or the UIDs are asked for (SEARCH)
    log = m.stderr()
    assert "UID FETCH 1:*" not in log
    if server == "qresync":
        assert "(QRESYNC (" in log and "VANISHED (EARLIER) %d" % gone in log
        assert "UID SEARCH" not in log
    else:
        assert "UID SEARCH" in log and "(QRESYNC (" not in log


def test_cached_messages_stay_readable_while_the_server_is_down(dovecot, tmp_path, mount):
    c = Cached(dovecot, tmp_path, mount)
    m = c.mount()
    bodies = c.bodies()
    uids = sorted(bodies)
    read, unread = uids[:5], uids[-1]
    for uid in read:
        with open(m.path("INBOX", "%d.eml" % uid), "rb") as f:
            f.read()
    m.unmount()
    m = c.mount()  # nothing in memory now: only the disk has them
    os.listdir(m.path("INBOX"))
    dovecot.crash()
    try:
        for uid in read:
            with open(m.path("INBOX", "%d.eml" % uid), "rb") as f:
                assert f.read() == bodies[uid]
        with pytest.raises(OSError):
            open(m.path("INBOX", "%d.eml" % unread), "rb").read()
    finally:
        dovecot.restart()


def test_a_damaged_cache_file_is_never_served(dovecot, tmp_path, mount):
    c = Cached(dovecot, tmp_path, mount)
    m = c.mount()
    bodies = c.bodies()
    uid = max(bodies)
    with open(m.path("INBOX", "%d.eml" % uid), "rb") as f:
        f.read()
    m.unmount()
    body_file = [f for f in c.files() if f.endswith("/%d" % uid)]
    assert len(body_file) == 1
    with open(body_file[0], "r+b") as f:
        f.seek(-10, os.SEEK_END)
        f.write(b"XXXXXXXXXX")  # same length, other bytes
    m = c.mount()
    with open(m.path("INBOX", "%d.eml" % uid), "rb") as f:
        assert f.read() == bodies[uid]
    assert "damaged" in m.stderr()
