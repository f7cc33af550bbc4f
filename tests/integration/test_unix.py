"""The Unix fit (issue 9): flags as extended attributes (real getfattr and
setfattr), cp into a folder as APPEND, touch/chmod as harmless no-ops.
Checked against what an independent client (imaplib) sees on Dovecot."""

import errno
import itertools
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import dovecot as dovecot_mod  # noqa: E402
import imapraw  # noqa: E402
import inboxfs as ifs  # noqa: E402
import mailgen  # noqa: E402

_users = itertools.count(1)

# A quota that an APPEND can exceed: Dovecot's own refusal, not a fake's.
QUOTA_CONFIG = [
    "mail_plugins = $mail_plugins quota",
    "protocol imap {\n  mail_plugins = $mail_plugins imap_quota\n}",
    "plugin {\n  quota = count:User quota\n  quota_vsizes = yes\n"
    "  quota_rule = *:storage=3M\n}",
]


@pytest.fixture(scope="module")
def dovecot():
    dc = dovecot_mod.Dovecot(extra_config=QUOTA_CONFIG)
    yield dc
    dc.stop()


class Account:
    """A fresh user with a few messages, an oracle client and a mount."""

    def __init__(self, dc, tmp_path, mount, **options):
        self.dc = dc
        self.user = "unix%d" % next(_users)
        self.password = dc.add_user(self.user)
        raw = dc.raw(user=self.user, password=self.password)
        raw.create("Drafts")
        raw.append_many("INBOX", mailgen.bulk(3))
        raw.close()
        pw = ifs.write_password_file(str(tmp_path), self.password, name="pw-" + self.user)
        opts = {"cafile": dc.cafile, "password_file": pw, "watch": "none"}
        opts.update(options)
        self.m = mount(dc.url(user=self.user), options=opts)

    def imap(self):
        return self.dc.connect(user=self.user, password=self.password)

    def state(self, folder="INBOX"):
        m = self.imap()
        try:
            return imapraw.folder_state(m, folder)
        finally:
            m.logout()

    def path(self, *p):
        return self.m.path(*p)


@pytest.fixture
def acct(dovecot, tmp_path, mount):
    return Account(dovecot, tmp_path, mount)


def getfattr(path, name):
    r = subprocess.run(["getfattr", "--only-values", "-n", name, path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def setfattr(path, name, value):
    r = subprocess.run(["setfattr", "-n", name, "-v", value, path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return r.returncode, r.stderr.decode()


# ------------------------------------------------------------ flags as xattrs

def test_flags_round_trip(acct):
    uid = min(acct.state())
    path = acct.path("INBOX", "%d.eml" % uid)
    rc, err = setfattr(path, "user.imap.flags", r"\Seen \flagged $Label1")
    assert rc == 0, err
    flags = acct.state()[uid][2]
    assert flags == {"\\Seen", "\\Flagged", "$Label1"}
    rc, out, err = getfattr(path, "user.imap.flags")
    assert rc == 0, err
    assert set(out.split()) == {"\\Seen", "\\Flagged", "$Label1"}
    # a change made by another client is what getfattr shows next
    m = acct.imap()
    m.select("INBOX")
    m.uid("STORE", str(uid), "-FLAGS", "(\\Flagged)")
    m.uid("STORE", str(uid), "+FLAGS", "(\\Answered)")
    m.logout()
    rc, out, err = getfattr(path, "user.imap.flags")
    assert set(out.split()) == {"\\Seen", "\\Answered", "$Label1"}
    # removing the attribute clears every flag
    subprocess.run(["setfattr", "-x", "user.imap.flags", path], check=True)
    assert acct.state()[uid][2] == frozenset()


def test_read_only_attributes_and_listing(acct):
    uid = min(acct.state())
    size, date, _ = acct.state()[uid]
    path = acct.path("INBOX", "%d.eml" % uid)
    assert getfattr(path, "user.imap.uid")[1] == str(uid)
    rc, out, _ = getfattr(path, "user.imap.internaldate")
    assert rc == 0 and imapraw.parse_imap_date(out) == date
    rc, out, _ = getfattr(path, "user.imap.modseq")  # Dovecot has CONDSTORE
    assert rc == 0 and int(out) > 0
    names = subprocess.run(["getfattr", "-d", "-m", "-", path], stdout=subprocess.PIPE,
                           check=True).stdout.decode()
    for n in ("user.imap.flags", "user.imap.uid", "user.imap.internaldate",
              "user.imap.modseq"):
        assert n in names
    with pytest.raises(OSError) as e:
        os.setxattr(path, "user.imap.uid", b"7")
    assert e.value.errno == errno.EPERM
    with pytest.raises(OSError) as e:
        os.getxattr(path, "user.other")
    assert e.value.errno == errno.ENODATA
    with pytest.raises(OSError) as e:
        os.setxattr(path, "user.other", b"x")
    assert e.value.errno == errno.ENOTSUP
    # folders have none
    assert os.listxattr(acct.path("INBOX")) == []


@pytest.mark.parametrize("value", [r"\Recent", r"\*", "a(b", 'x"y', "a\r\nA1 LOGOUT",
                                   "caf\xe9"])
def test_flags_that_cannot_be_sent_are_refused(acct, value):
    uid = min(acct.state())
    before = acct.state()[uid][2]
    with pytest.raises(OSError) as e:
        os.setxattr(acct.path("INBOX", "%d.eml" % uid), "user.imap.flags",
                    value.encode("utf-8"))
    assert e.value.errno == errno.EINVAL
    assert acct.state()[uid][2] == before


def test_touch_and_chmod_are_harmless(acct):
    before = acct.state()
    uid = min(before)
    path = acct.path("INBOX", "%d.eml" % uid)
    subprocess.run(["touch", path], check=True)
    subprocess.run(["chmod", "644", path], check=True)
    assert acct.state() == before
    assert os.stat(path).st_mtime == before[uid][1]


# ------------------------------------------------------------ cp -> APPEND

def one_mb_message():
    body = b"".join(b"%07d abcdefghijklmnopqrstuvwxyz0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n"
                    % i for i in range(13000))
    return (b"From: Carol <carol@example.org>\r\nTo: alice@example.org\r\n"
            b"Subject: a megabyte\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
            b"Message-ID: <mb@example.org>\r\n\r\n" + body)


def test_cp_appends_exactly_those_bytes(acct, tmp_path):
    src = tmp_path / "big.eml"
    src.write_bytes(one_mb_message())
    os.utime(src, (1700000000, 1700000000))
    before = acct.state("Drafts")
    subprocess.run(["cp", "-p", str(src), acct.path("Drafts") + "/"], check=True)
    after = acct.state("Drafts")
    new = set(after) - set(before)
    assert len(new) == 1
    uid = new.pop()
    assert after[uid][1] == 1700000000  # INTERNALDATE from the source's mtime
    served = imapraw.fetch_body(acct.imap(), "Drafts", uid)
    assert served == src.read_bytes()
    names = set(os.listdir(acct.path("Drafts")))
    assert "%d.eml" % uid in names and "big.eml" not in names
    with open(acct.path("Drafts", "%d.eml" % uid), "rb") as f:
        assert f.read() == src.read_bytes()
    assert os.stat(acct.path("Drafts", "%d.eml" % uid)).st_mtime == 1700000000


def test_shell_redirection_and_bare_lf_are_sent_as_written(acct):
    data = b"Subject: bare\n\nline one\nline two\n"
    before = acct.state("Drafts")
    with open(acct.path("Drafts", "note"), "wb") as f:
        f.write(data)
    new = set(acct.state("Drafts")) - set(before)
    assert len(new) == 1
    served = imapraw.fetch_body(acct.imap(), "Drafts", new.pop())
    # what the server keeps of a bare-LF message is its business; the
    # text is all there, in order
    assert served.replace(b"\r\n", b"\n") == data


def test_refused_append_fails_cp_and_stores_nothing(acct, tmp_path):
    """Over quota: Dovecot says NO [OVERQUOTA]; cp reports it, nothing is
    half stored, the temporary name is gone."""
    src = tmp_path / "huge.eml"
    src.write_bytes(one_mb_message() * 4)  # 4 MB > the 3 MB quota
    before = acct.state("Drafts")
    r = subprocess.run(["cp", str(src), acct.path("Drafts") + "/"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert r.returncode != 0
    assert b"quota" in r.stderr.lower(), r.stderr
    assert acct.state("Drafts") == before
    assert "huge.eml" not in os.listdir(acct.path("Drafts"))
    assert "OVERQUOTA" in acct.m.stderr() or "uota" in acct.m.stderr()


def test_what_is_not_a_message_is_refused(acct):
    before = acct.state("Drafts")
    # a hidden file (an editor's swap file) is kept, listed, never sent
    with open(acct.path("Drafts", ".swp"), "wb") as f:
        f.write(b"Subject: swap\r\n\r\nnot mail\r\n")
    assert acct.state("Drafts") == before
    assert ".swp" in os.listdir(acct.path("Drafts"))
    os.unlink(acct.path("Drafts", ".swp"))
    assert ".swp" not in os.listdir(acct.path("Drafts"))
    assert acct.state("Drafts") == before
    # an empty file (touch) is no message: nothing is sent
    subprocess.run(["touch", acct.path("Drafts", "empty")], check=True)
    assert acct.state("Drafts") == before
    # removed before it was closed: never appended
    f = open(acct.path("Drafts", "draft"), "wb")
    f.write(b"Subject: x\r\n\r\ny\r\n")
    f.flush()
    os.unlink(acct.path("Drafts", "draft"))
    f.close()
    assert acct.state("Drafts") == before


def test_cp_on_a_read_only_mount(dovecot, tmp_path, mount):
    a = Account(dovecot, tmp_path, mount, ro=True)
    src = tmp_path / "m.eml"
    src.write_bytes(b"Subject: x\r\n\r\ny\r\n")
    r = subprocess.run(["cp", str(src), a.path("Drafts") + "/"], stderr=subprocess.PIPE)
    assert r.returncode != 0 and b"Read-only" in r.stderr


def test_protocol_trace_hides_the_password(dovecot, tmp_path, mount):
    """-o debug=all: the IMAP dialogue is in the log, the password is not."""
    a = Account(dovecot, tmp_path, mount, debug="all")
    os.listdir(a.path("INBOX"))
    log = a.m.stderr()
    assert "C: A1 " in log and "S: " in log and "UID FETCH" in log
    assert "AUTHENTICATE PLAIN <credentials not shown>" in log
    assert a.password not in log


def test_trace_categories_are_joined_with_colons_or_repeated(dovecot, tmp_path, mount):
    """-o debug=imap,fs cannot work (the option parser splits at commas):
    -o debug=imap:fs, or -o debug=imap -o debug=fs, traces both and
    nothing else; a category that does not exist is refused."""
    a = Account(dovecot, tmp_path, mount, debug="imap")
    os.listdir(a.path("INBOX"))
    assert "UID FETCH" in a.m.stderr() and "INBOX: 3 messages" not in a.m.stderr()
    base = ["cafile=" + dovecot.cafile, "watch=none",
            "password_file=" + ifs.write_password_file(str(tmp_path), a.password, name="pw2")]
    for debug in (["debug=imap:fs"], ["debug=imap", "debug=fs"]):
        m = mount(dovecot.url(user=a.user), options=base + debug)
        os.listdir(m.path("INBOX"))
        log = m.stderr()
        assert "UID FETCH" in log and "INBOX: 3 messages" in log, (debug, log)
        m.unmount()
    mp = str(tmp_path / "nomnt")
    os.mkdir(mp)
    r = ifs.run_inboxfs(a.m.binary, ["-f", "-o", "debug=imap:nope", dovecot.url(user=a.user), mp])
    assert r.returncode != 0 and "unknown category 'nope'" in r.stderr, r.stderr
    assert not os.path.ismount(mp)


# ------------------------------------------------------------ config, fstab, help, man

def write_config(tmp_path, dc, user, pwfile):
    cfg = tmp_path / "config"
    cfg.write_text("# inboxfs test config\ncafile = %s\nwatch = none\n\n"
                   "[other]\nurl = imaps://nobody@localhost:1\n\n"
                   "[work]\nurl = %s\npassword_file = %s\n" % (dc.cafile, dc.url(user=user),
                                                             pwfile))
    return str(cfg)


def test_mount_an_account_of_the_config_file_by_name(dovecot, tmp_path, mount):
    user = "cfg%d" % next(_users)
    pw = dovecot.add_user(user)
    pwfile = ifs.write_password_file(str(tmp_path), pw, name="pw-cfg")
    cfg = write_config(tmp_path, dovecot, user, pwfile)
    m = mount("work", options={"config": cfg})
    assert "INBOX" in os.listdir(m.path())
    # an account that is not there: one clear line, no mount
    mp = str(tmp_path / "nomnt")
    os.mkdir(mp)
    import inboxfs as _ifs
    r = _ifs.run_inboxfs(m.binary, ["-f", "-o", "config=" + cfg, "play", mp])
    assert r.returncode == 1 and "no account [play] in " + cfg in r.stderr


@pytest.fixture
def installed(inboxfs_bin):
    """inboxfs where mount(8) looks for it: mount.fuse3 runs it through
    /bin/sh with PATH=/usr/local/sbin:/usr/local/bin:...  (meson install
    puts it in /usr/local/bin; the test's link comes first and goes away)."""
    link = "/usr/local/sbin/inboxfs"
    if os.path.lexists(link):
        pytest.skip("%s exists already: not replacing it" % link)
    os.makedirs("/usr/local/sbin", exist_ok=True)
    os.symlink(inboxfs_bin, link)
    yield link
    os.unlink(link)


def test_mount_from_an_fstab_line(inboxfs_bin, installed, dovecot, tmp_path):
    """mount -T FSTAB MOUNTPOINT: mount(8) -> mount.fuse3 -> inboxfs (from
    PATH), daemonised, as an fstab line of type fuse.inboxfs would."""
    user = "fstab%d" % next(_users)
    pw = dovecot.add_user(user)
    pwfile = ifs.write_password_file(str(tmp_path), pw, name="pw-fstab")
    cfg = write_config(tmp_path, dovecot, user, pwfile)
    for source, opts in (("work", "config=%s" % cfg),
                         (dovecot.url(user=user),
                          "cafile=%s,password_file=%s,watch=none" % (dovecot.cafile, pwfile))):
        mp = tmp_path / ("mnt-%d" % len(source))
        mp.mkdir()
        fstab = tmp_path / "fstab"
        fstab.write_text("%s %s fuse.inboxfs noauto,_netdev,%s 0 0\n" % (source, mp, opts))
        r = subprocess.run(["mount", "-T", str(fstab), str(mp)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30,
                           env=ifs.clean_env({"XDG_STATE_HOME": str(tmp_path / "state")}))
        try:
            assert r.returncode == 0, r.stderr
            assert ifs.is_mounted(str(mp))
            assert "INBOX" in os.listdir(mp)
        finally:
            subprocess.run(["umount", str(mp)])
            for pid in ifs.find_processes(inboxfs_bin, str(mp)):
                assert ifs.wait_until(lambda: not os.path.exists("/proc/%d" % pid), 10), \
                    "the daemon did not exit after umount"
        assert not ifs.is_mounted(str(mp), None)


def readme_options():
    with open(os.path.join(HERE, "..", "..", "README.md")) as f:
        text = f.read()
    import re
    names = set(re.findall(r"^\| `-o ([a-z0-9_]+)", text, re.M))
    names |= set(re.findall(r",([a-z0-9_]+)=PATH` \|", text))  # oauth2_client_key
    assert len(names) > 20
    return names


def test_help_fits_a_screen_and_lists_every_option(inboxfs_bin):
    r = subprocess.run([inboxfs_bin, "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert len(lines) <= 50 and max(len(l) for l in lines) <= 80
    missing = [n for n in readme_options() if n not in r.stdout]
    assert missing == []


def test_man_page_renders_and_lists_every_option():
    page = os.path.join(HERE, "..", "..", "doc", "inboxfs.1")
    r = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, text=True,
                       env=dict(os.environ, MANWIDTH="200"),
                       timeout=30)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    text = r.stdout
    assert "NAME" in text and "inboxfs - mount an IMAP mailbox" in text
    missing = [n for n in readme_options() if n not in text]
    assert missing == []
