"""Issue 21: many folders, few connections.  Servers cap connections per
user (Dovecot's mail_max_userip_connections, 10 by default; Gmail 15), so
the mount shares -o max_connections (8) among the worker, the readers and
the watchers: with NOTIFY (RFC 5465) every watched folder on one
connection; without it IDLE where the budget has room (INBOX first), the
other watched folders polled with STATUS on one connection.  Counted at a
proxy between the mount and a real Dovecot (or Courier, which has no
NOTIFY), announced with real inotifywait."""

import itertools
import os
import random
import re
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import dovecot as dovecot_mod  # noqa: E402
import fakeimap  # noqa: E402
import faultproxy  # noqa: E402
import inboxfs as ifs  # noqa: E402
import inotify  # noqa: E402
import mailgen  # noqa: E402
import realservers  # noqa: E402

_users = itertools.count(1)


# Dovecot's own default cap: a mount that asked for more would be refused.
CAP_10 = "protocol imap {\n  mail_max_userip_connections = 10\n}"


@pytest.fixture(scope="module")
def dovecot():
    dc = dovecot_mod.Dovecot(extra_config=[CAP_10])
    yield dc
    dc.stop()


# Dovecot's capabilities less NOTIFY (Courier, Gmail, Office 365 have none).
NO_NOTIFY = ("IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT MULTIAPPEND UNSELECT "
             "CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH "
             "LIST-STATUS BINARY MOVE LITERAL+ SPECIAL-USE")


@pytest.fixture(scope="module")
def dovecot_nonotify():
    """Dovecot as a server without NOTIFY (Courier, Gmail, Office 365 are)."""
    dc = dovecot_mod.Dovecot(extra_config=[CAP_10, "imap_capability = " + NO_NOTIFY])
    yield dc
    dc.stop()


class Many:
    """A user with `folders` folders besides INBOX, each holding a message."""

    def __init__(self, dc, tmp_path, folders):
        self.dc = dc
        self.user = "many%d" % next(_users)
        self.password = dc.add_user(self.user)
        self.names = ["F%03d" % i for i in range(folders)]
        c = dc.raw(user=self.user, password=self.password)
        for name in self.names:
            c.create(name)
            c.append_many(name, mailgen.bulk(1))
        c.append_many("INBOX", mailgen.bulk(1))
        c.logout()
        self.pwfile = ifs.write_password_file(str(tmp_path), self.password,
                                              name="pw-" + self.user)
        self.env = ifs.clean_env({"XDG_STATE_HOME": str(tmp_path / "state")})
        self.counter = 5000

    def append(self, folder):
        c = self.dc.raw(user=self.user, password=self.password)
        c.append_many(folder, mailgen.bulk(1, start=self.counter))
        self.counter += 1
        c.logout()

    def mount(self, mount, proxy, **options):
        opts = {"tls": "none", "password_file": self.pwfile, "watch": "all"}
        opts.update(options)
        return mount(self.dc.url(user=self.user, tls=False, port=proxy.port), options=opts,
                     env=self.env)


def status(m):
    with open(m.path(".inboxfs", "status")) as f:
        return f.read()


def wait_all_watching(m, names):
    """Until every folder is watched: IDLE ones idling, polled ones past
    their first look (what changed before is found by it, not heard)."""
    def ready():
        text = status(m)
        return all("watch %s: connected (idle)" % n in text or
                   "watch %s: polled every" % n in text or
                   "watch %s: notified (NOTIFY)" % n in text for n in names)
    assert ifs.wait_until(ready, 60 * ifs.timeout_scale(), interval=0.1), status(m)


def proxy_to(dc):
    return faultproxy.FaultProxy(("127.0.0.1", dc.imap_port)).start()


@pytest.fixture
def proxy(dovecot):
    p = proxy_to(dovecot)
    yield p
    p.stop()


@pytest.fixture
def proxy_nonotify(dovecot_nonotify):
    p = proxy_to(dovecot_nonotify)
    yield p
    p.stop()


def announced(w):
    return any(n.endswith(".eml") for _, n in w.events)


def test_notify_watches_200_folders_on_one_connection(dovecot, mount, proxy, tmp_path):
    """Acceptance 1 (its count): 200 folders, watch=all, a Dovecot capped at
    10 that offers NOTIFY: one watcher connection for all of them, never
    more than max_connections open, and mail appended to 30 random folders
    announced in each (IN_CREATE) with no poll_interval to wait for."""
    acc = Many(dovecot, tmp_path, 200)
    m = acc.mount(mount, proxy, poll_interval=3600)  # no polling to hide behind
    everything = ["INBOX"] + acc.names
    wait_all_watching(m, everything)
    text = status(m)
    assert all("watch %s: notified (NOTIFY)" % n in text for n in everything), m.stderr()
    assert "(worker 1, readers 2, idle 0, poll 1)" in text, text
    assert "watching 201 folders with NOTIFY on one connection" in m.stderr()
    chosen = random.Random(5465).sample(acc.names, 30)
    watchers = {name: inotify.Inotify(m.path(name), events=("create",)).start()
                for name in chosen}
    try:
        for name in chosen:
            acc.append(name)
        for name, w in watchers.items():
            assert w.wait_for(lambda evs: announced(w), 10 * ifs.timeout_scale()), \
                (name, w.events, status(m))
    finally:
        for w in watchers.values():
            w.stop()
    assert proxy.peak <= 8, proxy.peak
    assert "Maximum number of connections" not in m.stderr()


def test_polling_stays_within_max_connections(dovecot_nonotify, mount, proxy_nonotify,
                                              tmp_path):
    """Acceptance 2's shape on a server without NOTIFY: 30 folders and -o
    watch=all on a Dovecot that allows 10: the mount never has more than
    max_connections open (counted at the proxy, with parallel readers busy
    too), INBOX is idling, the rest are polled, and mail in a polled folder
    raises IN_CREATE within poll_interval + 1 s."""
    acc = Many(dovecot_nonotify, tmp_path, 30)
    proxy = proxy_nonotify
    m = acc.mount(mount, proxy, max_connections=5, connections=3, poll_interval=2)
    everything = ["INBOX"] + acc.names
    wait_all_watching(m, everything)
    text = status(m)
    assert "watch INBOX: connected (idle)" in text, text
    polled = [n for n in acc.names if "watch %s: polled every 2 s" % n in text]
    assert len(polled) >= 25, text
    assert "polled every 2 s on one connection" in m.stderr()
    # The log names the polled folders (as many as fit on a line).
    said = re.search(r"polling (\d+) folders every 2 s: (.*)", m.stderr())
    assert said and int(said.group(1)) == len(polled), m.stderr()
    assert set(said.group(2).split(" and ")[0].split(", ")) <= set(polled), said.group(2)
    # Readers at work beside the watchers: still within the budget.
    subprocess.run("ls %s/F0*/*.eml | xargs -P4 -n1 cat > /dev/null" % m.mountpoint,
                   shell=True, check=True)
    chosen = random.Random(21).sample(polled, 3)
    watchers = {name: inotify.Inotify(m.path(name), events=("create",)).start()
                for name in chosen + ["INBOX"]}
    try:
        for name in chosen + ["INBOX"]:
            acc.append(name)
        bound = (2 + 1) * ifs.timeout_scale()
        for name, w in watchers.items():
            assert w.wait_for(lambda evs: any(n.endswith(".eml") for _, n in evs), bound), \
                (name, w.events, status(m))
    finally:
        for w in watchers.values():
            w.stop()
    assert proxy.peak <= 5, proxy.peak
    # Dovecot offers LIST-STATUS: one command for all folders, no STATUS each.
    sent = b"".join(bytes(s) for s in proxy.streams)
    assert b"RETURN (STATUS (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ))" in sent
    assert b'STATUS "F0' not in sent
    assert "connections_open:" in status(m) and "of max_connections 5" in status(m)
    assert "Maximum number of connections" not in m.stderr()


def test_watch_max_caps_idle_and_polls_the_rest(dovecot_nonotify, mount, proxy_nonotify,
                                                tmp_path):
    """-o watch_max=2 without NOTIFY: two folders have IDLE, the others are
    polled (each still has its .newmail marker and gets its mail announced)."""
    acc = Many(dovecot_nonotify, tmp_path, 3)
    proxy = proxy_nonotify
    m = acc.mount(mount, proxy, watch_max=2, poll_interval=1)
    everything = ["INBOX"] + acc.names
    wait_all_watching(m, everything)
    text = status(m)
    assert sum("watch %s: connected (idle)" % n in text for n in everything) == 2, text
    assert all(".newmail" in os.listdir(m.path(n)) for n in everything)
    assert "IDLE for 2 watched folders" in m.stderr(), m.stderr()
    last = acc.names[-1]
    w = inotify.Inotify(m.path(last), events=("create",)).start()
    try:
        acc.append(last)
        assert w.wait_for(lambda evs: any(n.endswith(".eml") for _, n in evs),
                          2 * ifs.timeout_scale()), (w.events, status(m))
    finally:
        w.stop()
    assert proxy.peak <= 1 + 2 + 2 + 1, proxy.peak  # worker, readers, IDLE, poller


@pytest.fixture(scope="module")
def dovecot_cap4():
    dc = dovecot_mod.Dovecot(extra_config=["protocol imap {\n"
                                           "  mail_max_userip_connections = 4\n}"])
    yield dc
    dc.stop()


def test_a_server_limit_lowers_the_budget(dovecot_cap4, mount, tmp_path):
    """Acceptance 3: a server that takes 4 connections, a mount that would
    use 7 (connections=6: worker, 5 readers, IDLE on INBOX): the first
    refusal lowers the budget to what worked, said once in the log; no
    connection is tried over it again; cat of six folders at once (xargs
    -P6) completes with the right bytes, twice."""
    acc = Many(dovecot_cap4, tmp_path, 6)
    c = dovecot_cap4.raw(user=acc.user, password=acc.password)
    for name in acc.names:
        c.append_many(name, mailgen.bulk(10, start=100, size_pad=20000))
    c.logout()
    p = proxy_to(dovecot_cap4)
    try:
        m = acc.mount(mount, p, watch="INBOX", connections=6)
        want = 0
        for name in acc.names:
            want += sum(os.stat(m.path(name, n)).st_size for n in os.listdir(m.path(name))
                        if n.endswith(".eml"))
        # A slow link keeps each read on a connection long enough that six
        # cats at once want more than 4: readers open only beside a busy one.
        p.delay(0.03)
        for _ in range(2):  # no connection over the limit is tried in the second round
            r = subprocess.run("cd %s && ls -d F* | xargs -P6 -I{} sh -c 'cat {}/*.eml' | wc -c"
                               % m.mountpoint, shell=True, capture_output=True, text=True)
            assert r.returncode == 0, r
            assert int(r.stdout) == want
        log = m.stderr()
        assert log.count("the server allows no more than 4 connections") == 1, log
        assert log.count("Maximum number of connections") == 1, log
        assert "connections_open: 4 of max_connections 4" in status(m), status(m)
        assert "lowered to the server's limit" in status(m)
    finally:
        p.stop()


def folder_events(w):
    return {(ev.split(",")[0], name) for ev, name in w.events if "ISDIR" in ev}


@pytest.mark.parametrize("notify", [True, False], ids=["notify", "poll"])
def test_folders_created_and_deleted_elsewhere(dovecot, dovecot_nonotify, mount, tmp_path,
                                               notify):
    """Acceptance 4: another client creates, deletes and renames folders;
    the mount shows each change, with IN_CREATE / IN_DELETE on the parent,
    within 1 s with NOTIFY, within poll_interval + 1 s when polled.  A
    rename is IN_MOVED_FROM/TO of the same inode where NOTIFY tells of it
    (OLDNAME), else a deletion and a creation; mail in the renamed folder
    is announced after it."""
    dc = dovecot if notify else dovecot_nonotify
    acc = Many(dc, tmp_path, 4)
    p = proxy_to(dc)
    try:
        m = acc.mount(mount, p, poll_interval=1)
        wait_all_watching(m, ["INBOX"] + acc.names)
        ino = os.stat(m.path("F001")).st_ino
        w = inotify.Inotify(m.mountpoint).start()
        try:
            c = dc.raw(user=acc.user, password=acc.password)
            # Dovecot watches the folder list 1 s after NOTIFY SET; a rename
            # before that is told as a deletion and a creation, or not at all.
            c.create("First")
            assert w.wait_for(lambda evs: ("CREATE", "First") in folder_events(w),
                              3 * ifs.timeout_scale()), (w.events, m.stderr()[-2000:])
            c.create("Elsewhere")
            c.check(c.command('DELETE "F000"'))
            c.check(c.command('RENAME "F001" "Renamed"'))
            c.logout()
            moves = {("MOVED_FROM", "F001"), ("MOVED_TO", "Renamed")}
            other = {("DELETE", "F001"), ("CREATE", "Renamed")}
            want = {("CREATE", "First"), ("CREATE", "Elsewhere"), ("DELETE", "F000")}
            bound = (1 if notify else 2) * ifs.timeout_scale()
            assert w.wait_for(lambda evs: want <= folder_events(w) and
                              (moves <= folder_events(w) or other <= folder_events(w)),
                              bound), (w.events, m.stderr()[-2000:])
        finally:
            w.stop()
        # A rename NOTIFY told of (OLDNAME) is a move; Dovecot does not
        # always tell (see README), and a LIST cannot tell one.
        moved = "folder F001 renamed elsewhere to Renamed" in m.stderr()
        assert not moved or notify
        assert folder_events(w) == want | (moves if moved else other), w.events
        names = set(os.listdir(m.mountpoint))
        assert {"Elsewhere", "Renamed", "F002"} <= names and not {"F000", "F001"} & names
        # Moved, it is the same folder, still watched; deleted and created,
        # a new one, not watched.
        assert "1.eml" in os.listdir(m.path("Renamed"))
        assert (".newmail" in os.listdir(m.path("Renamed"))) == moved
        assert (os.stat(m.path("Renamed")).st_ino == ino) == moved
        assert "the server's folders changed" in m.stderr()
        # Renamed on the mount too: news of both is still heard, by their new names.
        subprocess.run(["mv", m.path("F003"), m.path("Moved")], check=True)
        for name in (["Renamed"] if moved else []) + ["Moved"]:
            wn = inotify.Inotify(m.path(name)).start()
            try:
                acc.append(name)
                assert wn.wait_for(lambda evs: announced(wn), 2 * bound), \
                    (name, status(m), m.stderr()[-2000:])
            finally:
                wn.stop()
    finally:
        p.stop()


def test_without_watchers_ls_of_the_root_lists(dovecot, mount, tmp_path):
    """watch=none: nothing watches the folder tree, so an `ls` of the mount
    LISTs: a folder another client made shows, one it deleted is gone
    (and cd into it fails), with no remount."""
    acc = Many(dovecot, tmp_path, 2)
    p = proxy_to(dovecot)
    try:
        m = acc.mount(mount, p, watch="none")
        assert sorted(os.listdir(m.mountpoint)) == [".inboxfs", "F000", "F001", "INBOX"]
        c = dovecot.raw(user=acc.user, password=acc.password)
        c.create("Later")
        c.check(c.command('DELETE "F000"'))
        c.logout()
        ls = subprocess.run(["ls", m.mountpoint], capture_output=True, text=True, check=True)
        assert ls.stdout.split() == ["F001", "INBOX", "Later"]
        assert not os.path.exists(m.path("F000"))
        assert os.listdir(m.path("Later")) == []
    finally:
        p.stop()


class NotifySession(fakeimap.FakeSession):
    """A server that takes NOTIFY SET (and UNSELECT): what it tells of
    folders is pushed by the test with tell()."""

    def cmd_NOTIFY(self, tag, args):
        self.notify_set = True
        self.tagged(tag, "OK", "NOTIFY completed")

    def cmd_UNSELECT(self, tag, args):
        self.selected = None
        self.tagged(tag, "OK", "Unselect completed")


def tell(srv, *lines):
    """lines, in one write, to the session in IDLE under NOTIFY, once
    there is one."""
    def idling():
        return [s for s in srv.sessions if getattr(s, "notify_set", False) and s.idling]
    assert ifs.wait_until(idling, 10 * ifs.timeout_scale())
    idling()[0].send(b"".join(line.encode() + b"\r\n" for line in lines))


def test_a_rename_notify_tells_of_is_a_move(fake_imap, mount, tmp_path):
    """Acceptance 4, a rename as NOTIFY tells it (scripted: Dovecot tells it
    only when its folder list watch was ready): Old and Old/Sub renamed to
    New, Dovecot's way (the subfolder's line first), is IN_MOVED_FROM Old +
    IN_MOVED_TO New with one cookie; the folders keep their inodes and
    their messages, and mail in New/Sub is announced there."""
    msg = fakeimap.FakeMessage(1, mailgen.simple_message(1))
    boxes = {n: fakeimap.FakeMailbox(n, [msg], uidvalidity=100 + i)
             for i, n in enumerate(["INBOX", "Old", "Old/Sub", "Other"])}
    srv = fake_imap(list(boxes.values()), session_class=NotifySession,
                    capabilities=fakeimap.DEFAULT_CAPABILITIES + ["NOTIFY", "UNSELECT"])
    pw = ifs.write_password_file(str(tmp_path), srv.password, name="fake-pw")
    m = mount(srv.url(), options={"tls": "none", "password_file": pw, "watch": "all"})
    wait_all_watching(m, ["INBOX", "Old", "Old/Sub", "Other"])
    ino, sub_ino = os.stat(m.path("Old")).st_ino, os.stat(m.path("Old", "Sub")).st_ino
    w = inotify.Inotify(m.mountpoint).start()
    try:
        boxes["Old"].name, boxes["Old/Sub"].name = "New", "New/Sub"
        tell(srv, '* LIST (\\HasNoChildren) "/" New/Sub ("OLDNAME" (Old/Sub))',
             '* LIST (\\HasChildren) "/" New ("OLDNAME" (Old))')
        want = {("MOVED_FROM", "Old"), ("MOVED_TO", "New")}
        assert w.wait_for(lambda evs: want <= folder_events(w), 3 * ifs.timeout_scale()), \
            (w.events, m.stderr()[-2000:])
    finally:
        w.stop()
    assert folder_events(w) == want, w.events
    assert sorted(os.listdir(m.mountpoint)) == [".inboxfs", "INBOX", "New", "Other"]
    assert os.stat(m.path("New")).st_ino == ino
    assert os.stat(m.path("New", "Sub")).st_ino == sub_ino
    assert "1.eml" in os.listdir(m.path("New", "Sub"))
    assert "folder Old renamed elsewhere to New" in m.stderr()
    wn = inotify.Inotify(m.path("New", "Sub")).start()
    try:
        boxes["Old/Sub"].messages.append(fakeimap.FakeMessage(2, mailgen.simple_message(2)))
        tell(srv, '* STATUS New/Sub (MESSAGES 2 UIDNEXT 3 UIDVALIDITY 102 HIGHESTMODSEQ 2)')
        assert wn.wait_for(lambda evs: ("CREATE", "2.eml") in evs, 3 * ifs.timeout_scale()), \
            (status(m), m.stderr()[-2000:])
    finally:
        wn.stop()


# ---------------------------------------------------------------- Courier

@pytest.fixture(scope="module")
def courier():
    if "courier" not in realservers.SERVERS:
        pytest.skip("INBOXFS_SERVERS leaves Courier out")
    co = realservers.start("courier")
    yield co
    co.stop()


class OnCourier(Many):
    """Many's account on Courier: folders are INBOX.F000 ... (its Maildir++
    namespace), shown as INBOX/F000; implicit TLS (its STARTTLS does not
    work here), so the proxy forwards TLS it cannot read."""

    def __init__(self, co, tmp_path, folders):
        super().__init__(co, tmp_path, 0)
        self.names = ["INBOX.F%03d" % i for i in range(folders)]
        c = co.raw(user=self.user, password=self.password)
        for name in self.names:
            c.create(name)
            c.append_many(name, mailgen.bulk(1))
        c.logout()

    def mount(self, mount, proxy, **options):
        opts = {"cafile": self.dc.cafile, "password_file": self.pwfile, "watch": "all"}
        opts.update(options)
        return mount(self.dc.url(user=self.user, port=proxy.port), options=opts, env=self.env)

    def path(self, m, name):
        return m.path(*name.split("."))


def first_eml(w):
    """When inotifywait first reported a message file."""
    return min(t for (ev, name), t in w.times.items() if name.endswith(".eml"))


def test_courier_idles_and_polls_within_the_budget(courier, mount, tmp_path):
    """Acceptance 2 on a real Courier (no NOTIFY, no LIST-STATUS): 30
    folders and watch=all with max_connections=6: INBOX and two folders in
    IDLE, the 28 others polled every 4 s on one connection.  Mail appended
    by another client to every folder is announced (IN_CREATE) in each:
    within poll_interval + 1 s when polled, within Courier's own IDLE delay
    + 1 s in IDLE (it looks at the maildir every IMAP_IDLE_TIMEOUT = 2 s,
    courier.py); never more than 6 connections open at the proxy, with the
    readers at work too."""
    acc = OnCourier(courier, tmp_path, 30)
    p = faultproxy.FaultProxy(("127.0.0.1", courier.imaps_port)).start()
    try:
        m = acc.mount(mount, p, max_connections=6, connections=2, poll_interval=4)
        everything = ["INBOX"] + acc.names
        wait_all_watching(m, everything)
        text = status(m)
        idle = [n for n in everything if "watch %s: connected (idle)" % n in text]
        polled = [n for n in everything if "watch %s: polled every 4 s" % n in text]
        assert "INBOX" in idle and len(idle) == 3 and len(polled) == 28, text
        # Readers at work beside the watchers: still within the budget.
        subprocess.run("ls %s/INBOX/F0*/*.eml | xargs -P4 -n1 cat > /dev/null"
                       % m.mountpoint, shell=True, check=True)
        watchers = {n: inotify.Inotify(acc.path(m, n), events=("create",)).start()
                    for n in everything}
        try:
            appended = {}
            c = courier.raw(user=acc.user, password=acc.password)
            for n in random.Random(2177).sample(everything, len(everything)):
                c.append_many(n, mailgen.bulk(1, start=acc.counter))
                acc.counter += 1
                appended[n] = time.monotonic()
            c.logout()
            for n, w in watchers.items():
                assert w.wait_for(lambda evs: announced(w), 10 * ifs.timeout_scale()), \
                    (n, w.events, status(m))
        finally:
            for w in watchers.values():
                w.stop()
        late = {n: first_eml(w) - appended[n] for n, w in watchers.items()}
        print("IDLE:", {n: round(late[n], 2) for n in idle})
        waits = sorted(late[n] for n in polled)
        print("polled: max %.2f s, median %.2f s" % (waits[-1], waits[len(waits) // 2]))
        print("peak connections:", p.peak)
        scale = ifs.timeout_scale()
        assert all(late[n] <= (2 + 1) * scale for n in idle), late
        assert all(late[n] <= (4 + 1) * scale for n in polled), late
        assert p.peak <= 6, p.peak
        assert "of max_connections 6" in status(m), status(m)
    finally:
        p.stop()


# ---------------------------------------------------------------- idle cost

# Dovecot's IDLE heartbeat ("* OK Still here", every 2 min by default),
# scaled down as -o idle_interval is (seconds are its least unit).
HEARTBEAT_1S = "imap_idle_notify_interval = 1 secs"


@pytest.fixture(scope="module")
def dovecot_beating():
    dc = dovecot_mod.Dovecot(extra_config=[CAP_10, HEARTBEAT_1S])
    yield dc
    dc.stop()


@pytest.fixture(scope="module")
def dovecot_beating_nonotify():
    dc = dovecot_mod.Dovecot(extra_config=[CAP_10, HEARTBEAT_1S,
                                           "imap_capability = " + NO_NOTIFY])
    yield dc
    dc.stop()


def sample(pid):
    """(VmRSS in kB, threads) of a process."""
    with open("/proc/%d/status" % pid) as f:
        rss = int(next(ln for ln in f if ln.startswith("VmRSS:")).split()[1])
    return rss, len(os.listdir("/proc/%d/task" % pid))


def heap_in_use(m):
    """Bytes the daemon has allocated now, asked with gdb: glibc's own
    count (malloc_stats(), written to the daemon's stderr), or
    AddressSanitizer's."""
    pid = str(m.proc.pid)
    with open("/proc/%s/maps" % pid) as f:
        asan = "libasan" in f.read()
    what = ("print (unsigned long) __sanitizer_get_current_allocated_bytes()" if asan else
            "call (void) malloc_stats()")
    before = len(m.stderr())
    r = subprocess.run(["gdb", "-nx", "-iex", "set debuginfod enabled off", "-p", pid,
                        "-batch", "-ex", what], capture_output=True, text=True, timeout=60)
    found = re.findall(r"^\$1 = (\d+)$", r.stdout, re.M) if asan else \
        re.findall(r"in use bytes\s*=\s*(\d+)", m.stderr()[before:])
    assert found, (r.stdout, r.stderr, m.stderr()[before:])
    return int(found[-1])


def least_heap(m):
    """The least of three heap_in_use(): one may catch a poll at work."""
    return min(heap_in_use(m) for _ in range(3))


class Wire:
    """The command lines each connection sent since a mark (the proxy keeps
    every byte the mount sent, per connection)."""

    def __init__(self, proxy):
        self.proxy = proxy
        self.marks = []

    def mark(self):
        with self.proxy.lock:
            self.marks = [bytes(s).rfind(b"\r\n") + 2 for s in self.proxy.streams]

    def lines(self, since_mark=True):
        """[[line, ...] for each connection], whole lines only."""
        with self.proxy.lock:
            streams = [bytes(s) for s in self.proxy.streams]
        out = []
        for i, s in enumerate(streams):
            if since_mark and i < len(self.marks):
                s = s[self.marks[i]:]
            out.append(s[:s.rfind(b"\r\n") + 2].split(b"\r\n")[:-1])
        return out

    def renewals(self):
        """IDLE renewals (a DONE) since the mark on each connection that idles."""
        return [sum(ln == b"DONE" for ln in now)
                for now, ever in zip(self.lines(), self.lines(False))
                if any(verb(ln) == "IDLE" for ln in ever)]

    def polls(self):
        """Polls since the mark on the polling connection (STATUS each, or
        one LIST-STATUS; each poll ends with a LIST of the tree)."""
        def asks_status(ln):
            return verb(ln) == "STATUS" or b"RETURN (STATUS" in ln
        return sum(verb(ln) == "LIST" and b"RETURN" not in ln
                   for now, ever in zip(self.lines(), self.lines(False))
                   if any(asks_status(ln) for ln in ever) for ln in now)


def verb(line):
    """What a command line asks: IDLE, STATUS, ... (DONE ends an IDLE)."""
    words = line.split(b" ")
    return "DONE" if line == b"DONE" else words[1].decode() if len(words) > 1 else "?"


def shown(line):
    """A command line for a message, credentials left out."""
    return verb(line) if verb(line) in ("AUTHENTICATE", "LOGIN") else line[:100].decode()


@pytest.mark.parametrize("notify", [True, False], ids=["notify", "poll"])
def test_idle_for_hours_costs_nothing(request, mount, tmp_path, notify):
    """Acceptance 5: 8 hours of idle with watch=all on 200 folders,
    simulated: IDLE re-issued every second (-o idle_interval=1 for 1500 s:
    8 hours are 19 renewals), Dovecot's heartbeat every second (2 min),
    polls every second (60 s).  Over 20 renewals on each IDLE connection
    (and 20 polls without NOTIFY): no new connection at the proxy (no
    reconnect), the same threads, no growth in RSS nor in the bytes
    allocated, and nothing sent but IDLE and DONE (and each poll's NOOP,
    STATUS and LIST without NOTIFY)."""
    dc = request.getfixturevalue("dovecot_beating" if notify else "dovecot_beating_nonotify")
    acc = Many(dc, tmp_path, 200)
    p = proxy_to(dc)
    beats = [0]

    def heard(state, data):
        beats[0] += data.count(b"* OK Still here")
        return data
    p.server_filter = heard
    # AddressSanitizer keeps what is freed from reuse for a while (its
    # quarantines, 1 MB a thread and 256 MB in all): RSS would grow with
    # every allocation freed, for minutes.
    acc.env["ASAN_OPTIONS"] = ":".join(filter(None, [
        acc.env.get("ASAN_OPTIONS"), "quarantine_size_mb=0:thread_local_quarantine_size_kb=0"]))
    try:
        m = acc.mount(mount, p, idle_interval=1, poll_interval=1)
        wait_all_watching(m, ["INBOX"] + acc.names)
        opened = p.opened
        wire = Wire(p)
        limit = 60 * ifs.timeout_scale()

        def rounds(n):
            """Until each IDLE connection has renewed n times since the mark,
            and the poller polled n times (or a connection was made)."""
            wire.mark()
            assert ifs.wait_until(lambda: p.opened != opened or
                                  (min(wire.renewals() or [0]) >= n and
                                   (notify or wire.polls() >= n)), limit, interval=0.2), \
                (wire.renewals(), wire.polls())
            assert p.opened == opened, ("reconnected", opened, p.opened, m.stderr()[-3000:])
        rounds(2)  # warmed up: what the first rounds allocate is in RSS
        early, heap = sample(m.proc.pid), least_heap(m)
        beats[0] = 0
        rounds(20)
        end, heap_end = sample(m.proc.pid), least_heap(m)
        conns = wire.lines()
        print("connections %d, renewals %s, polls %d, heartbeats %d, RSS %d -> %d kB, "
              "heap %d -> %d bytes, threads %d -> %d" % (
                  p.opened, wire.renewals(), wire.polls(), beats[0], early[0], end[0], heap,
                  heap_end, early[1], end[1]))
        assert end[1] == early[1], (early, end)
        # glibc keeps up to 128 kB freed at the top of a heap (M_TRIM_THRESHOLD)
        # before it gives memory back: RSS may be that much above what is used.
        assert end[0] - early[0] <= 128, (early, end)
        # The bytes allocated need no such slack: a slower growth shows there.
        assert heap_end - heap <= 16384, (heap, heap_end)
        allowed = {"IDLE", "DONE"} if notify else {"IDLE", "DONE", "NOOP", "STATUS", "LIST"}
        assert all(verb(ln) in allowed for c in conns for ln in c), \
            [shown(ln) for c in conns for ln in c if verb(ln) not in allowed][:20]
        # One each whole second while in IDLE: a round may fall between two.
        assert beats[0] >= 10 * len(wire.renewals()), beats[0]
        assert "reconnecting" not in m.stderr()
    finally:
        p.stop()
