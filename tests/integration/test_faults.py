"""Surviving faults (issue 5, first part): the server killed with kill -9
and started again on the same data, a link that goes silent, unmount and
SIGTERM while the server is gone.  Real Dovecot, real mount; the fault
proxy (tests/lib/faultproxy.py) only where Dovecot cannot fail on demand."""

import itertools
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import dovecot as dovecot_mod  # noqa: E402
import faultproxy  # noqa: E402
import imapraw  # noqa: E402
import inboxfs as ifs  # noqa: E402
import inotify  # noqa: E402
import mailgen  # noqa: E402

TIMEOUT = 3          # -o timeout: seconds one server operation may take
EVENT_TIMEOUT = 15.0
_users = itertools.count(1)


@pytest.fixture
def dovecot():
    dc = dovecot_mod.Dovecot()
    yield dc
    dc.stop()


class Account:
    def __init__(self, dc, tmp_path, n=5):
        self.dc = dc
        self.user = "f%d" % next(_users)
        self.password = dc.add_user(self.user)
        c = dc.raw(user=self.user, password=self.password)
        c.append_many("INBOX", mailgen.bulk(n))
        c.logout()
        self.pwfile = ifs.write_password_file(str(tmp_path), self.password,
                                              name="pw-" + self.user)
        self.env = ifs.clean_env({"XDG_STATE_HOME": str(tmp_path / "state")})

    def options(self, **kw):
        o = {"cafile": self.dc.cafile, "password_file": self.pwfile, "timeout": TIMEOUT,
             "reconnect_max": 2}
        o.update(kw)
        return o

    def append(self, n=1):
        c = self.dc.raw(user=self.user, password=self.password)
        before = set(self.uids(c))
        c.append_many("INBOX", mailgen.bulk(n, start=7000 + len(before)))
        new = set(self.uids(c)) - before
        c.logout()
        return {"%d.eml" % u for u in new}

    @staticmethod
    def uids(c):
        c.select("INBOX", readonly=True)
        r = c.command("UID SEARCH ALL")
        return [int(x) for line in r.untagged for x in line[0].split()[2:]]


def timed(fn, *args):
    t = time.monotonic()
    try:
        return fn(*args), None, time.monotonic() - t
    except OSError as e:
        return None, e, time.monotonic() - t


def read(path):
    with open(path, "rb") as f:
        return f.read()


def test_server_crash_and_restart(dovecot, mount, tmp_path):
    acc = Account(dovecot, tmp_path)
    m = mount(dovecot.url(user=acc.user), options=acc.options(), env=acc.env)
    names = sorted(n for n in os.listdir(m.path("INBOX")) if n.endswith(".eml"))
    cached = read(m.path("INBOX", names[0]))
    assert ifs.wait_until(lambda: "watching INBOX (IDLE)" in m.stderr(), timeout=EVENT_TIMEOUT)

    status = m.path(".inboxfs", "status")
    assert "connection: connected" in open(status).read()
    assert "watch INBOX: connected (idle)" in open(status).read()

    dovecot.crash()
    # Listings and cached bodies go on from the cache ...
    assert sorted(n for n in os.listdir(m.path("INBOX")) if n.endswith(".eml")) == names
    assert read(m.path("INBOX", names[0])) == cached
    # ... and what needs the server fails with EIO, never a hang.
    _, err, secs = timed(read, m.path("INBOX", names[-1]))
    assert err is not None and err.errno == 5 and secs < TIMEOUT + 2, (err, secs)
    # The health file says so, and why.
    text = open(status).read()
    assert "connection: disconnected" in text and "refused" in text, text
    assert ifs.wait_until(lambda: "watch INBOX: disconnected" in open(status).read(),
                          timeout=EVENT_TIMEOUT), open(status).read()

    dovecot.restart()
    w = inotify.Inotify(m.path("INBOX")).start()
    try:
        # The watcher comes back by itself (backoff <= reconnect_max = 2 s) ...
        assert ifs.wait_until(lambda: m.stderr().count("watching INBOX (IDLE)") >= 2,
                              timeout=EVENT_TIMEOUT), m.stderr()
        new = acc.append()
        # ... and mail that arrives after the restart is announced.
        assert w.wait_for(lambda evs: new <= {n for e, n in evs if e == "CREATE"},
                          EVENT_TIMEOUT), (w.events, m.stderr())
    finally:
        w.stop()
    # The file system's own connection is back too.
    assert ifs.wait_until(lambda: timed(read, m.path("INBOX", names[-1]))[1] is None,
                          timeout=EVENT_TIMEOUT)
    text = open(status).read()
    assert "connection: connected" in text and "watch INBOX: connected" in text, text


def test_mail_that_arrived_while_the_server_was_down_is_announced(dovecot, mount, tmp_path):
    acc = Account(dovecot, tmp_path)
    m = mount(dovecot.url(user=acc.user), options=acc.options(), env=acc.env)
    assert ifs.wait_until(lambda: "watching INBOX (IDLE)" in m.stderr(), timeout=EVENT_TIMEOUT)
    w = inotify.Inotify(m.path("INBOX")).start()
    try:
        dovecot.crash()
        dovecot.restart()
        new = acc.append(3)   # before the watcher is back: the catch-up must find them
        assert w.wait_for(lambda evs: new <= {n for e, n in evs if e == "CREATE"},
                          EVENT_TIMEOUT), (w.events, m.stderr())
        assert sorted(w.named("CREATE")) == sorted(new)
    finally:
        w.stop()


def test_silent_link_fails_reads_within_the_timeout(dovecot, mount, tmp_path):
    acc = Account(dovecot, tmp_path)
    proxy = faultproxy.FaultProxy(("127.0.0.1", dovecot.imap_port)).start()
    try:
        m = mount(dovecot.url(user=acc.user, tls=False, port=proxy.port),
                  options=acc.options(tls="none"), env=acc.env)
        names = sorted(n for n in os.listdir(m.path("INBOX")) if n.endswith(".eml"))
        proxy.blackhole()
        _, err, secs = timed(read, m.path("INBOX", names[-1]))
        assert err is not None and secs < TIMEOUT + 2, (err, secs)
        # The next read gets a new connection through the (working) proxy.
        data, err, secs = timed(read, m.path("INBOX", names[-2]))
        assert err is None and data, (err, m.stderr())
    finally:
        proxy.stop()


def unmount_time(m):
    t = time.monotonic()
    r = subprocess.run(["fusermount3", "-u", m.mountpoint], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rc = m.wait_exit(10)
    return rc, time.monotonic() - t


def healthy_unmount_time(mount, acc):
    """How long unmounting a healthy mount of the account takes now, its
    watcher in IDLE: the anchor for "at once", measured in the same test
    (other test runs may share the CPUs)."""
    m = mount(acc.dc.url(user=acc.user), options=acc.options(), env=acc.env)
    os.listdir(m.path("INBOX"))
    assert ifs.wait_until(lambda: "watching INBOX (IDLE)" in m.stderr(), timeout=EVENT_TIMEOUT)
    rc, secs = unmount_time(m)
    assert rc == 0, m.stderr()
    return secs


def at_once(anchor):
    """The limit for an unmount or SIGTERM that must not wait for the
    server: what a healthy one takes (anchor), the one second a LOGOUT to
    a silent server may cost, and a margin.  The waits it guards against
    are the server timeout (30 s here) and backoff waits (60 s)."""
    return (2.0 + 3 * anchor) * ifs.timeout_scale()


def test_unmount_during_backoff_wait(dovecot, mount, tmp_path):
    acc = Account(dovecot, tmp_path)
    anchor = healthy_unmount_time(mount, acc)
    m = mount(dovecot.url(user=acc.user), options=acc.options(reconnect_max=60), env=acc.env)
    os.listdir(m.path("INBOX"))
    # The watcher's next login is refused: it then waits at least a minute.
    ifs.write_password_file(str(tmp_path), "not-the-password", name="pw-" + acc.user)
    dovecot.crash()
    dovecot.restart()
    assert ifs.wait_until(lambda: re.search(r"next try in [6-9]\d s", m.stderr()),
                          timeout=EVENT_TIMEOUT), m.stderr()
    rc, secs = unmount_time(m)
    assert rc == 0 and secs < at_once(anchor), (rc, secs, anchor, m.stderr())


def test_sigterm_while_a_read_waits_for_a_silent_server(dovecot, mount, tmp_path):
    """A cat blocked on a server that went silent: SIGTERM still ends the
    daemon within 2 s, and the cat gets an error rather than hanging."""
    acc = Account(dovecot, tmp_path)
    anchor = healthy_unmount_time(mount, acc)
    proxy = faultproxy.FaultProxy(("127.0.0.1", dovecot.imap_port)).start()
    try:
        m = mount(dovecot.url(user=acc.user, tls=False, port=proxy.port),
                  options=acc.options(tls="none", timeout=30), env=acc.env)
        names = sorted(n for n in os.listdir(m.path("INBOX")) if n.endswith(".eml"))
        proxy.blackhole()
        result = {}
        reader = threading.Thread(target=lambda: result.update(
            r=timed(read, m.path("INBOX", names[-1]))))
        reader.start()
        # The read's FETCH went into the silent link: it is waiting now.
        assert ifs.wait_until(lambda: b"BODY.PEEK" in proxy.swallowed, timeout=5)
        t = time.monotonic()
        m.signal(signal.SIGTERM)
        rc = m.wait_exit(10)
        secs = time.monotonic() - t
        reader.join(10)
        assert not reader.is_alive(), "the cat still hangs"
        assert rc == 0 and secs < at_once(anchor), (rc, secs, anchor, m.stderr())
        assert result["r"][1] is not None, "the read should have failed"
    finally:
        proxy.stop()


@pytest.mark.parametrize("fault", ["close", "reset", "blackhole", "delay"])
def test_faults_during_a_big_cat(dovecot, mount, tmp_path, fault):
    """The link fails while a 2 MB message is on its way: cat gets every
    byte (the read is retried on a new connection) or fails with EIO, never
    a short or wrong file, within the timeout; afterwards the mount reads it
    whole and announces new mail."""
    acc = Account(dovecot, tmp_path, n=0)
    c = dovecot.raw(user=acc.user, password=acc.password)
    c.append_many("INBOX", [(mailgen.large_message(size=2 << 20), [], 1700000000)])
    c.logout()
    proxy = faultproxy.FaultProxy(("127.0.0.1", dovecot.imap_port)).start()
    try:
        m = mount(dovecot.url(user=acc.user, tls=False, port=proxy.port),
                  options=acc.options(tls="none", idle_timeout=2), env=acc.env)
        name = [n for n in os.listdir(m.path("INBOX")) if n.endswith(".eml")][0]
        m_oracle = dovecot.connect(user=acc.user, password=acc.password)
        oracle = imapraw.fetch_body(m_oracle, "INBOX", int(name.split(".")[0]))
        assert ifs.wait_until(lambda: "watching INBOX (IDLE)" in m.stderr(),
                              timeout=EVENT_TIMEOUT)
        if fault in ("close", "reset"):
            proxy.cut_after(1 << 20, reset=fault == "reset")   # half-way through the literal
        elif fault == "blackhole":
            # Silent once the FETCH is out: the body never comes.
            threading.Thread(target=lambda: ifs.wait_until(
                lambda: b"BODY.PEEK" in proxy.client_bytes, timeout=5) and proxy.blackhole(),
                daemon=True).start()
        else:
            proxy.delay(0.002)   # a slow link: 2 ms per chunk
        data, err, secs = timed(read, m.path("INBOX", name))
        proxy.delay(0)
        assert (err is None and data == oracle) or (err is not None and err.errno == 5), \
            (err, len(data or b""), len(oracle))
        assert secs < TIMEOUT + 2 or (fault == "delay" and err is None), secs
        assert read(m.path("INBOX", name)) == oracle    # and afterwards, all of it
        w = inotify.Inotify(m.path("INBOX")).start()
        try:
            new = acc.append()
            assert w.wait_for(lambda evs: new <= {n for e, n in evs if e == "CREATE"},
                              EVENT_TIMEOUT), (w.events, m.stderr())
        finally:
            w.stop()
    finally:
        proxy.stop()


def test_reconnect_tries_gives_up_and_unmounts(dovecot, mount, tmp_path):
    acc = Account(dovecot, tmp_path)
    m = mount(dovecot.url(user=acc.user), options=acc.options(reconnect_tries=2),
              env=acc.env)
    names = sorted(n for n in os.listdir(m.path("INBOX")) if n.endswith(".eml"))
    dovecot.crash()

    def poke_until_given_up():
        timed(read, m.path("INBOX", names[-1]))   # each read needs the server
        # The worker's own line: a watcher gives up on its folder too.
        return (re.search(r"^inboxfs: error: cannot reach .*giving up \(reconnect_tries\)",
                          m.stderr(), re.M) or m.proc.poll() is not None)

    assert ifs.wait_until(poke_until_given_up, timeout=EVENT_TIMEOUT), m.stderr()
    # No more requests: the daemon ends by itself, not at the next one.
    assert m.wait_exit(EVENT_TIMEOUT) == 1, m.stderr()
    assert "giving up" in m.stderr()
    assert ifs.wait_until(lambda: not ifs.is_mounted(m.mountpoint, None), timeout=5)


@pytest.mark.parametrize("fault", ["close", "reset", "blackhole", "delay"])
def test_faults_during_idle_then_mail_is_announced(dovecot, mount, tmp_path, fault):
    acc = Account(dovecot, tmp_path)
    proxy = faultproxy.FaultProxy(("127.0.0.1", dovecot.imap_port)).start()
    try:
        m = mount(dovecot.url(user=acc.user, tls=False, port=proxy.port),
                  options=acc.options(tls="none", idle_timeout=2), env=acc.env)
        assert ifs.wait_until(lambda: "watching INBOX (IDLE)" in m.stderr(),
                              timeout=EVENT_TIMEOUT)
        w = inotify.Inotify(m.path("INBOX")).start()
        try:
            if fault in ("close", "reset"):
                proxy.close_all(reset=fault == "reset")
            elif fault == "blackhole":
                proxy.blackhole()
            else:
                proxy.delay(0.3)
            new = acc.append(2)      # during the fault (appended directly)
            proxy.delay(0)
            more = acc.append(1)     # and after it
            assert w.wait_for(lambda evs: (new | more) <= {n for e, n in evs if e == "CREATE"},
                              EVENT_TIMEOUT), (fault, w.events, m.stderr())
        finally:
            w.stop()
    finally:
        proxy.stop()


def test_unmount_during_a_blackhole(dovecot, mount, tmp_path):
    acc = Account(dovecot, tmp_path)
    anchor = healthy_unmount_time(mount, acc)
    proxy = faultproxy.FaultProxy(("127.0.0.1", dovecot.imap_port)).start()
    try:
        m = mount(dovecot.url(user=acc.user, tls=False, port=proxy.port),
                  options=acc.options(tls="none", timeout=30), env=acc.env)
        os.listdir(m.path("INBOX"))
        assert ifs.wait_until(lambda: "watching INBOX (IDLE)" in m.stderr(),
                              timeout=EVENT_TIMEOUT)
        proxy.blackhole()
        rc, secs = unmount_time(m)
        assert rc == 0 and secs < at_once(anchor), (rc, secs, anchor, m.stderr())
    finally:
        proxy.stop()
