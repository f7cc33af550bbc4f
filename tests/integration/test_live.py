"""The live mailbox (issue 4): IDLE makes mail that another client appends
appear as files, with IN_CREATE for each and IN_CLOSE_WRITE on .newmail,
seen by the real inotifywait; expunges elsewhere vanish with IN_DELETE;
what arrived while unmounted is announced once at the next mount."""

import itertools
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import dovecot as dovecot_mod  # noqa: E402
import fakeimap  # noqa: E402
import imapraw  # noqa: E402
import inboxfs as ifs  # noqa: E402
import inotify  # noqa: E402
import mailgen  # noqa: E402

# Dovecot pushes changes 0.5 s after they happen (a fixed delay in 2.3).
EVENT_TIMEOUT = 10.0

_users = itertools.count(1)


@pytest.fixture(scope="module")
def dovecot():
    dc = dovecot_mod.Dovecot()
    yield dc
    dc.stop()


@pytest.fixture(scope="module")
def dovecot_noidle():
    caps = ("IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT MULTIAPPEND UNSELECT CHILDREN "
            "NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 ESEARCH LIST-STATUS BINARY MOVE "
            "LITERAL+ SPECIAL-USE")
    dc = dovecot_mod.Dovecot(extra_config=["imap_capability = " + caps])
    yield dc
    dc.stop()


class Live:
    """A fresh user, a state directory of its own, an oracle client."""

    def __init__(self, dc, tmp_path, n=3):
        self.dc = dc
        self.user = "live%d" % next(_users)
        self.password = dc.add_user(self.user)
        self.raw = dc.raw(user=self.user, password=self.password)
        self.raw.create("Orders")
        self.raw.append_many("INBOX", mailgen.bulk(n))
        self.pwfile = ifs.write_password_file(str(tmp_path), self.password,
                                              name="pw-" + self.user)
        self.state_home = str(tmp_path / "state")
        self.counter = 1000

    def append(self, folder="INBOX", n=1):
        msgs = list(mailgen.bulk(n, start=self.counter))
        self.counter += n
        self.raw.append_many(folder, msgs)
        return [m[0] if isinstance(m[0], bytes) else m[0].encode() for m in msgs]

    def uids(self, folder="INBOX"):
        m = self.dc.connect(user=self.user, password=self.password)
        try:
            return set(imapraw.folder_state(m, folder))
        finally:
            m.logout()

    def mount(self, mount, **options):
        opts = {"cafile": self.dc.cafile, "password_file": self.pwfile}
        opts.update(options)
        return mount(self.dc.url(user=self.user), options=opts,
                     env=ifs.clean_env({"XDG_STATE_HOME": self.state_home}))


def wait_watching(m, folder="INBOX"):
    """Until the folder's watcher is in IDLE (.inboxfs/status says so): an
    expunge made before that is found by its first look, not heard, and
    raises no event.  Slow under valgrind, hence the scaled deadline."""
    def idle():
        with open(m.path(".inboxfs", "status")) as f:
            return "watch %s: connected (idle)" % folder in f.read()
    assert ifs.wait_until(idle, 30 * ifs.timeout_scale(), interval=0.1), \
        open(m.path(".inboxfs", "status")).read()


def eml_files(path):
    return {n for n in os.listdir(path) if n.endswith(".eml")}


def watch(path):
    return inotify.Inotify(path).start()


def test_append_raises_in_create_and_marker(dovecot, mount, tmp_path):
    live = Live(dovecot, tmp_path)
    m = live.mount(mount)
    wait_watching(m)
    before = live.uids()
    w = watch(m.path("INBOX"))
    try:
        body, = live.append()
        new = live.uids() - before
        assert len(new) == 1
        name = "%d.eml" % new.pop()
        assert w.wait_for(lambda evs: ("CREATE", name) in evs and
                          any(n == ".newmail" and "CLOSE_WRITE" in e for e, n in evs),
                          EVENT_TIMEOUT), w.events
        with open(m.path("INBOX", name), "rb") as f:
            data = f.read()
        served = imapraw.fetch_body(dovecot.connect(user=live.user, password=live.password),
                                    "INBOX", int(name.split(".")[0]))
        assert data == served
        with open(m.path("INBOX", ".newmail")) as f:
            assert f.read().split() == [name]
        assert abs(os.stat(m.path("INBOX", ".newmail")).st_mtime -
                   os.stat(m.path("INBOX")).st_mtime) < 86400 * 365
    finally:
        w.stop()


def test_mail_right_after_the_first_mount_is_announced(dovecot, mount, tmp_path):
    """A script starts inotifywait the moment the mount command returns;
    mail that lands before the watcher's own SELECT (0.1 s each way makes
    that half a second or more) is new to the user and must be announced:
    on a first mount, what counts as already there is what the server held
    when the mount came up."""
    import faultproxy
    live = Live(dovecot, tmp_path)
    proxy = faultproxy.FaultProxy(("127.0.0.1", dovecot.imap_port)).start()
    try:
        proxy.delay(0.1)
        m = mount(dovecot.url(user=live.user, tls=False, port=proxy.port),
                  options={"tls": "none", "password_file": live.pwfile},
                  env=ifs.clean_env({"XDG_STATE_HOME": live.state_home}))
        w = watch(m.path("INBOX"))
        try:
            before = live.uids()
            live.append()
            name = "%d.eml" % (live.uids() - before).pop()
            assert "watch INBOX: connected (idle)" not in \
                open(m.path(".inboxfs", "status")).read(), "too late to show anything"
            assert w.wait_for(lambda evs: ("CREATE", name) in evs, EVENT_TIMEOUT), \
                (w.events, m.stderr())
            with open(m.path("INBOX", ".newmail")) as f:
                assert f.read().split() == [name]
        finally:
            w.stop()
    finally:
        proxy.stop()


def test_list_from_watch_lists_without_asking_the_server(dovecot, mount, tmp_path):
    """-o list_from_watch on a far server (0.4 s round trip): a warm `ls`
    of a watched folder sends nothing and waits for no round trip; mail
    appended or expunged elsewhere shows in it once its IN_CREATE or
    IN_DELETE has come (the watcher's IDLE told the index first)."""
    import delayproxy
    live = Live(dovecot, tmp_path, n=4)
    with delayproxy.DelayProxy(("127.0.0.1", dovecot.imap_port), rtt_ms=400) as proxy:
        m = mount(dovecot.url(user=live.user, tls=False, port=proxy.port),
                  options={"tls": "none", "password_file": live.pwfile,
                           "list_from_watch": "yes"},
                  env=ifs.clean_env({"XDG_STATE_HOME": live.state_home}))
        wait_watching(m)
        uids = sorted(live.uids())
        assert eml_files(m.path("INBOX")) == {"%d.eml" % u for u in uids}
        quiet = proxy.stats()
        listed = subprocess.run(["ls", "-l", m.path("INBOX")], capture_output=True,
                                check=True).stdout
        assert proxy.stats().up == quiet.up, "the listing asked the server"
        assert listed.count(b".eml") == len(uids)
        w = watch(m.path("INBOX"))
        try:
            live.append()
            new = "%d.eml" % (live.uids() - set(uids)).pop()
            assert w.wait_for(lambda evs: ("CREATE", new) in evs, EVENT_TIMEOUT), w.events
            assert new in eml_files(m.path("INBOX"))
            other = dovecot.connect(user=live.user, password=live.password)
            other.select("INBOX")
            other.uid("STORE", str(uids[0]), "+FLAGS", "(\\Deleted)")
            other.uid("EXPUNGE", str(uids[0]))
            other.logout()
            gone = "%d.eml" % uids[0]
            assert w.wait_for(lambda evs: ("DELETE", gone) in evs, EVENT_TIMEOUT), w.events
            assert gone not in eml_files(m.path("INBOX"))
        finally:
            w.stop()


def test_burst_of_200_each_announced_once(dovecot, mount, tmp_path):
    live = Live(dovecot, tmp_path)
    m = live.mount(mount)
    before = live.uids()
    w = watch(m.path("INBOX"))
    try:
        live.append(n=200)
        new = {"%d.eml" % u for u in live.uids() - before}
        assert len(new) == 200
        assert w.wait_for(lambda evs: new <= {n for e, n in evs if e == "CREATE"},
                          EVENT_TIMEOUT * 3), "missing: %s" % (
            sorted(new - set(w.named("CREATE")))[:10])
        # The marker is rewritten after each batch's names are announced.
        assert w.wait_for(lambda evs: any(n == ".newmail" and "CLOSE_WRITE" in e
                                          for e, n in evs[-3:]), EVENT_TIMEOUT), w.events[-5:]
        created = w.named("CREATE")
        assert sorted(created) == sorted(new), "duplicates or strays"
        assert new <= eml_files(m.path("INBOX"))
    finally:
        w.stop()


def test_expunge_and_move_elsewhere_raise_in_delete(dovecot, mount, tmp_path):
    live = Live(dovecot, tmp_path, n=4)
    m = live.mount(mount)
    wait_watching(m)
    uids = sorted(live.uids())
    assert eml_files(m.path("INBOX")) == {"%d.eml" % u for u in uids}
    w = watch(m.path("INBOX"))
    try:
        other = dovecot.connect(user=live.user, password=live.password)
        other.select("INBOX")
        other.uid("STORE", str(uids[0]), "+FLAGS", "(\\Deleted)")
        other.uid("EXPUNGE", str(uids[0]))
        other.uid("MOVE", str(uids[1]), "Orders")
        other.logout()
        gone = {"%d.eml" % uids[0], "%d.eml" % uids[1]}
        assert w.wait_for(lambda evs: gone <= {n for e, n in evs if e == "DELETE"},
                          EVENT_TIMEOUT), w.events
        assert not gone & eml_files(m.path("INBOX"))
        for name in gone:
            assert not os.path.exists(m.path("INBOX", name))
    finally:
        w.stop()


def test_mail_that_came_while_unmounted_is_announced_once(dovecot, mount, tmp_path):
    live = Live(dovecot, tmp_path)
    m = live.mount(mount)
    assert ".newmail" in os.listdir(m.path("INBOX"))
    m.unmount()
    before = live.uids()
    live.append(n=5)
    new = {"%d.eml" % u for u in live.uids() - before}

    m2 = live.mount(mount)
    assert ifs.wait_until(lambda: set(open(m2.path("INBOX", ".newmail")).read().split()) == new,
                          timeout=EVENT_TIMEOUT)
    assert new <= eml_files(m2.path("INBOX"))
    m2.unmount()

    m3 = live.mount(mount)
    # A message appended now is announced after any catch-up would have
    # been: when it is, it must be the only announcement of this mount.
    assert ifs.wait_until(lambda: "watching INBOX" in m3.stderr(), timeout=EVENT_TIMEOUT)
    before = live.uids()
    live.append()
    last = "%d.eml" % (live.uids() - before).pop()
    assert ifs.wait_until(lambda: open(m3.path("INBOX", ".newmail")).read().split() == [last],
                          timeout=EVENT_TIMEOUT)
    # The log line follows the marker's rewrite: wait for it, not just the marker.
    assert ifs.wait_until(lambda: "announced" in m3.stderr(), timeout=EVENT_TIMEOUT)
    announcements = [l for l in m3.stderr().splitlines() if "announced" in l]
    assert announcements == [announcements[0]] and "1 new message announced" in announcements[0]


@pytest.mark.parametrize("from_watch", ["no", "yes"])
def test_first_ls_after_mounting_lists_mail_that_came_while_unmounted(dovecot, mount, tmp_path,
                                                                      from_watch):
    """Mail that came while unmounted is held back until announced (its
    mknod raises IN_CREATE); the first ls after mounting must list it all
    the same, not an INBOX that looks empty.  Six remounts, each with new
    mail: the old daemon listed without it in 19 of 20.  A listing from
    the watcher's news (-o list_from_watch) waits for them too."""
    live = Live(dovecot, tmp_path, n=0)
    m = live.mount(mount, list_from_watch=from_watch)
    assert eml_files(m.path("INBOX")) == set()
    for cycle in range(6):
        assert m.unmount() == (0, [])
        before = live.uids()
        live.append(n=1 + cycle % 3)
        new = {"%d.eml" % u for u in live.uids() - before}
        m = live.mount(mount, list_from_watch=from_watch)
        listed = set(subprocess.run(["ls", m.path("INBOX")], capture_output=True, text=True,
                                    check=True).stdout.split())
        assert listed == {"%d.eml" % u for u in live.uids()}, (cycle, listed, new, m.stderr())
        # ... and still announced.
        assert ifs.wait_until(lambda: set(open(m.path("INBOX", ".newmail")).read().split())
                              == new, timeout=EVENT_TIMEOUT), (cycle, new, m.stderr())


def test_uidvalidity_change_rebuilds_the_folder(dovecot, mount, tmp_path):
    """Orders deleted and created again by another client: a new
    UIDVALIDITY, the same names for other messages.  The listing shows the
    new ones, and 1.eml is the new message 1, not the old one from the
    cache.  inboxfs is on INBOX while Orders is replaced: Dovecot (sdbox)
    corrupts its index when a mailbox that other sessions hold selected is
    deleted and created again ("duplicate transaction log sequence"), and
    then may lose the new mail or the mailbox itself, for every client (a
    flaky test when this mount watched Orders; reproduced with raw clients
    alone)."""
    live = Live(dovecot, tmp_path)
    live.append("Orders", n=3)
    m = live.mount(mount, watch="none", debug="fs:imap")
    old = eml_files(m.path("Orders"))
    assert old == {"1.eml", "2.eml", "3.eml"}
    with open(m.path("Orders", "1.eml"), "rb") as f:
        old_one = f.read()
    os.listdir(m.path("INBOX"))  # the mount's session leaves Orders
    live.raw.command('DELETE "Orders"')
    live.raw.create("Orders")
    bodies = live.append("Orders", n=2)
    new = {"%d.eml" % u for u in live.uids("Orders")}
    assert new == {"1.eml", "2.eml"}
    if not ifs.wait_until(lambda: eml_files(m.path("Orders")) == new, timeout=EVENT_TIMEOUT):
        pytest.fail("listed %s, want %s\n%s" % (sorted(eml_files(m.path("Orders"))),
                                                 sorted(new), m.stderr()), pytrace=False)
    assert "UIDVALIDITY changed" in m.stderr()
    # The kernel forgets the old name when the invalidation (sent from the
    # notification thread, not from inside the listing) arrives.
    assert ifs.wait_until(lambda: not os.path.exists(m.path("Orders", "3.eml")),
                          timeout=EVENT_TIMEOUT)
    with open(m.path("Orders", "1.eml"), "rb") as f:
        assert f.read() == bodies[0] != old_one


def test_latest_select_wins_over_a_larger_uidvalidity(fake_imap, mount, tmp_path):
    """A mailbox restored from a backup, or a server that reported a bogus
    UIDVALIDITY while in trouble (Dovecot's "session state is inconsistent"
    after a DELETE/CREATE race), goes back to a smaller UIDVALIDITY: the
    listing follows the latest SELECT, not the largest number ever seen.
    (A scripted server: Dovecot never lowers a UIDVALIDITY on purpose.)"""
    def msg(uid):
        return fakeimap.FakeMessage(uid, b"Subject: %d\r\n\r\nbody %d\r\n" % (uid, uid))
    orders = fakeimap.FakeMailbox("Orders", [msg(1), msg(2), msg(3)], uidvalidity=500)
    srv = fake_imap([fakeimap.FakeMailbox("INBOX", [msg(1)]), orders],
                    users={"alice": "fake-pw-77aa"})
    pw = ifs.write_password_file(str(tmp_path), srv.password, name="fake-pw")
    m = mount(srv.url(), options={"tls": "none", "password_file": pw, "watch": "none"})

    def listing():
        os.listdir(m.path("INBOX"))  # so that Orders is selected afresh
        return eml_files(m.path("Orders"))

    assert listing() == {"1.eml", "2.eml", "3.eml"}
    orders.uidvalidity, orders.messages = 900, []
    assert listing() == set()
    orders.uidvalidity, orders.messages = 700, [msg(5), msg(6)]
    got = listing()
    assert got == {"5.eml", "6.eml"}, "listed %s\n%s" % (sorted(got), m.stderr())
    assert subprocess.run(["cat", m.path("Orders", "6.eml")], stdout=subprocess.PIPE,
                          check=True).stdout == b"Subject: 6\r\n\r\nbody 6\r\n"


def test_polling_without_idle(dovecot_noidle, mount, tmp_path):
    live = Live(dovecot_noidle, tmp_path)
    m = live.mount(mount, poll_interval=1)
    assert ifs.wait_until(lambda: "polling with NOOP" in m.stderr(), timeout=EVENT_TIMEOUT)
    w = watch(m.path("INBOX"))
    try:
        before = live.uids()
        live.append()
        name = "%d.eml" % (live.uids() - before).pop()
        assert w.wait_for(lambda evs: ("CREATE", name) in evs and
                          any(n == ".newmail" and "CLOSE_WRITE" in e for e, n in evs),
                          EVENT_TIMEOUT), w.events
    finally:
        w.stop()


def test_single_threaded_mode_shows_mail_without_events(dovecot, mount, tmp_path):
    live = Live(dovecot, tmp_path)
    m = mount(dovecot.url(user=live.user), args=["-s"],
              options={"cafile": dovecot.cafile, "password_file": live.pwfile},
              env=ifs.clean_env({"XDG_STATE_HOME": live.state_home}))
    # logged just after the mount is up, by the thread that serves it
    assert ifs.wait_until(lambda: "without inotify events" in m.stderr(), timeout=EVENT_TIMEOUT)
    before = live.uids()
    live.append()
    name = "%d.eml" % (live.uids() - before).pop()
    assert ifs.wait_until(lambda: name in eml_files(m.path("INBOX")), timeout=EVENT_TIMEOUT)


EXAMPLE = os.path.join(HERE, "..", "..", "examples", "process-new-mail.sh")


class ExampleScript:
    """examples/process-new-mail.sh with a handler that logs each file."""

    def __init__(self, folder, tmp_path):
        self.folder = folder
        self.log = tmp_path / "handled"
        self.handler = tmp_path / "handler.sh"
        self.handler.write_text('#!/bin/sh\ncat "$1" > /dev/null || exit 1\n'
                                'basename "$1" >> "%s"\n' % self.log)
        self.handler.chmod(0o755)
        self.env = ifs.clean_env({"XDG_STATE_HOME": str(tmp_path / "script-state")})
        self.state_dir = tmp_path / "script-state" / "inboxfs-examples"
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["bash", EXAMPLE, self.folder, str(self.handler)],
                                     env=self.env, start_new_session=True)
        # Ready once its state exists (first run) or it is watching.
        assert ifs.wait_until(lambda: self.state_dir.is_dir() and any(self.state_dir.iterdir()),
                              timeout=EVENT_TIMEOUT)

    def stop(self):
        import signal
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)

    def handled(self):
        return self.log.read_text().split() if self.log.exists() else []

    def saved(self):
        files = list(self.state_dir.glob("*.last")) if self.state_dir.is_dir() else []
        return int(files[0].read_text() or 0) if files else 0

    def wait_handled(self, names):
        """Until the names were handled and recorded as done (stopping the
        script between a handler and its record would repeat that one, as
        the script's header says)."""
        top = max(int(n.split(".")[0]) for n in names)
        return ifs.wait_until(lambda: set(names) <= set(self.handled()) and self.saved() >= top,
                              timeout=EVENT_TIMEOUT)


def test_example_script_processes_each_message_once(dovecot, mount, tmp_path):
    live = Live(dovecot, tmp_path)
    m = live.mount(mount)
    script = ExampleScript(m.path("INBOX"), tmp_path)
    script.start()
    expected = set()
    try:
        def arrive(n):
            before = live.uids()
            live.append(n=n)
            names = {"%d.eml" % u for u in live.uids() - before}
            expected.update(names)
            return names

        assert script.wait_handled(arrive(30)), script.handled()          # a burst
        script.stop()                                                     # its own restart
        names = arrive(3)
        script.start()
        assert script.wait_handled(names), script.handled()
        mountpoint = m.mountpoint                                         # the mount's
        # The script may be listing the folder this very moment: like an
        # admin, retry the unmount while it says "busy".
        assert ifs.wait_until(lambda: subprocess.run(["fusermount3", "-u", mountpoint],
                                                     capture_output=True).returncode == 0,
                              timeout=EVENT_TIMEOUT)
        assert m.wait_exit(EVENT_TIMEOUT) == 0
        names = arrive(4)
        live_mount = mount(dovecot.url(user=live.user), mountpoint=mountpoint,
                           options={"cafile": dovecot.cafile, "password_file": live.pwfile},
                           env=ifs.clean_env({"XDG_STATE_HOME": live.state_home}))
        assert script.wait_handled(names), script.handled()
        assert live_mount.path("INBOX") == m.path("INBOX")
    finally:
        script.stop()
    handled = script.handled()
    assert sorted(handled) == sorted(set(handled)), "processed twice"
    assert set(handled) == expected


def test_rm_in_a_watched_folder_raises_one_in_delete(dovecot, mount, tmp_path):
    """The kernel reports the user's own rm; inboxfs must not announce the
    expunge it caused a second time."""
    live = Live(dovecot, tmp_path)
    m = live.mount(mount)
    victim = "%d.eml" % min(live.uids())
    w = watch(m.path("INBOX"))
    try:
        os.unlink(m.path("INBOX", victim))
        # A later arrival is announced after anything the rm could cause.
        before = live.uids()
        live.append()
        name = "%d.eml" % (live.uids() - before).pop()
        assert w.wait_for(lambda evs: ("CREATE", name) in evs, EVENT_TIMEOUT), w.events
        assert w.named("DELETE") == [victim], w.events
    finally:
        w.stop()


def test_idle_is_reissued(dovecot, mount, tmp_path):
    live = Live(dovecot, tmp_path)
    m = live.mount(mount, idle_interval=1, debug="imap")
    # Each re-issue is a DONE then a new IDLE on the watcher's connection.
    assert ifs.wait_until(lambda: m.stderr().count("C: DONE") >= 3, timeout=EVENT_TIMEOUT)
    before = live.uids()
    live.append()
    name = "%d.eml" % (live.uids() - before).pop()
    assert ifs.wait_until(lambda: name in eml_files(m.path("INBOX")), timeout=EVENT_TIMEOUT)


def test_status_says_idle_once_the_server_idles(dovecot, mount, tmp_path):
    """.inboxfs/status (and the log) say the watcher is in IDLE once the
    server has said it idles, not just before the command goes out: a link
    that dies right after is noticed within idle_timeout, not after the
    30 s a command may wait.  A slow link (0.1 s each way) makes that
    moment wide enough to hit every time."""
    import faultproxy
    live = Live(dovecot, tmp_path)
    proxy = faultproxy.FaultProxy(("127.0.0.1", dovecot.imap_port)).start()
    try:
        proxy.delay(0.1)
        m = mount(dovecot.url(user=live.user, tls=False, port=proxy.port),
                  options={"tls": "none", "password_file": live.pwfile, "idle_timeout": 2},
                  env=ifs.clean_env({"XDG_STATE_HOME": live.state_home}))
        status = m.path(".inboxfs", "status")
        assert ifs.wait_until(lambda: "watch INBOX: connected (idle)" in open(status).read(),
                              timeout=EVENT_TIMEOUT), open(status).read()
        proxy.blackhole()
        assert ifs.wait_until(lambda: "the connection is dead" in m.stderr(), timeout=10), \
            m.stderr()
    finally:
        proxy.stop()


def test_dead_link_is_noticed_and_mail_still_arrives(dovecot, mount, tmp_path):
    """The connection goes silent without a FIN or RST: after idle_timeout
    the watcher gives it up, reconnects, and new mail is announced."""
    import faultproxy
    live = Live(dovecot, tmp_path)
    proxy = faultproxy.FaultProxy(("127.0.0.1", dovecot.imap_port)).start()
    try:
        m = mount(dovecot.url(user=live.user, tls=False, port=proxy.port),
                  options={"tls": "none", "password_file": live.pwfile, "idle_timeout": 2},
                  env=ifs.clean_env({"XDG_STATE_HOME": live.state_home}))
        assert ifs.wait_until(lambda: "watching INBOX (IDLE)" in m.stderr(),
                              timeout=EVENT_TIMEOUT)
        proxy.blackhole()
        assert ifs.wait_until(lambda: "the connection is dead" in m.stderr(), timeout=10)
        assert ifs.wait_until(lambda: m.stderr().count("watching INBOX (IDLE)") >= 2,
                              timeout=10)
        w = watch(m.path("INBOX"))
        try:
            before = live.uids()
            live.append()
            name = "%d.eml" % (live.uids() - before).pop()
            assert w.wait_for(lambda evs: ("CREATE", name) in evs, EVENT_TIMEOUT), \
                (w.events, m.stderr())
        finally:
            w.stop()
    finally:
        proxy.stop()
