"""Round trips a user waits for when the server is far away (issue 17),
against Dovecot, Cyrus and Courier (the `server` fixture).

At 100 ms a round trip is what a user feels; these tests count them where
they are decided, in the protocol trace (-o debug=imap): every time
inboxfs sent something and then had to wait for the server before it could
send the next thing.  tests/bench/bench_far.py measures the same paths in
time, through a delaying proxy, beside raw IMAP and mbsync.

- Mounting: after the greeting, the login and then ENABLE with LIST in
  one round trip (no CAPABILITY when the login's OK listed them: Dovecot
  and Cyrus do, Courier does not).
- An arrival: the catch-up FETCH goes out right behind IDLE's DONE, and
  IDLE starts again (the next arrival is announced too).
- A small new message comes with its news: read after its IN_CREATE, it
  needs no server at all (shown with the link blackholed right after the
  IN_CREATE); a message larger than that is read whole as before.
"""

import os
import re
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import faultproxy  # noqa: E402
import inboxfs as ifs  # noqa: E402
import inotify  # noqa: E402
import mailgen  # noqa: E402
from realservers import ARRIVAL_TIMEOUT, Account  # noqa: E402

TRACE = re.compile(r"\[(imap-\d+)\] (C|S): (.*)$")


def trace(m):
    """(session, "C" or "S", text) for each protocol line of m's log."""
    out = []
    for line in m.stderr().splitlines():
        t = TRACE.search(line)
        if t:
            out.append(t.groups())
    return out


def session_of(lines, pattern):
    """The session that sent a command matching pattern, and its lines."""
    for name, way, text in lines:
        if way == "C" and re.match(pattern, text):
            return name, [(w, t) for n, w, t in lines if n == name]
    raise AssertionError("no session sent %r" % pattern)


def waits(lines):
    """Round trips waited for: each time sending was followed by reading."""
    return sum(1 for a, b in zip(lines, lines[1:]) if a[0] == "C" and b[0] == "S")


def upto(lines, pattern):
    """lines up to and including the first server line matching pattern."""
    for i, (way, text) in enumerate(lines):
        if way == "S" and re.search(pattern, text):
            return lines[:i + 1]
    raise AssertionError("the server never said %r" % pattern)


def message(i, size):
    """(bytes, flags, date) of a message of about size bytes, for append_many."""
    body = ("far %d: " % i + "x" * 70 + "\r\n") * (size // 80 + 1)
    return (mailgen.simple_message(i, subject="far %d" % i, body=body), [],
            mailgen.BASE_EPOCH + i)


def test_mount_logs_in_then_lists_in_one_round_trip(server, mount, tmp_path):
    acc = Account(server, tmp_path)
    m = acc.mount(mount, watch="none")
    assert "INBOX" in os.listdir(m.path())
    _, lines = session_of(trace(m), r"A\d+ LIST ")
    login = next(re.match(r"(A\d+)", t).group(1) for w, t in lines
                 if w == "C" and re.match(r"A\d+ (AUTHENTICATE|LOGIN) ", t))
    listing = next(re.match(r"(A\d+)", t).group(1) for w, t in lines
                   if w == "C" and re.match(r"A\d+ LIST ", t))
    logged_in = upto(lines, r"(^|\\n)%s OK" % login)
    after = upto(lines[len(logged_in):], r"(^|\\n)%s OK" % listing)
    sent = [t.split()[1] for w, t in after if w == "C" and len(t.split()) > 1]
    # Courier's OK to the login lists no capabilities: they are asked for.
    courier = server.kind == "courier"
    assert sent.count("CAPABILITY") == (1 if courier else 0), sent
    assert waits(logged_in[-1:] + after) == (2 if courier else 1), (sent, after)


def test_arrival_is_fetched_right_behind_done(server, mount, tmp_path):
    acc = Account(server, tmp_path)
    m = acc.mount(mount)
    assert ifs.wait_until(lambda: "watching INBOX (IDLE)" in m.stderr(), timeout=20)
    w = inotify.Inotify(m.path("INBOX"), events=("create",)).start()
    try:
        c = acc.raw()
        for i in (1, 2):
            before = len(w.named("CREATE"))
            c.append_many("INBOX", [message(100 + i, 2000)])
            assert w.wait_for(lambda evs: len([e for e in evs if "CREATE" in e[0]]) > before,
                              ARRIVAL_TIMEOUT), "arrival %d was not announced" % i
        c.logout()
    finally:
        w.stop()
    name, lines = session_of(trace(m), r"A\d+ IDLE$")
    after_done = [lines[i + 1] for i, (way, text) in enumerate(lines[:-1])
                  if way == "C" and text == "DONE"]
    assert after_done, "%s never sent DONE" % name
    assert after_done[0][0] == "C" and re.match(r"A\d+ UID FETCH ", after_done[0][1]), \
        after_done[0]
    for f in w.named("CREATE"):
        uid = int(f.split(".")[0])
        with open(m.path("INBOX", f), "rb") as fh:
            assert fh.read() == acc.body("INBOX", uid)


def wait_created(w, count):
    return w.wait_for(lambda evs: len([e for e in evs if "CREATE" in e[0]
                                       and e[1].endswith(".eml")]) >= count,
                      ARRIVAL_TIMEOUT)


def test_small_news_is_read_without_the_server(server, mount, tmp_path):
    acc = Account(server, tmp_path)
    proxy = faultproxy.FaultProxy(("127.0.0.1", server.imaps_port)).start()
    try:
        m = mount(server.url(user=acc.user, port=proxy.port),
                  options={"cafile": server.cafile, "password_file": acc.pwfile, "timeout": 5},
                  env=ifs.clean_env({"XDG_STATE_HOME": acc.state_home}))
        assert ifs.wait_until(lambda: "watching INBOX (IDLE)" in m.stderr(), timeout=20)
        w = inotify.Inotify(m.path("INBOX"), events=("create",)).start()
        try:
            c = acc.raw()
            # Larger than the 64 KB that come with the news: read as before,
            # whole (a cut-off first 64 KB must never pass for the message).
            for i, size in enumerate((65536 - 100, 65536 + 10, 200000)):
                c.append_many("INBOX", [message(200 + i, size)])
            assert wait_created(w, 3)
            for f in sorted(w.named("CREATE")):
                with open(m.path("INBOX", f), "rb") as fh:
                    assert fh.read() == acc.body("INBOX", int(f.split(".")[0])), f
            big = set(w.named("CREATE"))
            for i, size in enumerate((300, 5000, 60000)):
                c.append_many("INBOX", [message(300 + i, size)])
            c.logout()
            assert wait_created(w, 6)
            small = sorted(set(w.named("CREATE")) - big)
        finally:
            w.stop()
        proxy.blackhole(new="drop")
        for f in small:
            t = time.monotonic()
            p = subprocess.run(["cat", m.path("INBOX", f)], capture_output=True, timeout=30)
            took = time.monotonic() - t
            assert p.returncode == 0, (f, p.stderr)
            assert p.stdout == acc.body("INBOX", int(f.split(".")[0])), f
            assert os.stat(m.path("INBOX", f)).st_size == len(p.stdout)
            assert took < 2, "cat %s took %.1f s with the link down" % (f, took)
    finally:
        proxy.stop()
