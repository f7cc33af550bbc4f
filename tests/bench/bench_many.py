#!/usr/bin/python3
"""Benchmark for issue 21 (many folders, few connections), acceptance 1:
Dovecot with --folders (200) folders and its default connection cap (10),
inboxfs with -o watch=all (NOTIFY: every folder on one connection).  For
--n (30) random folders in turn, one message is appended; the time from
APPEND's tagged OK to a raw client's EXISTS (in IDLE on that very folder,
the anchor) and to inotifywait's IN_CREATE through the mount, both in the
same run; and to a raw client's NOTIFY STATUS line (the server's own
NOTIFY latency).  Prints best, median (p50) and p90 of each, the connections open
at the end (counted at a proxy: at most max_connections, 8), and whether
p50 <= raw p50 + 20 ms.

    /usr/bin/python3 tests/bench/bench_many.py [--folders 200] [--n 30]
        [--bin build/inboxfs]
"""

import argparse
import os
import random
import re
import threading
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import bench_mount as bm  # noqa: E402
import dovecot  # noqa: E402
import faultproxy  # noqa: E402
import inotify  # noqa: E402
import mailgen  # noqa: E402

CAP_10 = "protocol imap {\n  mail_max_userip_connections = 10\n}"


def seed(dc, names):
    c = dc.raw()
    for name in names:
        c.create(name)
        c.append_many(name, mailgen.bulk(1))
    c.logout()


def all_notified(mnt, names):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with open(os.path.join(mnt, ".inboxfs", "status")) as f:
            text = f.read()
        if all("watch %s: notified (NOTIFY)" % n in text for n in names):
            return text
        time.sleep(0.05)
    raise AssertionError("not every folder is notified:\n" + text)


class RawNotifier:
    """A raw client with NOTIFY SET STATUS (personal (MessageNew)) in IDLE,
    noting when each folder's STATUS line arrives: the server's own NOTIFY
    latency, beside its IDLE's."""

    def __init__(self, dc):
        self.c = bm.raw_client(dc)
        self.c.sock.settimeout(None)
        self.c.send(b"N1 NOTIFY SET (personal (MessageNew MessageExpunge))\r\n")
        while not self.c.read_line().startswith(b"N1 "):
            pass
        self.c.send(b"I1 IDLE\r\n")
        assert self.c.read_line().startswith(b"+")
        self.seen = {}   # (folder, MESSAGES) -> time
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            try:
                line = self.c.read_line()
            except Exception:
                return
            m = re.match(rb'\* STATUS "?([^" ]+)"? \(.*MESSAGES (\d+)', line)
            if m:
                self.seen.setdefault((m.group(1).decode(), int(m.group(2))), time.monotonic())

    def close(self):
        try:
            self.c.sock.shutdown(2)
        except OSError:
            pass


def waited(seen, key):
    deadline = time.monotonic() + 10
    while key not in seen and time.monotonic() < deadline:
        time.sleep(0.001)
    assert key in seen, "no word of %r" % (key,)
    return seen[key]


def one(dc, appender, notifier, mnt, name, start):
    """(raw IDLE ms, raw NOTIFY ms, inboxfs ms) for one message appended to name."""
    idler = bm.RawIdler(dc, name)
    w = inotify.Inotify(os.path.join(mnt, name), events=("create",)).start()
    try:
        exists = appender.select(name).get("EXISTS", 0) + 1
        appender.append_many(name, list(mailgen.bulk(1, start=start)))
        t0 = time.monotonic()
        assert w.wait_for(lambda evs: len(evs) > 0, 10), "no IN_CREATE in " + name
        return ((waited(idler.seen, exists) - t0) * 1000,
                (waited(notifier.seen, (name, exists)) - t0) * 1000,
                (w.times[w.events[0]] - t0) * 1000)
    finally:
        w.stop()
        idler.close()


def show(label, values):
    print(bm.fmt_row(label, min(values), statistics.median(values),
                     "p90 %.1f" % bm.pct(values, 90)), flush=True)


def run(args, mnt):
    names = ["F%03d" % i for i in range(args.folders)]
    with dovecot.Dovecot(tmpfs=True, extra_config=[CAP_10]) as dc:
        seed(dc, names)
        proxy = faultproxy.FaultProxy(("127.0.0.1", dc.imaps_port)).start()
        raw, rawn, fs = [], [], []
        try:
            with bm.Mount(os.path.abspath(args.bin), dc, mnt, options="watch=all",
                          port=proxy.port):
                all_notified(mnt, ["INBOX"] + names)
                appender = bm.raw_client(dc)
                notifier = RawNotifier(dc)
                for i, name in enumerate(random.Random(21).sample(names, args.n)):
                    r, n, f = one(dc, appender, notifier, mnt, name, 700000 + i)
                    raw.append(r)
                    rawn.append(n)
                    fs.append(f)
                notifier.close()
                appender.logout()
                with open(os.path.join(mnt, ".inboxfs", "status")) as f:
                    opened = [l for l in f if l.startswith("connections_open")]
        finally:
            proxy.stop()
        print("%d folders, watch=all, %d appends (ms)            best     median" %
              (args.folders + 1, args.n))
        show("raw IDLE client: APPEND OK -> EXISTS", raw)
        show("raw NOTIFY client: APPEND OK -> STATUS", rawn)
        show("inboxfs (NOTIFY): APPEND OK -> IN_CREATE", fs)
        print("".join(opened).strip(), "; peak at the proxy %d" % proxy.peak)
        bound = statistics.median(raw) + 20
        print("p50 %.1f ms <= raw p50 + 20 ms (%.1f): %s"
              % (statistics.median(fs), bound, statistics.median(fs) <= bound))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--folders", type=int, default=200)
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "..", "build", "inboxfs"))
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ibxmany-", dir="/tmp")
    mnt = os.path.join(work, "mnt")
    os.mkdir(mnt)
    try:
        run(args, mnt)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
