"""The server out of reach (issue 16, item 3): with -o timeout=5 and the
link dropped (nothing answers, nothing is closed, new connections get no
answer either), no call on the mount takes longer than timeout + 2 s, a
folder listed before lists from memory within 1 s, and once the link is
back the same shell commands work again without a remount.

Real Dovecot, real mount, the user's commands run as subprocesses and timed
from outside.  The outage is the fault proxy's blackhole(new="drop"): the
open connections go silent and new SYNs go unanswered, as over a pulled
cable (tests/lib/faultproxy.py says how)."""

import itertools
import re
import os
import subprocess
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import dovecot as dovecot_mod  # noqa: E402
import faultproxy  # noqa: E402
import inboxfs as ifs  # noqa: E402
import mailgen  # noqa: E402

TIMEOUT = 5                 # -o timeout
LIMIT = TIMEOUT + 2         # no call may take longer
LIST_LIMIT = 1.0            # a folder listed before lists within this
EVENT_TIMEOUT = 15.0
_users = itertools.count(1)


@pytest.fixture
def dovecot():
    dc = dovecot_mod.Dovecot()
    yield dc
    dc.stop()


class Step:
    """One shell command, timed from outside."""

    def __init__(self, argv, proc, secs):
        self.argv, self.secs = argv, secs
        self.rc, self.raw = proc.returncode, proc.stdout
        self.out = proc.stdout.decode(errors="replace")
        self.err = proc.stderr.decode(errors="replace")

    def __repr__(self):
        return "%s: rc %d in %.2f s, %r" % (" ".join(self.argv), self.rc, self.secs,
                                            self.err.strip()[-200:])

    @property
    def eio(self):
        return self.rc != 0 and "Input/output error" in self.err


def sh(*argv):
    t = time.monotonic()
    p = subprocess.run(list(argv), capture_output=True, timeout=120)
    return Step(list(argv), p, time.monotonic() - t)


class Outage:
    """An account reached through the fault proxy, mounted with timeout=5,
    its folders listed and one message read (cached) before the outage."""

    def __init__(self, dc, mount, tmp_path):
        self.dc = dc
        self.user = "o%d" % next(_users)
        self.password = dc.add_user(self.user)
        c = dc.raw(user=self.user, password=self.password)
        c.append_many("INBOX", mailgen.bulk(8))
        c.create("Archive")
        c.append_many("Archive", mailgen.bulk(1, start=100))
        c.create("Sent")
        c.append_many("Sent", mailgen.bulk(3, start=200))
        c.logout()
        pw = ifs.write_password_file(str(tmp_path), self.password, name="pw-" + self.user)
        self.proxy = faultproxy.FaultProxy(("127.0.0.1", dc.imaps_port)).start()
        opts = {"cafile": dc.cafile, "password_file": pw, "timeout": TIMEOUT,
                "reconnect_max": 2}
        self.m = mount(dc.url(user=self.user, port=self.proxy.port), options=opts,
                       env=ifs.clean_env({"XDG_STATE_HOME": str(tmp_path / "state")}))
        self.inbox = self.ls("INBOX")
        assert len(self.inbox) == 8, self.inbox
        self.ls("Archive")
        self.sent = self.ls("Sent")
        self.bodies = {n: self.oracle_body("INBOX", n) for n in self.inbox}
        self.cached = self.inbox[0]
        assert self.read("INBOX", self.cached) == self.bodies[self.cached]
        self.newfile = tmp_path / "note.eml"
        self.newfile.write_bytes(mailgen.simple_message(9000, subject="written offline"))

    def path(self, *parts):
        return self.m.path(*parts)

    def ls(self, folder):
        return sorted(n for n in os.listdir(self.path(folder)) if n.endswith(".eml"))

    def read(self, folder, name):
        with open(self.path(folder, name), "rb") as f:
            return f.read()

    def oracle_body(self, folder, name):
        c = self.dc.raw(user=self.user, password=self.password)
        c.select(folder, readonly=True)
        r = c.command("UID FETCH %s BODY.PEEK[]" % name.split(".")[0])
        c.logout()
        return r.untagged[0][1] if r.untagged and len(r.untagged[0]) > 1 else None

    def oracle_count(self, folder):
        c = self.dc.raw(user=self.user, password=self.password)
        c.select(folder, readonly=True)
        r = c.command("UID SEARCH ALL")
        c.logout()
        return len([x for line in r.untagged for x in line[0].split()[2:]])

    def status(self):
        with open(self.path(".inboxfs", "status")) as f:
            return f.read()

    def connected(self):
        """The worker's connection is up (a listing needs it)."""
        sh("ls", self.path("Archive"))
        return "connection: connected" in self.status()

    def stop(self):
        self.proxy.stop()


@pytest.fixture
def outage(dovecot, mount, tmp_path):
    o = Outage(dovecot, mount, tmp_path)
    yield o
    o.stop()


def steps(o, cold, moved, removed, listed="INBOX"):
    """The user's commands: (name, argv)."""
    return [
        ("ls", ["ls", o.path(listed)]),
        ("cat", ["cat", o.path("INBOX", cold)]),
        ("cat cached", ["cat", o.path("INBOX", o.cached)]),
        ("stat", ["stat", o.path("INBOX", cold)]),
        ("getfattr", ["getfattr", "-n", "user.imap.flags", o.path("INBOX", cold)]),
        ("mv", ["mv", o.path("INBOX", moved), o.path("Archive") + "/"]),
        ("rm", ["rm", o.path("INBOX", removed)]),
        ("cp", ["cp", str(o.newfile), o.path("INBOX") + "/"]),
    ]


FROM_MEMORY = ("ls", "cat cached", "stat")


def check_unreachable(name, step, o, when, listed=None):
    """A listing answers from memory within 1 s, and whole; a message read
    before and stat answer from memory; everything else fails with EIO
    within timeout + 2 s."""
    log = o.m.stderr()[-3000:]
    if name == "ls":
        assert step.rc == 0 and step.secs <= LIST_LIMIT, (when, step, log)
        assert sorted(n for n in step.out.split() if n.endswith(".eml")) == \
            (listed or o.inbox), step
    elif name == "cat cached":
        assert step.rc == 0 and step.secs <= LIST_LIMIT, (when, step, log)
        assert step.raw == o.bodies[o.cached]
    elif name == "stat":
        assert step.rc == 0 and step.secs <= LIST_LIMIT, (when, step, log)
    else:
        assert step.eio and step.secs <= LIMIT, (when, step, log)


def all_at_once(o, cold, moved, removed):
    """Every command at the same moment, as a busy user or several do:
    one gets the connection, the others wait for it.  The listing is of
    another folder: while an rm or mv waits in a folder, the kernel holds
    that folder's lock, and a listing of it waits for them."""
    results = {}

    def run(name, argv):
        results[name] = sh(*argv)

    threads = [threading.Thread(target=run, args=s)
               for s in steps(o, cold, moved, removed, listed="Sent")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_each_command_first_after_the_link_drops(outage):
    """Each command that needs the server, and ls, is the first call after
    the link dropped, on a connection the daemon still believes alive."""
    o = outage
    cold, moved, removed = o.inbox[1], o.inbox[2], o.inbox[3]
    for name, argv in steps(o, cold, moved, removed):
        if name in FROM_MEMORY and name != "ls":
            continue   # no server needed: the next test times them
        assert ifs.wait_until(o.connected, timeout=EVENT_TIMEOUT), o.m.stderr()
        o.proxy.blackhole(new="drop")
        step = sh(*argv)
        o.proxy.link_back()
        check_unreachable(name, step, o, "first call")


@pytest.mark.parametrize("new", ["drop", "hold"])
def test_commands_while_the_server_is_unreachable(outage, new):
    """The link drops while the daemon believes its connection alive; all
    the commands at once, then again once the connection is known dead
    (new connections get no answer: new="drop", SYNs unanswered; "hold",
    accepted and then silent); then the link comes back and the same
    commands work, on the same mount."""
    o = outage
    cold, moved, removed = o.inbox[1], o.inbox[2], o.inbox[3]
    o.proxy.blackhole(new=new)
    for when in ("first calls", "known dead"):
        if when == "known dead":
            # The backoff lets the next call try to connect again.
            assert ifs.wait_until(lambda: "connects when needed" in o.status(),
                                  timeout=EVENT_TIMEOUT), o.status()
        for name, step in sorted(all_at_once(o, cold, moved, removed).items()):
            check_unreachable(name, step, o, when, listed=o.sent)

    o.proxy.link_back()
    # Nothing was changed on the server meanwhile: no mail lost, none moved.
    assert o.oracle_count("INBOX") == 8 and o.oracle_count("Archive") == 1
    # Within the reconnect backoff (reconnect_max=2) the mount is back.
    assert ifs.wait_until(lambda: sh("cat", o.path("INBOX", cold)).rc == 0,
                          timeout=EVENT_TIMEOUT), o.m.stderr()
    done = {name: sh(*argv) for name, argv in steps(o, cold, moved, removed)}
    assert all(step.rc == 0 for step in done.values()), done
    assert sorted(n for n in done["ls"].out.split() if n.endswith(".eml")) == o.inbox
    assert done["cat"].raw == o.bodies[cold] and done["cat cached"].raw == o.bodies[o.cached]
    assert "user.imap.flags=" in done["getfattr"].out
    assert o.oracle_count("Archive") == 2
    assert o.oracle_count("INBOX") == 8 - 2 + 1   # mv and rm took two, cp added one
    assert removed not in o.ls("INBOX") and moved not in o.ls("INBOX")


def slowest_call(strace_log):
    """The longest system call in an `strace -T` log: (seconds, line)."""
    worst = (0.0, "")
    for line in strace_log.splitlines():
        m = re.search(r"<(\d+\.\d+)>$", line)
        if m and float(m.group(1)) > worst[0]:
            worst = (float(m.group(1)), line)
    return worst


@pytest.mark.parametrize("tool", ["grep", "tar"])
def test_a_tool_over_a_folder_when_the_link_drops(outage, tool, tmp_path):
    """grep -rl and tar over a folder while the server is out of reach: the
    tool ends (with an error for what it could not read), no system call it
    makes takes longer than timeout + 2 s, and the whole run does not add
    up a timeout per message: after the first call finds the server gone,
    the others fail at once until the next try is due."""
    o = outage
    argv = {"grep": ["grep", "-rl", "Hello", o.path("INBOX")],
            "tar": ["tar", "-cf", str(tmp_path / "inbox.tar"), "-C", o.path(), "INBOX"]}[tool]
    log = tmp_path / "strace.log"
    o.proxy.blackhole(new="drop")
    step = sh("strace", "-f", "-T", "-o", str(log), "-e", "trace=openat,read,newfstatat",
              *argv)
    o.proxy.link_back()
    secs, line = slowest_call(log.read_text())
    print(tool, step, "slowest call %.2f s: %s" % (secs, line))
    assert step.rc != 0 and "Input/output error" in step.err, step
    assert secs <= LIMIT, (line, o.m.stderr()[-3000:])
    assert step.secs <= 2 * LIMIT, (step, o.m.stderr()[-3000:])
