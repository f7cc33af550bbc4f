"""rm, mv, mkdir, rmdir through a real mount of a real Dovecot: each change
reaches the server as exactly the IMAP command that does it, refusals give
the errno the shell sees and leave the server unchanged (issue 3)."""

import ctypes
import errno
import itertools
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import dovecot as dovecot_mod  # noqa: E402
import faultproxy  # noqa: E402
import imapraw  # noqa: E402
import inboxfs as ifs  # noqa: E402
import mailgen  # noqa: E402

# Dovecot 2.3.19's post-login capabilities, less what a test takes away.
FULL_CAPS = ("IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY "
             "THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL "
             "CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 "
             "CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS "
             "BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ "
             "NOTIFY SPECIAL-USE").split()

TRASH_CONFIG = """
namespace inbox {
  mailbox Trash {
    special_use = \\Trash
    auto = create
  }
}
"""


def caps_without(*names):
    return "imap_capability = " + " ".join(c for c in FULL_CAPS if c not in names)


@pytest.fixture(scope="module")
def dovecot():
    dc = dovecot_mod.Dovecot(extra_config=[TRASH_CONFIG])
    yield dc
    dc.stop()


@pytest.fixture(scope="module")
def dovecot_nomove():
    dc = dovecot_mod.Dovecot(extra_config=[caps_without("MOVE")])
    yield dc
    dc.stop()


@pytest.fixture(scope="module")
def dovecot_noplus():
    dc = dovecot_mod.Dovecot(extra_config=[caps_without("MOVE", "UIDPLUS")])
    yield dc
    dc.stop()


_users = itertools.count(1)


class Account:
    """A fresh user with INBOX (n messages), Archive (empty), Lists/dev
    (so that Lists is a \\Noselect level) and an oracle client."""

    def __init__(self, dc, tmp_path, n=5):
        self.dc = dc
        self.user = "u%d" % next(_users)
        self.password = dc.add_user(self.user)
        c = dc.raw(user=self.user, password=self.password)
        c.create("Archive")
        c.create("Lists/dev")  # Lists itself is never created: \Noselect
        c.append_many("INBOX", mailgen.bulk(n))
        c.logout()
        self.pwfile = ifs.write_password_file(str(tmp_path), self.password,
                                              name="pw-" + self.user)
        self.m = dc.connect(user=self.user, password=self.password)

    def url(self, **kw):
        return self.dc.url(user=self.user, **kw)

    def state(self, folder):
        return imapraw.folder_state(self.m, folder)

    def body(self, folder, uid):
        return imapraw.fetch_body(self.m, folder, uid)

    def mailboxes(self):
        return set(imapraw.list_mailboxes(self.m))

    def message_ids(self, folder):
        out = []
        for uid in self.state(folder):
            body = self.body(folder, uid)
            line = [l for l in body.split(b"\r\n") if l.lower().startswith(b"message-id:")]
            out.append(line[0] if line else body)
        return out


def mount_account(mount, acc, **options):
    opts = {"cafile": acc.dc.cafile, "password_file": acc.pwfile}
    opts.update(options)
    return mount(acc.url(), options=opts)


def expect_errno(err, fn, *args):
    with pytest.raises(OSError) as ei:
        fn(*args)
    assert ei.value.errno == err, "%s: got %s, want %s" % (
        args, errno.errorcode.get(ei.value.errno), errno.errorcode[err])


def eml(folder_state):
    return sorted("%d.eml" % u for u in folder_state)


def listed(path):
    """The message files of a directory (a watched folder also has .newmail)."""
    return sorted(n for n in os.listdir(path) if n.endswith(".eml"))


# ------------------------------------------------------------------ rm

def test_rm_removes_only_that_message(dovecot, mount, tmp_path):
    """Another client flagged X \\Deleted; rm Y expunges Y alone."""
    acc = Account(dovecot, tmp_path)
    m = mount_account(mount, acc)
    uids = sorted(acc.state("INBOX"))
    x, y = uids[1], uids[3]
    other = dovecot.connect(user=acc.user, password=acc.password)
    other.select("INBOX")
    assert other.uid("STORE", str(x), "+FLAGS", "(\\Deleted)")[0] == "OK"
    other.logout()

    subprocess.run(["rm", m.path("INBOX", "%d.eml" % y)], check=True)

    after = acc.state("INBOX")
    assert y not in after
    assert x in after and "\\Deleted" in after[x][2]
    assert set(after) == set(uids) - {y}
    assert "%d.eml" % y not in os.listdir(m.path("INBOX"))  # at once, no waiting


def test_rm_to_trash(dovecot, mount, tmp_path):
    acc = Account(dovecot, tmp_path)
    m = mount_account(mount, acc, delete="trash")
    uid = min(acc.state("INBOX"))
    body = acc.body("INBOX", uid)
    os.unlink(m.path("INBOX", "%d.eml" % uid))
    assert uid not in acc.state("INBOX")
    trash = acc.state("Trash")
    assert len(trash) == 1 and acc.body("Trash", min(trash)) == body
    assert eml(trash) == listed(m.path("Trash"))


def test_rm_without_uidplus_is_refused(dovecot_noplus, mount, tmp_path):
    acc = Account(dovecot_noplus, tmp_path)
    m = mount_account(mount, acc)
    before = acc.state("INBOX")
    uid = min(before)
    expect_errno(errno.EPERM, os.unlink, m.path("INBOX", "%d.eml" % uid))
    assert acc.state("INBOX") == before
    assert "UIDPLUS" in m.stderr()


def test_rm_without_uidplus_when_allowed(dovecot_noplus, mount, tmp_path):
    acc = Account(dovecot_noplus, tmp_path)
    m = mount_account(mount, acc, expunge="unsafe")
    uid = min(acc.state("INBOX"))
    os.unlink(m.path("INBOX", "%d.eml" % uid))
    assert uid not in acc.state("INBOX")


# ------------------------------------------------------------------ mv

def check_move(acc, m, uid):
    """mv INBOX/uid.eml Archive/: gone from INBOX, in Archive under its
    COPYUID with the same bytes and flags; listings right at once."""
    before = acc.state("INBOX")
    body = acc.body("INBOX", uid)
    archive_before = acc.state("Archive")
    subprocess.run(["mv", m.path("INBOX", "%d.eml" % uid), m.path("Archive") + "/"],
                   check=True)
    after = acc.state("INBOX")
    assert set(after) == set(before) - {uid}
    archive = acc.state("Archive")
    new = set(archive) - set(archive_before)
    assert len(new) == 1
    new_uid = new.pop()
    assert acc.body("Archive", new_uid) == body
    assert archive[new_uid][2] == before[uid][2]          # flags
    assert archive[new_uid][:2] == before[uid][:2]        # size, INTERNALDATE
    assert listed(m.path("Archive")) == eml(archive)
    assert listed(m.path("INBOX")) == eml(after)
    with open(m.path("Archive", "%d.eml" % new_uid), "rb") as f:
        assert f.read() == body
    if new_uid != uid and uid not in archive:
        # The name the kernel used for the rename shows no phantom file
        # once the folder was listed (the listing above did that).
        assert ifs.wait_until(lambda: not os.path.exists(m.path("Archive", "%d.eml" % uid)),
                              timeout=2.0)
    elif uid in archive and new_uid != uid:
        # A real message of that name shows, not the moved one.
        assert ifs.wait_until(lambda: open(m.path("Archive", "%d.eml" % uid), "rb").read() ==
                              acc.body("Archive", uid), timeout=2.0)
    return new_uid


def test_mv_uses_move(dovecot, mount, tmp_path):
    acc = Account(dovecot, tmp_path)
    m = mount_account(mount, acc, debug="imap")
    uids = sorted(acc.state("INBOX"))
    check_move(acc, m, uids[2])
    check_move(acc, m, uids[0])  # Archive now has a 1.eml of its own: not a conflict
    assert "UID MOVE" in m.stderr() and "UID COPY" not in m.stderr()


def test_mv_copy_fallback(dovecot_nomove, mount, tmp_path):
    acc = Account(dovecot_nomove, tmp_path)
    m = mount_account(mount, acc, debug="imap")
    check_move(acc, m, sorted(acc.state("INBOX"))[2])
    log = m.stderr()
    assert "UID COPY" in log and "UID MOVE" not in log and "UID EXPUNGE" in log


@pytest.mark.parametrize("cut", [b"UID STORE", b"UID EXPUNGE"])
def test_copy_fallback_interrupted_keeps_the_message(dovecot_nomove, mount, tmp_path, cut):
    """The server goes away between COPY and EXPUNGE: mv fails, and the
    message still exists in at least one of the folders."""
    acc = Account(dovecot_nomove, tmp_path)
    proxy = faultproxy.FaultProxy(("127.0.0.1", dovecot_nomove.imap_port)).start()
    try:
        m = mount(acc.url(tls=False, port=proxy.port),
                  options={"tls": "none", "password_file": acc.pwfile})
        before = acc.state("INBOX")
        uid = sorted(before)[1]
        wanted = acc.message_ids("INBOX")
        proxy.cut_before(cut)
        with pytest.raises(OSError) as ei:
            os.rename(m.path("INBOX", "%d.eml" % uid), m.path("Archive", "%d.eml" % uid))
        assert ei.value.errno == errno.EIO
        assert proxy.cuts == 1
        everywhere = acc.message_ids("INBOX") + acc.message_ids("Archive")
        for mid in wanted:
            assert mid in everywhere, "message lost: %r" % mid
        # The mount carries on with a new connection.
        assert listed(m.path("Archive")) == eml(acc.state("Archive"))
    finally:
        proxy.stop()


def test_mv_1000_messages(dovecot, mount, tmp_path):
    acc = Account(dovecot, tmp_path, n=1000)
    m = mount_account(mount, acc)
    wanted = sorted(acc.message_ids("INBOX"))
    assert len(wanted) == 1000
    r = subprocess.run("mv %s/*.eml %s/" % (m.path("INBOX"), m.path("Archive")), shell=True,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert acc.state("INBOX") == {}
    assert sorted(acc.message_ids("Archive")) == wanted  # none lost, none doubled
    assert len(listed(m.path("Archive"))) == 1000


# ------------------------------------------------------------------ folders

def test_mkdir_rmdir_rename_folders(dovecot, mount, tmp_path):
    acc = Account(dovecot, tmp_path)
    m = mount_account(mount, acc)
    os.mkdir(m.path("Projekt Ä"))
    assert "Projekt Ä" in acc.mailboxes()
    os.mkdir(m.path("Projekt Ä", "2024"))
    assert "Projekt Ä/2024" in acc.mailboxes()
    os.rename(m.path("Projekt Ä"), m.path("Archive", "Alt"))
    boxes = acc.mailboxes()
    assert {"Archive/Alt", "Archive/Alt/2024"} <= boxes and "Projekt Ä" not in boxes
    assert os.listdir(m.path("Archive", "Alt")) == ["2024"]
    os.rmdir(m.path("Archive", "Alt", "2024"))
    os.rmdir(m.path("Archive", "Alt"))
    assert not {"Archive/Alt", "Archive/Alt/2024"} & acc.mailboxes()
    assert "Alt" not in os.listdir(m.path("Archive"))


# ------------------------------------------------------------------ refusals

RENAME_NOREPLACE = 1
_libc = ctypes.CDLL(None, use_errno=True)


def renameat2(src, dst, flags):
    if _libc.renameat2(-100, src.encode(), -100, dst.encode(), flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), src)


def test_refusals_change_nothing(dovecot, mount, tmp_path):
    acc = Account(dovecot, tmp_path)
    m = mount_account(mount, acc)
    boxes = acc.mailboxes()
    inbox = acc.state("INBOX")
    uids = sorted(inbox)
    src = m.path("INBOX", "%d.eml" % uids[0])
    os.rename(m.path("INBOX", "%d.eml" % uids[1]), m.path("Archive", "x"))  # one in Archive
    inbox = acc.state("INBOX")
    archive = acc.state("Archive")
    cases = [
        (errno.EPERM, os.rename, src, m.path("INBOX", "99.eml")),           # within a folder
        (errno.EEXIST, renameat2, src, m.path("Archive", eml(archive)[0]),
         RENAME_NOREPLACE),                                                # onto a message
        (errno.ENOENT, os.rename, src, m.path("Nope", "1.eml")),            # no such folder
        (errno.EPERM, os.rename, src, m.path("Lists", "1.eml")),            # \Noselect
        (errno.EPERM, os.open, src, os.O_WRONLY),                           # write
        (errno.EPERM, os.truncate, src, 0),
        (errno.EINVAL, os.mkdir, m.path("bad\nname")),
        (errno.EINVAL, os.mkdir, m.path("cr\rname")),
        (errno.EINVAL, os.mkdir, os.fsencode(m.path("")) + b"\xff\xfe"),   # not UTF-8
        (errno.EINVAL, os.mkdir, m.path("7.eml")),                          # a message's name
        (errno.EEXIST, os.mkdir, m.path("Archive")),
        (errno.ENOTEMPTY, os.rmdir, m.path("Archive")),                     # holds a message
        (errno.ENOTEMPTY, os.rmdir, m.path("Lists")),                       # holds a folder
        (errno.EPERM, os.rmdir, m.path("INBOX")),
        (errno.EPERM, os.rename, m.path("INBOX"), m.path("Inbox2")),
        (errno.EINVAL, os.rename, m.path("Archive"), m.path("Archive", "Sub")),
    ]
    for err, fn, *args in cases:
        expect_errno(err, fn, *args)
    assert acc.mailboxes() == boxes
    assert acc.state("INBOX") == inbox and acc.state("Archive") == archive
    os.utime(src)                                   # touch: a harmless no-op
    os.chmod(src, 0o644)
    assert acc.state("INBOX") == inbox


def test_server_refusal_maps_to_errno(dovecot, mount, tmp_path):
    """Dovecot refuses a name starting with '~' with NO [CANNOT]: EPERM from
    the one mapping table, the server's words in the log."""
    acc = Account(dovecot, tmp_path)
    m = mount_account(mount, acc)
    boxes = acc.mailboxes()
    expect_errno(errno.EPERM, os.mkdir, m.path("~foo"))
    assert acc.mailboxes() == boxes
    log = m.stderr()
    assert "mkdir ~foo" in log and "Begins with '~'" in log, log


def test_read_only_mount_refuses_every_change(dovecot, mount, tmp_path):
    acc = Account(dovecot, tmp_path)
    m = mount_account(mount, acc, ro=True)
    boxes, inbox = acc.mailboxes(), acc.state("INBOX")
    src = m.path("INBOX", "%d.eml" % min(inbox))
    for fn, args in [(os.unlink, (src,)), (os.rename, (src, m.path("Archive", "1.eml"))),
                     (os.mkdir, (m.path("New"),)), (os.rmdir, (m.path("Archive"),)),
                     (os.open, (src, os.O_WRONLY))]:
        expect_errno(errno.EROFS, fn, *args)
    assert acc.mailboxes() == boxes and acc.state("INBOX") == inbox
