"""Backups and restores through the mount (issue 16): rsync -a from a folder
to a local directory and back into a new folder, a second restore that
stores nothing twice (append_dedupe), and the other writers that put a
file in place by renaming it (Python's tempfile + os.replace, install,
rsync --inplace), cp -r of a local tree, mv from the home directory.

The real commands run as a user runs them; what the server holds is read
with an independent client (imaplib): bytes, INTERNALDATE, counts."""

import ctypes
import errno
import itertools
import os
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import courier as courier_mod  # noqa: E402
import cyrus as cyrus_mod  # noqa: E402
import dovecot as dovecot_mod  # noqa: E402
import imapraw  # noqa: E402
import inboxfs as ifs  # noqa: E402
import mailgen  # noqa: E402

_users = itertools.count(1)

# A quota an APPEND at rename time can exceed: Dovecot's own refusal.
QUOTA_CONFIG = [
    "mail_plugins = $mail_plugins quota",
    "protocol imap {\n  mail_plugins = $mail_plugins imap_quota\n}",
    "plugin {\n  quota = count:User quota\n  quota_vsizes = yes\n"
    "  quota_rule = *:storage=3M\n}",
]
RUN_TIMEOUT = 60


@pytest.fixture(scope="module")
def dovecot():
    dc = dovecot_mod.Dovecot(extra_config=QUOTA_CONFIG)
    yield dc
    dc.stop()


def inbox_messages(n=6):
    """Messages of different kinds and dates (the 8-bit one included)."""
    base = mailgen.BASE_EPOCH
    msgs = [(mailgen.simple_message(i, epoch=base + 7919 * i), [], base + 7919 * i, 60)
            for i in range(n - 1)]
    return msgs + [(mailgen.eightbit_message(base + 99991), ["\\Seen"], base + 99991, -300)]


class Account:
    """A fresh user of srv whose INBOX UIDs do not start at 1 (two messages
    were appended and expunged first), so a restore into a new folder
    gets other names than the backup's: as in life."""

    def __init__(self, srv, tmp_path, mount, folder=lambda p: p, mount_path=lambda p: p,
                 **options):
        self.srv = srv
        self.folder = lambda p: p if p == "INBOX" else folder(p)
        self.mount_path = lambda p: p if p == "INBOX" else mount_path(p)
        self.user = "bk%d" % next(_users)
        self.password = srv.add_user(self.user)
        c = srv.raw(user=self.user, password=self.password)
        c.append_many("INBOX", [(mailgen.simple_message(900 + i), [], mailgen.BASE_EPOCH, 0)
                                for i in range(2)])
        c.logout()
        m = self.imap()
        m.select("INBOX")
        m.store("1:*", "+FLAGS", "(\\Deleted)")
        m.expunge()
        m.logout()
        c = srv.raw(user=self.user, password=self.password)
        c.append_many("INBOX", inbox_messages())
        c.logout()
        self.tmp = tmp_path
        pw = ifs.write_password_file(str(tmp_path), self.password, name="pw-" + self.user)
        opts = {"cafile": srv.cafile, "password_file": pw}
        opts.update(options)
        self.m = mount(srv.url(user=self.user), options=opts,
                       env=ifs.clean_env({"XDG_STATE_HOME": str(tmp_path / "state")}))

    def imap(self):
        return self.srv.connect(user=self.user, password=self.password)

    def state(self, folder="INBOX"):
        m = self.imap()
        try:
            return imapraw.folder_state(m, self.folder(folder))
        finally:
            m.logout()

    def messages(self, folder="INBOX"):
        """[(bytes, INTERNALDATE)] of a folder, sorted: what a restore must
        reproduce, whatever the UIDs."""
        m = self.imap()
        try:
            state = imapraw.folder_state(m, self.folder(folder))
            bodies = imapraw.fetch_bodies(m, self.folder(folder)) if state else {}
        finally:
            m.logout()
        return sorted((bodies[u], state[u][1]) for u in state)

    def path(self, *p):
        return self.m.path(*[self.mount_path(x) if i == 0 else x for i, x in enumerate(p)])


def run(*argv):
    r = subprocess.run(list(argv), capture_output=True, timeout=RUN_TIMEOUT)
    assert r.returncode == 0, "%s: rc %d\n%s" % (argv, r.returncode, r.stderr.decode())
    return r


def local_tree(directory):
    """{name: (bytes, mtime)} of the plain files in a local directory."""
    out = {}
    for name in os.listdir(directory):
        p = os.path.join(directory, name)
        with open(p, "rb") as f:
            out[name] = (f.read(), int(os.stat(p).st_mtime))
    return out


def backup_and_restore(acct, backup):
    """The issue's commands: back INBOX up, restore it into a new folder."""
    run("rsync", "-a", acct.path("INBOX") + "/", str(backup) + "/")
    os.mkdir(acct.path("Restore"))
    run("rsync", "-a", str(backup) + "/", acct.path("Restore") + "/")


# ------------------------------------------------------------ rsync -a

def test_rsync_backup_then_restore_then_again(dovecot, tmp_path, mount):
    """rsync -a INBOX to a local directory and back into a new folder: the
    same bytes with the same INTERNALDATEs; a second run stores nothing
    again although every name differs from the UIDs it produced."""
    acct = Account(dovecot, tmp_path, mount)
    backup = tmp_path / "backup"
    backup_and_restore(acct, backup)
    original = acct.messages("INBOX")
    saved = local_tree(backup)
    assert sorted((b, t) for n, (b, t) in saved.items() if n.endswith(".eml")) == original
    assert ".newmail" in saved   # the watched INBOX's marker came along
    assert acct.messages("Restore") == original
    restored = acct.state("Restore")
    names = sorted(n for n in os.listdir(acct.path("Restore")) if n.endswith(".eml"))
    assert names == sorted("%d.eml" % u for u in restored)
    assert set(names) != {n for n in saved if n.endswith(".eml")}   # UIDs, not the backup's names
    for uid, (size, date, _) in restored.items():
        st = os.stat(acct.path("Restore", "%d.eml" % uid))
        assert (st.st_size, int(st.st_mtime)) == (size, date)
    run("rsync", "-a", str(backup) + "/", acct.path("Restore") + "/")
    assert acct.state("Restore") == restored
    assert "not appended again" in acct.m.stderr()


def test_restore_twice_without_dedupe_stores_twice(dovecot, tmp_path, mount):
    """append_dedupe=no: what the README warns of, a second run appends
    every message again."""
    acct = Account(dovecot, tmp_path, mount, append_dedupe="no")
    backup = tmp_path / "backup"
    backup_and_restore(acct, backup)
    os.listdir(acct.path("Restore"))   # later: the names written are forgotten
    run("rsync", "-a", str(backup) + "/", acct.path("Restore") + "/")
    assert acct.messages("Restore") == sorted(acct.messages("INBOX") * 2)


def test_a_refused_append_fails_the_rename_and_keeps_the_file(dovecot, tmp_path, mount):
    """Over quota at rename time: rename(2) fails with EDQUOT, nothing is
    stored, the temporary file is still there with its bytes (rsync then
    reports the file and removes its temporary)."""
    acct = Account(dovecot, tmp_path, mount)
    data = b"Subject: too big\r\n\r\n" + b"0123456789abcdef" * (4 << 16)   # 4 MB > 3 MB quota
    tmp = acct.path("INBOX", ".big.eml.Xyz123")
    with open(tmp, "wb") as f:
        f.write(data)
    before = acct.state("INBOX")
    with pytest.raises(OSError) as e:
        os.rename(tmp, acct.path("INBOX", "big.eml"))
    assert e.value.errno == errno.EDQUOT
    assert acct.state("INBOX") == before
    assert ".big.eml.Xyz123" in os.listdir(acct.path("INBOX"))
    assert os.stat(tmp).st_size == len(data)
    src = tmp_path / "big.eml"
    src.write_bytes(data)
    r = subprocess.run(["rsync", "-a", str(src), acct.path("INBOX") + "/"],
                       capture_output=True, timeout=RUN_TIMEOUT)
    assert r.returncode != 0 and b"quota" in r.stderr.lower(), r.stderr
    assert acct.state("INBOX") == before
    os.unlink(tmp)
    assert not [n for n in os.listdir(acct.path("INBOX")) if n.startswith(".big")]


def test_hidden_temporaries_are_never_sent(dovecot, tmp_path, mount):
    """A hidden file written, closed and removed is never sent; one left
    behind is listed until removed, and is not sent at unmount either."""
    acct = Account(dovecot, tmp_path, mount)
    before = acct.state("INBOX")
    for name in (".gone.tmp", ".left.tmp"):
        with open(acct.path("INBOX", name), "wb") as f:
            f.write(b"Subject: scratch\r\n\r\nnot mail\r\n")
        os.utime(acct.path("INBOX", name), (1700000000, 1700000000))
    os.unlink(acct.path("INBOX", ".gone.tmp"))
    listed = os.listdir(acct.path("INBOX"))
    assert ".left.tmp" in listed and ".gone.tmp" not in listed
    assert os.stat(acct.path("INBOX", ".left.tmp")).st_mtime == 1700000000
    assert acct.state("INBOX") == before
    rc, problems = acct.m.unmount()
    assert rc == 0 and not problems, problems
    assert acct.state("INBOX") == before


def _write_keeping_release(path, data, flags=os.O_WRONLY | os.O_CREAT | os.O_EXCL):
    """Write and close path, with a dup of the descriptor left open: the
    writer is done (FLUSH) but the kernel holds back the RELEASE.
    Returns the dup."""
    fd = os.open(path, flags, 0o600)
    try:
        os.write(fd, data)
        return os.dup(fd)
    finally:
        os.close(fd)


def test_rename_and_rewrite_before_the_release_arrives(dovecot, tmp_path, mount):
    """The kernel tells inboxfs a file is released only after close()
    returns (and not while a dup of its descriptor lives): a rename right
    after the close still appends the file, and writing the same name
    again right after its close makes a second message."""
    acct = Account(dovecot, tmp_path, mount)
    before = acct.state("INBOX")
    first, second = mailgen.simple_message(41), mailgen.simple_message(42)
    tmp = acct.path("INBOX", ".pending.tmp")
    kept = [_write_keeping_release(tmp, first)]
    try:
        os.utime(tmp, (1640000000, 1640000000))
        os.rename(tmp, acct.path("INBOX", "pending.eml"))
        new = set(acct.state("INBOX")) - set(before)
        assert len(new) == 1
        note = acct.path("INBOX", "note")
        kept.append(_write_keeping_release(note, first))
        os.close(_write_keeping_release(note, second, os.O_WRONLY | os.O_TRUNC))
    finally:
        for fd in kept:
            os.close(fd)
    after = acct.state("INBOX")
    assert after[min(new)][1] == 1640000000
    m = acct.imap()
    bodies = imapraw.fetch_bodies(m, "INBOX")
    m.logout()
    assert sorted(b for u, b in bodies.items() if u not in before) == sorted([first, first, second])


# ------------------------------------------------------------ other writers

@pytest.mark.parametrize("prefix", [".report.eml.", "tmp"])
def test_python_atomic_write(dovecot, tmp_path, mount, prefix):
    """tempfile in the folder, fsync, close, os.replace onto the final
    name, fsync of the folder: one message with those bytes, readable
    under the final name; a hidden temporary's mtime is its INTERNALDATE
    (a visible one is appended at its close, with that time).  Nothing
    watches or lists the folder first."""
    acct = Account(dovecot, tmp_path, mount, watch="none")
    folder = acct.path("INBOX")
    data = mailgen.simple_message(77, epoch=1690000000)
    before = acct.state("INBOX")
    with tempfile.NamedTemporaryFile(dir=folder, prefix=prefix, delete=False) as t:
        t.write(data)
        t.flush()
        os.fsync(t.fileno())
    os.utime(t.name, (1690000000, 1690000000))
    os.replace(t.name, os.path.join(folder, "report.eml"))
    fd = os.open(folder, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    final = os.path.join(folder, "report.eml")
    assert os.stat(final).st_size == len(data)
    with open(final, "rb") as f:
        assert f.read() == data
    after = acct.state("INBOX")
    new = set(after) - set(before)
    assert len(new) == 1
    assert imapraw.fetch_body(acct.imap(), "INBOX", new.pop()) == data
    if prefix.startswith("."):
        assert after[max(after)][1] == 1690000000
    assert os.path.basename(t.name) not in os.listdir(folder)


def test_a_writer_reads_back_what_it_wrote(dovecot, tmp_path, mount):
    """open(..., "w+b"), write, seek back and read (a program checking
    what it wrote, an editor's buffer file): the bytes come back, and the
    close appends them once.  This killed the daemon: the read took the
    writer's handle for a message's bytes."""
    acct = Account(dovecot, tmp_path, mount, watch="none")
    folder = acct.path("INBOX")
    data = mailgen.simple_message(78, epoch=1690000100)
    before = acct.state("INBOX")
    with open(os.path.join(folder, "draft.eml"), "w+b") as f:
        f.write(data)
        f.seek(0)
        assert f.read() == data
        assert os.pread(f.fileno(), 10, len(data) - 4) == data[-4:]
        assert os.pread(f.fileno(), 10, len(data) + 100) == b""
    after = acct.state("INBOX")
    new = set(after) - set(before)
    assert len(new) == 1
    assert imapraw.fetch_body(acct.imap(), "INBOX", new.pop()) == data
    assert sorted(os.listdir(folder)) == sorted("%d.eml" % u for u in after)


def test_install_and_rsync_inplace(dovecot, tmp_path, mount):
    """Both close the file, then change it by name (install: chmod;
    rsync --inplace: utimensat): the name still answers."""
    acct = Account(dovecot, tmp_path, mount)
    src = tmp_path / "m.eml"
    src.write_bytes(mailgen.simple_message(5, epoch=1680000000))
    os.utime(src, (1680000000, 1680000000))
    before = acct.state("INBOX")
    run("install", "-m", "644", str(src), acct.path("INBOX", "installed.eml"))
    run("rsync", "-a", "--inplace", str(src), acct.path("INBOX", "inplace.eml"))
    assert os.stat(acct.path("INBOX", "installed.eml")).st_size == len(src.read_bytes())
    new = set(acct.state("INBOX")) - set(before)
    assert len(new) == 2
    m = acct.imap()
    assert all(imapraw.fetch_body(m, "INBOX", u) == src.read_bytes() for u in new)
    m.logout()


def test_mv_from_home_and_cp_r_of_a_tree(dovecot, tmp_path, mount):
    """mv ~/x.eml F/ appends x with its mtime as INTERNALDATE and removes
    it; cp -r of a local tree makes folders and messages."""
    acct = Account(dovecot, tmp_path, mount)
    x = tmp_path / "x.eml"
    x.write_bytes(mailgen.simple_message(11, epoch=1660000000))
    os.utime(x, (1660000000, 1660000000))
    data = x.read_bytes()
    before = acct.state("INBOX")
    run("mv", str(x), acct.path("INBOX") + "/")
    assert not x.exists()
    after = acct.state("INBOX")
    (uid,) = set(after) - set(before)
    assert after[uid][1] == 1660000000
    assert imapraw.fetch_body(acct.imap(), "INBOX", uid) == data
    tree = tmp_path / "Projects"
    (tree / "Sub").mkdir(parents=True)
    files = {"Projects": {"a.eml": mailgen.simple_message(21), "b.eml": mailgen.eightbit_message()},
             "Projects/Sub": {"c.eml": mailgen.simple_message(23)}}
    for d, content in files.items():
        for name, body in content.items():
            (tmp_path / d / name).write_bytes(body)
    run("cp", "-r", str(tree), acct.m.path())
    for d, content in files.items():
        assert sorted(b for b, _ in acct.messages(d)) == sorted(content.values())


def _renameat2(src, dst, flags):
    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd = -100
    if libc.renameat2(at_fdcwd, src.encode(), at_fdcwd, dst.encode(), flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def test_rename_onto_a_message_or_into_another_folder(dovecot, tmp_path, mount):
    """Onto an existing message's name: appended beside it, never replacing
    it (EEXIST with RENAME_NOREPLACE); into another folder: appended
    there; onto a folder's name: EISDIR."""
    acct = Account(dovecot, tmp_path, mount)
    os.mkdir(acct.path("Other"))
    inbox = acct.state("INBOX")
    victim = min(inbox)
    old_bytes = imapraw.fetch_body(acct.imap(), "INBOX", victim)
    data = mailgen.simple_message(31, epoch=1650000000)
    tmp = acct.path("INBOX", ".t1")
    with open(tmp, "wb") as f:
        f.write(data)
    with pytest.raises(OSError) as e:
        _renameat2(tmp, acct.path("INBOX", "%d.eml" % victim), 1)   # RENAME_NOREPLACE
    assert e.value.errno == errno.EEXIST
    with pytest.raises(OSError) as e:
        os.rename(tmp, acct.path("Other"))
    assert e.value.errno in (errno.EISDIR, errno.ENOTDIR)   # the kernel may answer first
    os.rename(tmp, acct.path("INBOX", "%d.eml" % victim))
    after = acct.state("INBOX")
    assert set(inbox) < set(after) and len(after) == len(inbox) + 1
    with open(acct.path("INBOX", "%d.eml" % victim), "rb") as f:
        assert f.read() == old_bytes
    with open(acct.path("INBOX", ".t2"), "wb") as f:
        f.write(data)
    os.rename(acct.path("INBOX", ".t2"), acct.path("Other", "moved.eml"))
    assert [b for b, _ in acct.messages("Other")] == [data]
    assert acct.state("INBOX") == after


# ------------------------------------------------------------ other servers

OTHER_SERVERS = [s for s in os.environ.get("INBOXFS_SERVERS", "dovecot,cyrus,courier").split(",")
                 if s.strip() in ("cyrus", "courier")]


@pytest.fixture(scope="module", params=OTHER_SERVERS)
def other_server(request):
    srv = {"cyrus": cyrus_mod.Cyrus, "courier": courier_mod.Courier}[request.param.strip()]()
    yield srv
    srv.stop()


def test_rsync_restore_on_other_servers(other_server, tmp_path, mount):
    """The same backup and restore on Cyrus and Courier (folders under
    INBOX. there)."""
    acct = Account(other_server, tmp_path, mount, folder=other_server.folder,
                   mount_path=other_server.mount_path)
    backup = tmp_path / "backup"
    backup_and_restore(acct, backup)
    assert acct.messages("Restore") == acct.messages("INBOX")
    restored = acct.state("Restore")
    os.listdir(acct.path("Restore"))   # later: the names written are forgotten
    run("rsync", "-a", str(backup) + "/", acct.path("Restore") + "/")
    assert acct.state("Restore") == restored
    assert "not appended again" in acct.m.stderr()


def test_rsync_of_the_whole_mount(dovecot, tmp_path, mount):
    """The backup a user writes first: rsync -a of the whole mount.  It
    ends with status 0 (a backup script checks it), brings every folder's
    messages with their bytes, and never enters .parts or .search."""
    acct = Account(dovecot, tmp_path, mount)
    backup = tmp_path / "whole"
    run("rsync", "-a", acct.m.mountpoint + "/", str(backup) + "/")
    saved = local_tree(backup / "INBOX")
    assert sorted((b, t) for n, (b, t) in saved.items() if n.endswith(".eml")) == \
        acct.messages("INBOX")
    assert not any(n in (".parts", ".search") for _, dirs, _ in os.walk(backup) for n in dirs)
