"""Soak (issue 5): random ls/cat/mv/rm through the mount and appends by
another client, while faults are injected (silent links, cuts, Dovecot
killed and restarted).  At the end the server must match a model of what
should be there: no message lost or duplicated, every successful rm gone,
every successful mv in its target.  Bounded: INBOXFS_SOAK_SECONDS (60 by
default; CI's tests/run.sh sets it) and a fixed random seed per run,
printed so that a failure can be replayed with INBOXFS_SOAK_SEED."""

import errno
import os
import random
import re
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import dovecot as dovecot_mod  # noqa: E402
import faultproxy  # noqa: E402
import imapraw  # noqa: E402
import inboxfs as ifs  # noqa: E402
import mailgen  # noqa: E402

FOLDERS = ["INBOX", "Archive"]
MID = re.compile(rb"^Message-ID: *(<[^>]+>)", re.M | re.I)


def message_id(body):
    m = MID.search(body)
    return m.group(1).decode() if m else None


class Model:
    """Where each message (by Message-ID) may be.  A change that failed with
    an errno may or may not have happened: both outcomes are allowed."""

    def __init__(self):
        self.where = {}        # mid -> set of allowed folders (empty set: may be gone)
        self.must_exist = set()
        self.bodies = {}       # mid -> bytes

    def add(self, mid, folder, body):
        self.where[mid] = {folder}
        self.must_exist.add(mid)
        self.bodies[mid] = body

    def removed(self, mid, ok):
        if ok:
            self.where[mid] = set()
            self.must_exist.discard(mid)
        else:
            self.must_exist.discard(mid)  # may or may not be gone

    def moved(self, mid, src, dst, ok):
        self.where[mid] = {dst} if ok else {src, dst}


def server_state(dc):
    m = dc.connect()
    try:
        found = {}
        for folder in FOLDERS:
            for uid, body in imapraw.fetch_bodies(m, folder).items():
                found.setdefault(message_id(body), []).append(folder)
        return found
    finally:
        m.logout()


def test_soak(mount, tmp_path):
    seconds = float(os.environ.get("INBOXFS_SOAK_SECONDS", "60"))
    seed = int(os.environ.get("INBOXFS_SOAK_SEED", str(int(time.time()))))
    rnd = random.Random(seed)
    print("soak: %.0f s, seed %d" % (seconds, seed))
    dc = dovecot_mod.Dovecot()
    proxy = faultproxy.FaultProxy(("127.0.0.1", dc.imap_port)).start()
    model = Model()
    stats = {"ops": 0, "errors": 0, "faults": 0}
    counter = [0]

    def append(n):
        c = dc.raw()
        try:
            msgs = list(mailgen.bulk(n, start=10000 + counter[0]))
            counter[0] += n
            c.append_many("INBOX", msgs)
            for body, _flags, _epoch, _tz in msgs:
                body = body if isinstance(body, bytes) else body.encode()
                model.add(message_id(body), "INBOX", None)
        finally:
            c.logout()

    try:
        c = dc.raw()
        c.create("Archive")
        c.logout()
        append(20)
        pw = ifs.write_password_file(str(tmp_path), dc.password)
        m = mount(dc.url(tls=False, port=proxy.port),
                  options={"tls": "none", "password_file": pw, "timeout": 2,
                           "reconnect_max": 1, "idle_timeout": 3},
                  env=ifs.clean_env({"XDG_STATE_HOME": str(tmp_path / "state")}))

        def files(folder):
            return sorted(n for n in os.listdir(m.path(folder)) if n.endswith(".eml"))

        def pick():
            folder = rnd.choice(FOLDERS)
            names = files(folder)
            return (folder, rnd.choice(names)) if names else (None, None)

        def body_of(folder, name):
            with open(m.path(folder, name), "rb") as f:
                return f.read()

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            action = rnd.choices(["ls", "cat", "mv", "rm", "append", "fault"],
                                 [20, 30, 20, 10, 10, 3])[0]
            stats["ops"] += 1
            try:
                if action == "ls":
                    files(rnd.choice(FOLDERS))
                elif action == "cat":
                    folder, name = pick()
                    if name:
                        data = body_of(folder, name)
                        mid = message_id(data)
                        assert mid in model.where, "a file with unknown content: %r" % data[:200]
                elif action in ("mv", "rm"):
                    folder, name = pick()
                    if not name:
                        continue
                    mid = message_id(body_of(folder, name))
                    if action == "rm":
                        try:
                            os.unlink(m.path(folder, name))
                            model.removed(mid, True)
                        except OSError:
                            model.removed(mid, False)
                            raise
                    else:
                        dst = [f for f in FOLDERS if f != folder][0]
                        try:
                            os.rename(m.path(folder, name), m.path(dst, name))
                            model.moved(mid, folder, dst, True)
                        except OSError:
                            model.moved(mid, folder, dst, False)
                            raise
                elif action == "append":
                    append(rnd.randint(1, 5))
                else:
                    stats["faults"] += 1
                    fault = rnd.choice(["blackhole", "cut", "reset", "crash"])
                    if fault == "blackhole":
                        proxy.blackhole()
                    elif fault in ("cut", "reset"):
                        proxy.cut_after(rnd.randint(1, 4000), reset=fault == "reset")
                    else:
                        dc.crash()
                        dc.restart()
            except OSError as e:
                stats["errors"] += 1
                assert e.errno in (errno.EIO, errno.ENOENT, errno.EAGAIN), e
            assert m.running, "inboxfs died:\n" + m.stderr()
        # Let everything settle, then compare the server with the model.
        proxy.cut_after(10 ** 12)  # disarm
        found = server_state(dc)
        print("soak: %s" % stats)
        for mid, folders in found.items():
            assert len(folders) == 1, "%s is in %s: duplicated" % (mid, folders)
        for mid, allowed in model.where.items():
            at = found.get(mid, [None])[0]
            if mid in model.must_exist:
                assert at is not None, "%s was lost (allowed in %s)" % (mid, allowed)
            if at is not None:
                assert at in allowed, "%s is in %s, expected in %s" % (mid, at, allowed)
        assert set(found) <= set(model.where), "messages nobody made"
        assert stats["ops"] > 50 and stats["faults"] > 0
    finally:
        proxy.stop()
        dc.stop()
