"""Fixtures for the inboxfs integration tests.

Run with Debian's interpreter: pytest-3 tests/integration
(INBOXFS_BIN=path/to/inboxfs; default ../../build/inboxfs from here).

Fixtures
  inboxfs_bin      session  path of the binary; skips everything if missing
  dovecot          module   a private Dovecot (tests/lib/dovecot.py), user alice
  server           module   each real server INBOXFS_SERVERS names in turn
                            (Dovecot, Cyrus, Courier: tests/lib/realservers.py)
  seeded           module   SeededAccount: alice's mailbox filled with the
                            acceptance data set, plus the imaplib oracle
  mount            function factory: mount(url=..., options=..., ...) -> Inboxfs;
                            every mount is unmounted at teardown (a hang
                            fails the test)
  pwfile           function a 0600 password file holding dovecot.password
  fake_imap        function factory: fake_imap(mailboxes, ...) -> started
                            FakeIMAPServer, stopped at teardown
"""

import os
import shutil
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import dovecot as dovecot_mod  # noqa: E402
import fakeimap  # noqa: E402
import imapraw  # noqa: E402
import inboxfs as inboxfs_mod  # noqa: E402
import mailgen  # noqa: E402
import realservers  # noqa: E402


def inboxfs_bin_path():
    p = os.environ.get("INBOXFS_BIN") or os.path.join(HERE, "..", "..", "build", "inboxfs")
    return os.path.abspath(p)


@pytest.fixture(scope="session")
def inboxfs_bin():
    p = inboxfs_bin_path()
    if not (os.path.isfile(p) and os.access(p, os.X_OK)):
        pytest.skip("inboxfs binary not found at %s: build it (meson compile -C build) "
                    "or set INBOXFS_BIN" % p)
    if not os.path.exists("/dev/fuse"):
        pytest.skip("/dev/fuse is missing")
    if shutil.which(inboxfs_mod.FUSERMOUNT) is None:
        pytest.skip("fusermount3 is missing (apt-get install fuse3)")
    return p


@pytest.fixture(scope="module")
def dovecot():
    dc = dovecot_mod.Dovecot()
    yield dc
    dc.stop()


# ------------------------------------------------------------ seeded account

class SeededAccount:
    """The acceptance data set in the account of dovecot.user, and what
    an independent client (imaplib) sees of it.

    mailboxes     {utf-8 path: frozenset(LIST attributes)}
    state         {path: {uid: (RFC822.SIZE, INTERNALDATE epoch, flags)}}
                  for every selectable mailbox (EXAMINE, \\Recent left out)
    special       {"eightbit"|"binary"|"large"|...: (path, uid)}
    bodies(path)  {uid: BODY.PEEK[] bytes} (fetched once, cached)
    """

    def __init__(self, dc):
        self.dovecot = dc
        self.user, self.password = dc.user, dc.password
        self.special = {}
        self._bodies = {}

    def imap(self):
        return self.dovecot.connect(self.user, self.password)

    def snapshot(self):
        m = self.imap()
        try:
            boxes = imapraw.list_mailboxes(m, with_flags=True)
            state = {}
            for path, attrs in boxes.items():
                if any(a.lower() in ("\\noselect", "\\nonexistent") for a in attrs):
                    continue
                state[path] = imapraw.folder_state(m, path)
            return boxes, state
        finally:
            m.logout()

    def refresh(self):
        self.mailboxes, self.state = self.snapshot()

    def selectable(self, path):
        return path in self.state

    def bodies(self, path):
        if path not in self._bodies:
            m = self.imap()
            try:
                self._bodies[path] = imapraw.fetch_bodies(m, path)
            finally:
                m.logout()
        return self._bodies[path]

    def body(self, path, uid):
        return self.bodies(path)[uid]

    def children(self, path):
        """Names of the direct child mailboxes of path ("" = top)."""
        out = set()
        for p in self.mailboxes:
            parent, _, name = p.rpartition("/")
            if parent == path:
                out.add(name)
        return out

    def expected_entries(self, path):
        """What `ls -A MOUNT/path` must list."""
        names = set(self.children(path))
        for uid in self.state.get(path, {}):
            names.add("%d.eml" % uid)
        return names


# folders in the acceptance set (UTF-8 names, "/" separated)
SEED_FOLDERS = {
    "INBOX": "small mixed messages incl. the 8-bit and binary-ish ones",
    "INBOX/Project X": "child of INBOX with a space in its name",
    "Archive/2023/Q1": "nested; Archive and Archive/2023 are never CREATEd themselves",
    "Archive/2022": "a sibling",
    "Entwürfe": "non-ASCII name",
    "Lists/dev & ops": "'&' is '&-' in modified UTF-7",
    "Empty": "no messages",
    "Bulk": "1000 ordinary messages with distinct INTERNALDATEs",
}


def seed_acceptance(dc):
    """Fill dc.user's mailbox with the acceptance data set; returns a
    SeededAccount (already snapshotted)."""
    acc = SeededAccount(dc)
    c = dc.raw()
    try:
        for folder in SEED_FOLDERS:
            if folder != "INBOX":
                c.create(folder)  # no parents=True: Archive stays \Noselect
        base = mailgen.BASE_EPOCH
        inbox = [(mailgen.simple_message(i, epoch=base + 1000 * i), flags, base + 1000 * i, tz)
                 for i, (flags, tz) in enumerate([([], 0), (["\\Seen"], 60),
                                                  (["\\Flagged"], -300),
                                                  (["\\Seen", "\\Answered"], 545)])]
        c.append_many("INBOX", inbox)
        c.append_many("INBOX", [(mailgen.eightbit_message(base + 7777), [], base + 7777, 120)])
        c.append_many("INBOX", [(mailgen.binaryish_message(base + 8888), ["\\Seen"],
                                 base + 8888, -480)])
        c.append_many("INBOX/Project X", [(mailgen.simple_message(50, epoch=base + 50), [],
                                           base + 50, 0)])
        c.append_many("Archive/2023/Q1", [(mailgen.simple_message(60 + i, epoch=base + 60 + i),
                                           ["\\Seen"], base + 60 + i, 0) for i in range(3)])
        c.append_many("Archive/2023/Q1", [(mailgen.large_message(epoch=base + 99), [],
                                           base + 99, 0)])
        c.append_many("Archive/2022", [(mailgen.simple_message(70, epoch=base - 86400 * 200),
                                        ["\\Seen"], base - 86400 * 200, 0)])
        c.append_many("Entwürfe", [(mailgen.simple_message(80 + i, epoch=base + 80 + i),
                                    ["\\Draft"], base + 80 + i, 60) for i in range(2)])
        c.append_many("Lists/dev & ops", [(mailgen.simple_message(90, epoch=base + 90), [],
                                           base + 90, 0)])
        c.append_many("Bulk", mailgen.bulk(1000, base_epoch=base + 86400 * 30))
    finally:
        c.logout()
    acc.refresh()
    inbox_uids = sorted(acc.state["INBOX"])
    acc.special = {
        "eightbit": ("INBOX", inbox_uids[4]),
        "binary": ("INBOX", inbox_uids[5]),
        "large": ("Archive/2023/Q1", max(acc.state["Archive/2023/Q1"])),
    }
    return acc


@pytest.fixture(scope="module", params=realservers.SERVERS)
def server(request):
    """A started server (.kind, .post_caps), stopped after the module."""
    try:
        srv = realservers.start(request.param)
    except ValueError as e:
        pytest.fail(str(e))
    yield srv
    srv.stop()
    realservers.write_report()


@pytest.fixture(scope="module")
def seeded(dovecot):
    return seed_acceptance(dovecot)


# ------------------------------------------------------------ mounting

@pytest.fixture
def pwfile(tmp_path, dovecot):
    return inboxfs_mod.write_password_file(str(tmp_path), dovecot.password)


@pytest.fixture
def mount(inboxfs_bin, tmp_path):
    """Factory: mount(url, options=None, args=(), env=None, mountpoint=None,
    timeout=20) -> started inboxfs.Inboxfs (mount.path(...) for paths).
    Teardown unmounts with fusermount3 -u and fails the test if the daemon
    hangs, exits non-zero (unless the test looked: wait_exit, signal, kill)
    or a sanitizer reported anything."""
    started = []
    counter = [0]

    def factory(url, options=None, args=(), env=None, mountpoint=None, timeout=20.0):
        counter[0] += 1
        mp = mountpoint or str(tmp_path / ("mnt%d" % counter[0]))
        m = inboxfs_mod.Inboxfs(inboxfs_bin, url, mp, options=options, args=args, env=env,
                                workdir=str(tmp_path))
        started.append(m)
        m.start(timeout=timeout)
        return m

    yield factory
    problems = []
    for m in started:
        if m.proc is None:
            continue
        if m.proc.poll() is None or inboxfs_mod.is_mounted(m.mountpoint, None):
            rc, probs = m.unmount()
            if rc not in (None, 0):
                probs.append("inboxfs exited with %d at unmount, not 0" % rc)
                m.exit_seen = True  # said once
            problems += ["%s: %s" % (m.mountpoint, p) for p in probs]
        m.kill()
        problems += ["%s: %s" % (m.mountpoint, p) for p in m.exit_problems()]
    if problems:
        pytest.fail("teardown: " + "; ".join(problems) + "\nstderr:\n" +
                    "\n".join(m.stderr() for m in started), pytrace=False)


@pytest.fixture
def fake_imap():
    """Factory: fake_imap(mailboxes, users=None, capabilities=None, ...) ->
    a started fakeimap.FakeIMAPServer (stopped at teardown)."""
    servers = []

    def factory(*args, **kw):
        srv = fakeimap.FakeIMAPServer(*args, **kw).start()
        servers.append(srv)
        return srv

    yield factory
    for s in servers:
        s.stop()
