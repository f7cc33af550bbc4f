"""Feature 1: mount an IMAP account read-only-ish and read messages.

Acceptance 1  a seeded Dovecot account seen through the mount with ls,
              stat, cat and cmp equals what imaplib sees; reading sets
              no \\Seen.
Acceptance 2  a fake server whose RFC822.SIZE lies: cat returns the real
              bytes, stat follows; ls -l fetches no body.
Acceptance 3  connection/login failures: quick non-zero exit, one line on
              stderr, no mount, no password in the output.
Options       -o ro, INBOXFS_PASSWORD, password_file mode, password_cmd,
              config file, STARTTLS, daemon mode, fusermount3 -u / SIGTERM.
"""

import os
import pwd
import signal
import stat
import subprocess

import pytest

import dovecot as dovecot_mod
import fakeimap
import inboxfs as ifs

MOUNT_TIMEOUT = 30.0
FAIL_WITHIN = 5.0  # seconds for a failed connect/login to be reported


def sh(*argv, check=True, binary=False, timeout=120):
    """Run a real command as a shell user would; returns stdout."""
    r = subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=timeout, env=ifs.clean_env())
    if check and r.returncode != 0:
        raise AssertionError("%s exited %d: %s" % (" ".join(argv), r.returncode,
                                                   r.stderr.decode(errors="replace")))
    return r.stdout if binary else r.stdout.decode("utf-8", "surrogateescape")


def stat_files(paths):
    """{path: (size, mtime, octal mode, uid, user)} via stat(1), many files
    per call."""
    out = {}
    paths = list(paths)
    for i in range(0, len(paths), 500):
        text = sh("stat", "-c", "%s|%Y|%a|%u|%U|%n", *paths[i:i + 500])
        for line in text.splitlines():
            size, mtime, mode, uid, user, name = line.split("|", 5)
            out[name] = (int(size), int(mtime), mode, int(uid), user)
    return out


def ls_names(path):
    return set(sh("ls", "-1A", path).splitlines())


def me():
    return pwd.getpwuid(os.getuid()).pw_name


# =====================================================================
# Acceptance 1: the seeded Dovecot account
# =====================================================================

@pytest.fixture(scope="module")
def seeded_mount(inboxfs_bin, seeded, tmp_path_factory):
    d = tmp_path_factory.mktemp("seeded")
    pw = ifs.write_password_file(str(d), seeded.password)
    m = ifs.Inboxfs(inboxfs_bin, seeded.dovecot.url(), str(d / "mnt"),
                    options={"cafile": seeded.dovecot.cafile, "password_file": pw},
                    workdir=str(d))
    m.start(timeout=MOUNT_TIMEOUT)
    yield m
    rc, problems = m.unmount()
    m.kill()
    assert not problems, "%s\nstderr:\n%s" % (problems, m.stderr())


def test_tree_matches_mailbox_list(seeded, seeded_mount):
    """Every mailbox is a directory (hierarchy "/" -> nested dirs, modified
    UTF-7 decoded), and there are no other directories."""
    root = seeded_mount.mountpoint
    found = set(sh("find", root, "-mindepth", "1", "-type", "d", "-printf", "%P\n").splitlines())
    found.remove(".inboxfs")  # the status directory, not a mailbox
    assert found == set(seeded.mailboxes), (
        "missing: %s, unexpected: %s" % (sorted(set(seeded.mailboxes) - found),
                                         sorted(found - set(seeded.mailboxes))))
    assert "Entwürfe" in found and "Lists/dev & ops" in found and "Archive/2023/Q1" in found


def test_each_folder_lists_exactly_its_uids(seeded, seeded_mount):
    root = seeded_mount.mountpoint
    assert ls_names(root) == seeded.children("") | {".inboxfs"}  # + the status directory
    for path in seeded.mailboxes:
        names = ls_names(os.path.join(root, path))
        if path == "INBOX":  # watched by default: it has the new-mail marker
            assert ".newmail" in names
            names.discard(".newmail")
        assert names == seeded.expected_entries(path), path
    assert len([n for n in ls_names(os.path.join(root, "Bulk")) if n.endswith(".eml")]) == 1000
    assert ls_names(os.path.join(root, "Empty")) == set()


def test_stat_size_mtime_mode_owner(seeded, seeded_mount):
    """st_size = RFC822.SIZE, st_mtime = INTERNALDATE, mode 0600, owner =
    the mounting user, for every message (checked before any read)."""
    root = seeded_mount.mountpoint
    want = {}
    for path, msgs in seeded.state.items():
        for uid, (size, date, _flags) in msgs.items():
            want[os.path.join(root, path, "%d.eml" % uid)] = (size, date)
    got = stat_files(sorted(want))
    assert set(got) == set(want)
    bad = [(p, want[p], got[p][:2]) for p in want if got[p][:2] != want[p]]
    assert not bad, "size/mtime differ (path, want, got): %s" % bad[:10]
    modes = {v[2] for v in got.values()}
    owners = {(v[3], v[4]) for v in got.values()}
    assert modes == {"600"}, modes
    assert owners == {(os.getuid(), me())}, owners


def test_ls_l_shows_mode_and_user(seeded, seeded_mount):
    text = sh("ls", "-l", seeded_mount.path("INBOX"))
    lines = [l for l in text.splitlines() if l.endswith(".eml")]
    assert len(lines) == len(seeded.state["INBOX"])
    for l in lines:
        fields = l.split()
        assert fields[0].startswith("-rw-------"), l
        assert fields[2] == me(), l


def test_read_everything_and_seen_unchanged(seeded, seeded_mount, tmp_path):
    """cat of every message equals imaplib's BODY.PEEK[] (cmp for the
    20 MB one); afterwards the server's flags are exactly as before."""
    root = seeded_mount.mountpoint
    before = {p: {u: v[2] for u, v in msgs.items()} for p, msgs in seeded.state.items()}
    large = seeded.special["large"]
    for path, msgs in seeded.state.items():
        bodies = seeded.bodies(path)
        assert set(bodies) == set(msgs)
        for uid in sorted(msgs):
            f = os.path.join(root, path, "%d.eml" % uid)
            if (path, uid) == large:
                oracle = tmp_path / "large.eml"
                oracle.write_bytes(bodies[uid])
                r = subprocess.run(["cmp", str(oracle), f], capture_output=True)
                assert r.returncode == 0, "cmp %s: %s" % (f, r.stdout + r.stderr)
                continue
            data = sh("cat", f, binary=True)
            assert data == bodies[uid], "%s: %d bytes read, %d expected" % (
                f, len(data), len(bodies[uid]))
    _, after_state = seeded.snapshot()
    after = {p: {u: v[2] for u, v in msgs.items()} for p, msgs in after_state.items()}
    assert after == before


def test_8bit_and_binaryish_bytes(seeded, seeded_mount):
    """The oracle is what the server serves (Dovecot turns bare LF into
    CRLF, drops a CR before CRLF, keeps other bare CRs and 8-bit bytes)."""
    for key in ("eightbit", "binary"):
        path, uid = seeded.special[key]
        f = seeded_mount.path(path, "%d.eml" % uid)
        data = sh("cat", f, binary=True)
        assert data == seeded.body(path, uid)
        assert os.stat(f).st_size == len(data)
    path, uid = seeded.special["binary"]
    data = seeded.body(path, uid)
    assert bytes(range(0x80, 0x100)) in data and b"\r" in data


def test_partial_reads(seeded, seeded_mount):
    """pread at odd offsets, and reads past the end, on the 20 MB message."""
    path, uid = seeded.special["large"]
    oracle = seeded.body(path, uid)
    fd = os.open(seeded_mount.path(path, "%d.eml" % uid), os.O_RDONLY)
    try:
        for off, n in [(0, 1), (4095, 3), (1 << 20, 65536 + 7), (len(oracle) - 10, 100),
                       (len(oracle), 10), (len(oracle) + 5000, 10)]:
            assert os.pread(fd, n, off) == oracle[off:off + n], (off, n)
    finally:
        os.close(fd)


@pytest.mark.parametrize("name", [".Trash", "autorun.inf", "libc.so.6", ".hidden",
                                  "INBOX/.Trash", "INBOX/autorun.inf", "INBOX/libc.so.6",
                                  "INBOX/999999.eml", "Nope/1.eml"])
def test_impossible_names_enoent(seeded_mount, name):
    p = seeded_mount.path(name)
    with pytest.raises(FileNotFoundError):
        os.stat(p)
    r = subprocess.run(["stat", p], capture_output=True, text=True)
    assert r.returncode != 0 and "No such file" in r.stderr


def test_noncanonical_uid_names_enoent(seeded, seeded_mount):
    """Only the exact "<UID>.eml" spelling exists."""
    uid = min(seeded.state["INBOX"])
    for name in ["0%d.eml" % uid, "+%d.eml" % uid, "%d.EML" % uid, "%d" % uid,
                 "%d.eml.swp" % uid, "%d.eml~" % uid, "0.eml", "-1.eml",
                 "4294967297.eml", " %d.eml" % uid]:
        with pytest.raises(FileNotFoundError):
            os.stat(seeded_mount.path("INBOX", name))


# =====================================================================
# Acceptance 2: RFC822.SIZE disagrees with the bytes (fake server)
# =====================================================================

def _lying_messages():
    def body(uid, n):
        head = b"Subject: size test %d\r\nFrom: liar@example.org\r\n\r\n" % uid
        line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!?\r\n"
        return head + (line * (n // len(line) + 1))[:n - len(head) - 2] + b"\r\n"
    return [
        fakeimap.FakeMessage(1, body(1, 3000), size=1000, internaldate=1700000000),
        fakeimap.FakeMessage(2, body(2, 500), size=4000, internaldate=1700000100),
        fakeimap.FakeMessage(3, body(3, 777), internaldate=1700000200),
        # bigger than a page, under-reported by more than a page
        fakeimap.FakeMessage(4, body(4, 200000), size=100000, internaldate=1700000300),
    ]


@pytest.fixture
def lying_server(fake_imap):
    return fake_imap([fakeimap.FakeMailbox("INBOX", _lying_messages())],
                     users={"alice": "fake-pw-5c1e"})


def _mount_fake(mount, srv, tmp_path, extra=None):
    pw = ifs.write_password_file(str(tmp_path), srv.password, name="fake-pw")
    opts = {"tls": "none", "password_file": pw}
    opts.update(extra or {})
    return mount(srv.url(), options=opts, timeout=MOUNT_TIMEOUT)


def test_ls_l_fetches_no_body(lying_server, mount, tmp_path):
    m = _mount_fake(mount, lying_server, tmp_path)
    text = sh("ls", "-l", m.path("INBOX"))
    sizes = {l.split()[-1]: int(l.split()[4]) for l in text.splitlines() if l.endswith(".eml")}
    assert sizes == {"1.eml": 1000, "2.eml": 4000, "3.eml": 777, "4.eml": 100000}
    st = stat_files([m.path("INBOX", "%d.eml" % u) for u in (1, 2, 3, 4)])
    assert {os.path.basename(k): v[1] for k, v in st.items()} == {
        "1.eml": 1700000000, "2.eml": 1700000100, "3.eml": 1700000200, "4.eml": 1700000300}
    assert lying_server.body_fetches() == [], lying_server.commands()


@pytest.mark.parametrize("uid", [1, 4, 2], ids=["smaller", "smaller-multipage", "larger"])
def test_cat_returns_real_bytes_and_size_follows(lying_server, mount, tmp_path, uid):
    m = _mount_fake(mount, lying_server, tmp_path)
    msg = lying_server.mailbox("INBOX").by_uid(uid)
    f = m.path("INBOX", "%d.eml" % uid)
    assert os.stat(f).st_size == msg.size  # what the server advertised
    data = sh("cat", f, binary=True)
    assert len(data) == len(msg.body) and data == msg.body
    got = ifs.wait_until(lambda: os.stat(f).st_size == len(msg.body), timeout=3.0)
    assert got, "st_size still %d, real size %d" % (os.stat(f).st_size, len(msg.body))
    assert sh("cat", f, binary=True) == msg.body  # and again, from any cache
    fetches = lying_server.body_fetches()
    assert fetches, "no body was fetched?"
    assert all("BODY.PEEK[" in e.args.upper() for e in fetches), fetches
    assert "\\Seen" not in msg.flags


def test_a_scan_of_overstated_sizes_reads_every_byte_without_stalling(fake_imap, mount,
                                                                      tmp_path):
    """Read-ahead reads the socket in batches sized from RFC822.SIZE.  A
    server announcing ten times the real size must cost no more than a
    short wait: cat *.eml of 300 such messages gives every byte, quickly
    (a batch waiting for bytes that never come would hang each read for
    the command timeout)."""
    import time
    msgs = [fakeimap.FakeMessage(uid, b"Subject: %d\r\n\r\n" % uid + b"x" * 2000 + b"\r\n",
                                 size=22000, internaldate=1700000000 + uid)
            for uid in range(1, 301)]
    srv = fake_imap([fakeimap.FakeMailbox("INBOX", msgs)], users={"alice": "fake-pw-0v3r"})
    m = _mount_fake(mount, srv, tmp_path, {"watch": "none", "timeout": 30})
    names = sorted(os.listdir(m.path("INBOX")), key=lambda n: int(n.split(".")[0]))
    t = time.monotonic()
    data = sh("cat", *[m.path("INBOX", n) for n in names], binary=True)
    secs = time.monotonic() - t
    assert data == b"".join(msg.body for msg in msgs)
    assert len(srv.body_fetches()) < 100, "read-ahead did not batch: %d fetches" % len(
        srv.body_fetches())
    assert secs < 10, "cat took %.1f s" % secs


# =====================================================================
# Acceptance 3: failures
# =====================================================================

def _assert_clean_failure(r, mountpoint, password, keywords):
    assert r.returncode is not None, "inboxfs did not exit: %r" % r
    assert r.returncode != 0, r
    assert r.elapsed < FAIL_WITHIN, "took %.1f s: %r" % (r.elapsed, r)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, "want exactly one line on stderr: %r" % r.stderr
    low = lines[0].lower()
    assert any(k in low for k in keywords), "reason %r mentions none of %s" % (lines[0], keywords)
    assert not ifs.is_mounted(mountpoint, None), "left a mount behind"
    assert password not in r.stdout and password not in r.stderr, "password leaked"


def _other_local_name():
    """A host name other than localhost that resolves to 127.0.0.1 (the
    machine's own name usually does), or None."""
    import socket
    name = socket.gethostname()
    try:
        if name != "localhost" and socket.gethostbyname(name) == "127.0.0.1":
            return name
    except OSError:
        pass
    return None


@pytest.mark.parametrize("daemon", [False, True], ids=["foreground", "daemon"])
@pytest.mark.parametrize("case", ["wrong-ca", "wrong-ca-starttls", "wrong-ip", "wrong-ip-starttls",
                                  "wrong-name", "wrong-password", "unreachable"])
def test_connect_failures(inboxfs_bin, dovecot, tmp_path, case, daemon):
    """The server certificate says DNS:localhost and nothing else."""
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    password = dovecot.password
    cafile = dovecot.cafile
    url = dovecot.url(tls=not case.endswith("starttls"))
    if case.startswith("wrong-ca"):
        cafile = dovecot.wrong_cafile
        keywords = ["certificate", "verif"]
    elif case.startswith("wrong-ip"):
        url = url.replace("@localhost:", "@127.0.0.1:")
        keywords = ["host", "name", "mismatch"]
    elif case == "wrong-name":
        name = _other_local_name()
        if name is None:
            pytest.skip("no second name for 127.0.0.1 in /etc/hosts")
        url = url.replace("@localhost:", "@%s:" % name)
        keywords = ["host", "name", "mismatch"]
    elif case == "wrong-password":
        password = "not-the-password-9f2"
        keywords = ["login", "authentic"]
    elif case == "unreachable":
        url = dovecot.url(port=dovecot_mod.free_port())
        keywords = ["connect", "refused", "unreachable"]
    pw = ifs.write_password_file(str(tmp_path), password)
    argv = ifs.build_args(url, mnt, {"cafile": cafile, "password_file": pw},
                          foreground=not daemon)
    r = ifs.run_inboxfs(inboxfs_bin, argv, timeout=20)
    try:
        _assert_clean_failure(r, mnt, password, keywords)
    finally:
        for pid in ifs.find_processes(inboxfs_bin, mnt):
            os.kill(pid, signal.SIGKILL)
        if ifs.is_mounted(mnt, None):
            subprocess.run(["fusermount3", "-uz", mnt])


def test_imap_without_starttls_is_refused(inboxfs_bin, fake_imap, tmp_path):
    """imap:// means STARTTLS is required: a server that does not offer it
    must not get the password in clear text."""
    srv = fake_imap([fakeimap.FakeMailbox("INBOX", _lying_messages())],
                    users={"alice": "fake-pw-77ab"})
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    pw = ifs.write_password_file(str(tmp_path), srv.password)
    r = ifs.run_inboxfs(inboxfs_bin, ifs.build_args(srv.url(), mnt, {"password_file": pw}))
    _assert_clean_failure(r, mnt, srv.password, ["starttls", "tls"])
    assert not srv.commands("LOGIN") and not srv.commands("AUTHENTICATE"), srv.commands()


# =====================================================================
# Options and lifecycle
# =====================================================================

def _check_reads(m, seeded, folder="INBOX"):
    uid = min(seeded.state[folder])
    assert sh("cat", m.path(folder, "%d.eml" % uid), binary=True) == seeded.body(folder, uid)


def test_read_only_mode_0400(seeded, mount, pwfile):
    m = mount(seeded.dovecot.url(), options={"cafile": seeded.dovecot.cafile,
                                             "password_file": pwfile, "ro": True})
    text = sh("ls", "-l", m.path("INBOX"))
    lines = [l for l in text.splitlines() if l.endswith(".eml")]
    assert lines and all(l.startswith("-r--------") for l in lines), text
    f = m.path("INBOX", "%d.eml" % min(seeded.state["INBOX"]))
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o400
    _check_reads(m, seeded)


def test_password_from_environment(seeded, mount):
    env = ifs.clean_env({"INBOXFS_PASSWORD": seeded.password})
    m = mount(seeded.dovecot.url(), options={"cafile": seeded.dovecot.cafile}, env=env)
    _check_reads(m, seeded)
    assert seeded.password not in m.stdout() + m.stderr()


def test_password_file_readable_by_others_is_refused(inboxfs_bin, dovecot, tmp_path):
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    pw = ifs.write_password_file(str(tmp_path), dovecot.password, mode=0o644)
    r = ifs.run_inboxfs(inboxfs_bin, ifs.build_args(
        dovecot.url(), mnt, {"cafile": dovecot.cafile, "password_file": pw}))
    assert r.returncode not in (0, None), r
    assert r.elapsed < FAIL_WITHIN
    low = r.stderr.lower()
    assert "password" in low or pw in r.stderr, r
    assert any(k in low for k in ("permission", "mode", "readable", "group", "other",
                                  "0644", "insecure")), r
    assert not ifs.is_mounted(mnt, None)
    assert dovecot.password not in r.output


def test_password_cmd(seeded, mount, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(seeded.password + "\nsecond line is ignored\n")
    m = mount(seeded.dovecot.url(), options={"cafile": seeded.dovecot.cafile,
                                             "password_cmd": "cat %s" % secret})
    _check_reads(m, seeded)
    assert seeded.password not in m.stdout() + m.stderr()


def test_config_file(seeded, mount, pwfile, tmp_path):
    conf = tmp_path / "inboxfs.conf"
    conf.write_text("# test config\ncafile = %s\npassword_file = %s\n"
                    % (seeded.dovecot.cafile, pwfile))
    m = mount(seeded.dovecot.url(), options={"config": str(conf)})
    _check_reads(m, seeded)


def test_starttls(seeded, mount, pwfile):
    dc = seeded.dovecot
    n_before = len(dc.login_lines())
    m = mount(dc.url(tls=False), options={"cafile": dc.cafile, "password_file": pwfile})
    _check_reads(m, seeded)
    new = dc.login_lines()[n_before:]
    assert new, "no login seen in the Dovecot log"
    assert all(", TLS," in l or l.rstrip().endswith(", TLS") for l in new), new


def test_fusermount_unmount_exits_zero(seeded, mount, pwfile):
    m = mount(seeded.dovecot.url(), options={"cafile": seeded.dovecot.cafile,
                                             "password_file": pwfile})
    _check_reads(m, seeded)
    rc, problems = m.unmount()
    assert not problems, problems
    assert rc == 0, "exit code %s, stderr:\n%s" % (rc, m.stderr())
    assert not ifs.is_mounted(m.mountpoint, None)


def test_sigterm_unmounts_and_exits_zero(seeded, mount, pwfile):
    m = mount(seeded.dovecot.url(), options={"cafile": seeded.dovecot.cafile,
                                             "password_file": pwfile})
    _check_reads(m, seeded)
    m.signal(signal.SIGTERM)
    rc = m.wait_exit(10)
    assert rc == 0, "exit code %s, stderr:\n%s" % (rc, m.stderr())
    assert ifs.wait_until(lambda: not ifs.is_mounted(m.mountpoint, None), 5), "still mounted"


def test_own_threads_leave_termination_signals_to_fuse(seeded, mount, pwfile):
    """libfuse's loop notices SIGTERM, SIGINT and SIGHUP only in its own
    threads (the main one waits in sem_wait, its workers in read()); one
    taken by a thread of ours would end nothing, and the daemon would hang
    until the next request (seen under valgrind, which hands a process's
    signal to any thread).  So every thread inboxfs starts (named ibx-*)
    blocks them, and the main thread does not."""
    m = mount(seeded.dovecot.url(), options={"cafile": seeded.dovecot.cafile,
                                             "password_file": pwfile})
    _check_reads(m, seeded)
    ends = (1 << (signal.SIGTERM - 1)) | (1 << (signal.SIGINT - 1)) | (1 << (signal.SIGHUP - 1))
    seen = {}
    for tid in os.listdir("/proc/%d/task" % m.proc.pid):
        with open("/proc/%d/task/%s/comm" % (m.proc.pid, tid)) as f:
            name = f.read().strip()
        with open("/proc/%d/task/%s/status" % (m.proc.pid, tid)) as f:
            blocked = int([l for l in f if l.startswith("SigBlk:")][0].split()[1], 16)
        seen.setdefault(name, []).append(blocked & ends)
    assert {"ibx-watch", "ibx-notify", "ibx-watchdog", "ibx-announce"} <= set(seen), seen
    for name, masks in seen.items():
        if name.startswith("ibx-"):
            assert all(mask == ends for mask in masks), (name, masks)
    assert seen["inboxfs"][0] == 0, seen  # the main thread (the first task) takes them


def test_daemon_mode(inboxfs_bin, seeded, pwfile, tmp_path):
    """Without -f: the command returns 0 once the mount is usable (or at
    least shortly before), the daemon serves it, fusermount3 -u ends it."""
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    argv = ifs.build_args(seeded.dovecot.url(), mnt, {"cafile": seeded.dovecot.cafile,
                                                      "password_file": pwfile},
                          foreground=False)
    r = ifs.run_inboxfs(inboxfs_bin, argv, timeout=MOUNT_TIMEOUT)
    try:
        assert r.returncode == 0, r
        assert ifs.wait_until(lambda: ifs.is_mounted(mnt), 10), "no mount after daemonizing"
        pids = ifs.find_processes(inboxfs_bin, mnt)
        assert len(pids) == 1, pids
        uid = min(seeded.state["INBOX"])
        assert sh("cat", os.path.join(mnt, "INBOX", "%d.eml" % uid), binary=True) == \
            seeded.body("INBOX", uid)
        subprocess.run(["fusermount3", "-u", mnt], check=True)
        assert ifs.wait_until(lambda: not ifs.find_processes(inboxfs_bin, mnt), 10), \
            "daemon still running after unmount"
    finally:
        for pid in ifs.find_processes(inboxfs_bin, mnt):
            os.kill(pid, signal.SIGKILL)
        if ifs.is_mounted(mnt, None):
            subprocess.run(["fusermount3", "-uz", mnt])


# =====================================================================
# Login mechanisms, help and version
# =====================================================================

def test_login_command_when_auth_plain_is_not_offered(fake_imap, mount, tmp_path):
    """A server without AUTH=PLAIN gets LOGIN, with a password that needs
    quoting ('"' and '\\'), and the mount works."""
    password = 'pa"ss\\word'
    srv = fake_imap([fakeimap.FakeMailbox("INBOX", _lying_messages())],
                    users={"alice": password},
                    capabilities=["IMAP4rev1", "LITERAL+", "UIDPLUS"])
    m = _mount_fake(mount, srv, tmp_path)
    assert sorted(n for n in os.listdir(m.path("INBOX")) if n != ".newmail") == \
        ["1.eml", "2.eml", "3.eml", "4.eml"]
    assert srv.commands("LOGIN") and not srv.commands("AUTHENTICATE"), srv.commands()


def test_authenticate_plain_without_sasl_ir(fake_imap, mount, tmp_path):
    """Without SASL-IR the credentials go after the server's '+'."""
    srv = fake_imap([fakeimap.FakeMailbox("INBOX", _lying_messages())],
                    users={"alice": "fake-pw-19"},
                    capabilities=["IMAP4rev1", "AUTH=PLAIN", "UIDPLUS"])
    m = _mount_fake(mount, srv, tmp_path)
    assert "3.eml" in os.listdir(m.path("INBOX"))
    auth = srv.commands("AUTHENTICATE")
    assert auth and all(e.args.strip().upper() == "PLAIN" for e in auth), auth


def _unavailable_for(srv, logins):
    """The server's login service says NO [UNAVAILABLE] (RFC 5530: a
    temporary failure) to the logins numbered in `logins` (1 = the first;
    None: to all).  Returns the list of tags it said it to."""
    said, seen = [], []

    def hook(session, tag, args):
        seen.append(tag)
        if logins is not None and len(seen) not in logins:
            return False
        said.append(tag)
        session.tagged(tag, "NO", "[UNAVAILABLE] Temporary authentication failure.")
        return True
    srv.hooks["AUTHENTICATE"] = hook
    return said


def test_a_login_service_down_for_a_moment_delays_the_mount(fake_imap, mount, tmp_path):
    """Two NO [UNAVAILABLE] answers, then the login works: the mount waits
    (0.5 + 1 s) instead of failing, and says why on stderr."""
    srv = fake_imap([fakeimap.FakeMailbox("INBOX", _lying_messages())],
                    users={"alice": "fake-pw-31"})
    said = _unavailable_for(srv, {1, 2})
    m = _mount_fake(mount, srv, tmp_path)
    assert "3.eml" in os.listdir(m.path("INBOX"))
    assert len(said) == 2
    assert m.stderr().count("unavailable for now") == 2, m.stderr()


def test_a_watcher_whose_login_is_unavailable_tries_again_soon(fake_imap, mount, tmp_path):
    """After the mount, the watcher's own login gets NO [UNAVAILABLE]: a
    temporary failure, retried at once, not a rejected password that waits
    a minute (the O365 test once waited out its 15 s that way)."""
    srv = fake_imap([fakeimap.FakeMailbox("INBOX", _lying_messages())],
                    users={"alice": "fake-pw-33"})
    said = _unavailable_for(srv, {2})
    m = _mount_fake(mount, srv, tmp_path, {"watch": "INBOX"})
    assert ifs.wait_until(lambda: srv.commands("IDLE"), timeout=10), m.stderr()
    assert len(said) == 1
    assert "watching INBOX: cannot reach 127.0.0.1: Temporary authentication failure" in m.stderr(), m.stderr()


def test_a_login_service_that_stays_down_fails_the_mount(inboxfs_bin, fake_imap, tmp_path):
    """Four tries in all (3.5 s of waiting), then one clear line and no
    mount; a wrong password (test_connect_failures) is never retried."""
    srv = fake_imap([fakeimap.FakeMailbox("INBOX")], users={"alice": "fake-pw-32"})
    said = _unavailable_for(srv, None)
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    pw = ifs.write_password_file(str(tmp_path), srv.password, name="fake-pw")
    r = ifs.run_inboxfs(inboxfs_bin, ifs.build_args(srv.url(), mnt, {"tls": "none",
                                                                     "password_file": pw}))
    assert r.returncode != 0 and not ifs.is_mounted(mnt, None)
    assert len(said) == 4, said
    assert "login rejected: Temporary authentication failure" in r.stderr, r.stderr


def test_help_and_version(inboxfs_bin):
    r = subprocess.run([inboxfs_bin, "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0
    for word in ("imaps://", "password_file", "password_cmd", "cafile", "tls=none", "config"):
        assert word in r.stdout, word
    r = subprocess.run([inboxfs_bin, "-V"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and r.stdout.startswith("inboxfs ")
    r = subprocess.run([inboxfs_bin], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0 and "usage" in r.stderr
