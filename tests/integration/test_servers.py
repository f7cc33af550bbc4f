"""The core of inboxfs against each real server (issue 10): mount, ls/stat,
cat, rm, mv and IDLE, on Dovecot, Cyrus and Courier, each started privately
(tests/lib/dovecot.py, cyrus.py, courier.py).

INBOXFS_SERVERS=dovecot,cyrus,courier picks the servers (default: all
three; Cyrus and Courier come from tests/install-test-servers.sh).  A named
server that cannot start fails its tests: nothing is skipped.

Where a server lacks a capability a test needs, the test checks the
fallback instead: mv without MOVE must be UID COPY + UID STORE \\Deleted +
UID EXPUNGE (Courier), rm without UIDPLUS must be refused (EPERM) unless
expunge=unsafe.  Which path ran is read from inboxfs's own protocol trace
(-o debug=imap), what the user sees from the real commands on the mount,
and the server's state from an independent imaplib client.
"""

import errno
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import imapraw  # noqa: E402
import inboxfs as ifs  # noqa: E402
import inotify  # noqa: E402
import mailgen  # noqa: E402
from realservers import ARRIVAL_TIMEOUT, REPORT, Account, emls, sent  # noqa: E402
from realservers import mount_path as _mount_path  # noqa: E402


def test_capabilities_are_usable(server):
    """Every server offers what inboxfs cannot do without (IMAP4rev1,
    IDLE or polling, a login it can use over TLS); the rest is recorded."""
    caps = server.post_caps
    assert "IMAP4REV1" in caps, caps
    pre = set(REPORT[server.kind]["pre"])
    assert pre & {"AUTH=PLAIN", "AUTH=LOGIN"} or "LOGINDISABLED" not in pre, pre


def test_check_reports_the_server(server, inboxfs_bin, tmp_path):
    """inboxfs --check URL logs in and prints a capability table that agrees
    with the server's CAPABILITY after login as an independent client sees
    it, what inboxfs does without each missing capability, and the folder
    count and special-use folders of LIST."""
    acc = Account(server, tmp_path)
    r = ifs.run_inboxfs(inboxfs_bin, ["--check", "-o", "cafile=%s,password_file=%s"
                                      % (server.cafile, acc.pwfile), server.url(user=acc.user)])
    assert r.returncode == 0, r
    m = acc.imap()
    try:
        boxes = imapraw.list_mailboxes(m, with_flags=True)
    finally:
        m.logout()
    ifs.assert_check_report(ifs.parse_check(r.stdout), server.post_caps, boxes)


def test_ls_stat_cat(server, mount, tmp_path):
    """ls lists exactly the UIDs, stat shows RFC822.SIZE and INTERNALDATE,
    cat gives BODY.PEEK[]'s bytes, and reading sets no \\Seen."""
    acc = Account(server, tmp_path)
    before = acc.state()
    m = acc.mount(mount)
    inbox = m.path("INBOX")
    assert emls(inbox) == {"%d.eml" % u for u in before}
    archive_dir = m.path(_mount_path(server, "Archive"))
    assert os.path.isdir(archive_dir) and emls(archive_dir) == set()
    for uid, (size, date, _flags) in before.items():
        st = os.stat(os.path.join(inbox, "%d.eml" % uid))
        assert (st.st_size, int(st.st_mtime)) == (size, date), uid
        data = subprocess.run(["cat", os.path.join(inbox, "%d.eml" % uid)],
                              capture_output=True, check=True).stdout
        assert data == acc.body("INBOX", uid)
    assert acc.state() == before   # flags: no \Seen from reading


def test_rm(server, mount, tmp_path):
    """rm Y removes Y alone, even with X flagged \\Deleted by another client
    (UID EXPUNGE); without UIDPLUS rm is refused unless expunge=unsafe."""
    acc = Account(server, tmp_path)
    uids = sorted(acc.state())
    x, y = uids[0], uids[2]
    c = acc.imap()
    c.select("INBOX")
    assert c.uid("STORE", str(x), "+FLAGS", "(\\Deleted)")[0] == "OK"
    c.logout()
    m = acc.mount(mount)
    victim = m.path("INBOX", "%d.eml" % y)
    if "UIDPLUS" not in server.post_caps:
        REPORT[server.kind]["fallbacks"].add("rm refused (no UIDPLUS)")
        r = subprocess.run(["rm", victim], capture_output=True)
        assert r.returncode != 0 and acc.state().keys() == set(uids)
        with pytest.raises(OSError) as ei:
            os.unlink(victim)
        assert ei.value.errno == errno.EPERM
        return
    subprocess.run(["rm", victim], check=True)
    after = acc.state()
    assert set(after) == set(uids) - {y}
    assert "\\Deleted" in after[x][2]
    assert "%d.eml" % y not in os.listdir(m.path("INBOX"))
    assert sent(m, "UID EXPUNGE"), m.stderr()[-2000:]


def test_mv(server, mount, tmp_path):
    """mv INBOX/N.eml Archive/: gone from INBOX, in Archive under its new UID
    with the same bytes, flags and date; UID MOVE where offered, else the
    COPY fallback (UID COPY, UID STORE +\\Deleted, UID EXPUNGE)."""
    acc = Account(server, tmp_path)
    before = acc.state()
    uid = max(u for u, v in before.items() if "\\Seen" in v[2])
    body = acc.body("INBOX", uid)
    m = acc.mount(mount)
    subprocess.run(["mv", m.path("INBOX", "%d.eml" % uid),
                    m.path(_mount_path(server, "Archive")) + "/"], check=True)
    assert set(acc.state()) == set(before) - {uid}
    archive = acc.state(acc.archive)
    assert len(archive) == 1
    new_uid, (size, date, flags) = archive.popitem()
    assert acc.body(acc.archive, new_uid) == body
    assert (size, date, flags) == before[uid]
    assert emls(m.path(_mount_path(server, "Archive"))) == {"%d.eml" % new_uid}
    if "MOVE" in server.post_caps:
        assert sent(m, "UID MOVE") and not sent(m, "UID COPY"), m.stderr()[-2000:]
    else:
        REPORT[server.kind]["fallbacks"].add("mv: UID COPY + UID STORE + UID EXPUNGE (no MOVE)")
        assert sent(m, "UID COPY") and sent(m, "UID EXPUNGE"), m.stderr()[-2000:]
        assert not sent(m, "UID MOVE")


def test_new_mail_appears(server, mount, tmp_path):
    """Mail appended by another client shows up as a file (IN_CREATE), on
    IDLE where offered, else by NOOP polling."""
    acc = Account(server, tmp_path)
    poll = "IDLE" not in server.post_caps
    m = acc.mount(mount, **({"poll_interval": "2"} if poll else {}))
    before = acc.state()
    assert emls(m.path("INBOX")) == {"%d.eml" % u for u in before}
    w = inotify.Inotify(m.path("INBOX")).start()
    try:
        c = acc.raw()
        c.append_many("INBOX", [(mailgen.simple_message(500), [], mailgen.BASE_EPOCH, 0)])
        c.logout()
        new = set(acc.state()) - set(before)
        assert len(new) == 1
        name = "%d.eml" % new.pop()
        assert w.wait_for(lambda evs: ("CREATE", name) in evs, ARRIVAL_TIMEOUT), (
            w.events, m.stderr()[-3000:])
        assert name in emls(m.path("INBOX"))
    finally:
        w.stop()
    if poll:
        REPORT[server.kind]["fallbacks"].add("new mail: NOOP polling (no IDLE)")
    else:
        assert sent(m, "IDLE"), m.stderr()[-2000:]
