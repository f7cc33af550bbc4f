#!/usr/bin/python3
"""Benchmark for issue 17 (fast when the server is far away): inboxfs and its
anchors through one delay proxy (tests/lib/delayproxy.py: RTT/2 each way, no
bandwidth cap), at each round trip of --rtt, all in the same run.

    /usr/bin/python3 tests/bench/bench_far.py [--rtt 0,30,100] [--runs 5]
        [--cat 10000] [--arrivals 20] [--arrival-size 60000] [--skip mbsync,grep]
        [--rows cat,ls,mount,arrival] [--bin build/inboxfs]
    quick: --cat 2000 --runs 2 --arrivals 6

Rows (best and median of --runs; verdicts on medians, at 30 and 100 ms):
  cat        `cat *.eml` of --cat x 5 KB, cold (mounted and listed first)
             vs raw `UID FETCH 1:* BODY.PEEK[]` (one command, after EXAMINE):
             >= 70 %, and vs mbsync's full sync of the folder, FSync no: >= 2x;
             beside it `cat *.eml` of as many files on tmpfs (cat's own cost
             here), and the raw fetch followed by that cat (their rates
             combined: what a cold read costs done in two steps)
  ls cold    `ls -l` of that folder just mounted (-o watch=none) vs raw EXAMINE +
             `UID FETCH 1:* (UID RFC822.SIZE INTERNALDATE)` + tmpfs `ls -l` of as
             many files: <= 1.1 x (raw + tmpfs) + 1 RTT
  ls warm    `ls -l` again with the folder watched (-o watch=FOLDER), the watcher
             idle, by default (one NOOP) and with -o list_from_watch=yes: no byte
             sent to the server (no round trip) and <= 2x tmpfs `ls -l`
  mount      exec of inboxfs to mounted (polled each ms) and the root listed vs
             raw TCP + TLS + LOGIN + LIST: <= raw + 1 RTT
  arrival    APPEND by a client on the server's side (not through the proxy) to
             IN_CREATE (inotifywait) vs a raw IDLE client's EXISTS through the
             proxy: p50 <= raw p50 + 1 RTT + 20 ms; then IN_CREATE to the end of
             `cat` of the new message (--arrival-size) minus `cat` of as big a file
             on tmpfs: p50 <= 5 ms (no round trip)
  grep       `grep -rl` by 1 reader vs `xargs -P4 -n 250 grep -l` (4 readers),
             cold: >= 1.5x at 100 ms
  fuse_floor beside cat and grep: the same commands on tests/bench/fuse_floor.c,
             as many files of the same size served from memory by FUSE, with no
             network: what this kernel and libfuse allow any FUSE filesystem
At RTT 0 the raw fetch is also measured without the proxy: the proxy's own cost.
The machine's load (uptime) is printed with the table: on a shared machine the
figures are indicative.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import bench_mount as bm  # noqa: E402
import bench_scale as bs  # noqa: E402
import delayproxy  # noqa: E402
import dovecot  # noqa: E402
import imapraw  # noqa: E402
import inotify  # noqa: E402
import mailgen  # noqa: E402

GREP1 = "grep -rl Subject %s > /dev/null"
GREP4 = "cd %s && ls | xargs -P4 -n 250 grep -l Subject > /dev/null"


class Far:
    """A Dovecot seen through the proxy: what bench_mount's and bench_scale's
    helpers use of a Dovecot (url, raw, imaps_port ...), pointed at the proxy."""

    def __init__(self, dc, proxy):
        self.dc, self.proxy = dc, proxy
        self.imaps_port = proxy.port

    def __getattr__(self, name):
        return getattr(self.dc, name)

    def url(self, tls=True, user=None, host=None, port=None):
        return self.dc.url(user=user, host=host, port=port or self.proxy.port)

    def raw(self):
        c = imapraw.RawIMAP.connect(self.dc.host, self.proxy.port, cafile=self.dc.cafile)
        c.login(self.dc.user, self.dc.password)
        return c


def raw_fetch_all(dc, folder):
    """(seconds, bytes) of one `UID FETCH 1:* BODY.PEEK[]` after EXAMINE."""
    c = dc.raw()
    try:
        c.select(folder, readonly=True)
        t = time.perf_counter()
        _, total = c.uid_fetch_pipelined(["1:*"], collect=False)
        return time.perf_counter() - t, total
    finally:
        c.logout()


def raw_login_list(far):
    """Seconds to connect, TLS, LOGIN and LIST, as a plain client does."""
    t = time.perf_counter()
    c = far.raw()
    c.check(c.command('LIST "" "*"'))
    secs = time.perf_counter() - t
    c.logout()
    return secs


def settle(proxy, quiet):
    """Wait until nothing crossed the proxy for `quiet` seconds (at most 30 s):
    a mount's background work (watcher login, IDLE) is done."""
    deadline = time.monotonic() + 30
    last, since = proxy.stats(), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        time.sleep(0.01)
        now = proxy.stats()
        if now != last:
            last, since = now, time.monotonic()


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class HangReport:
    """A bench_mount.Mount whose unmount, when inboxfs does not exit, prints
    its log and its threads' stacks (gdb) before failing the run."""

    def __init__(self, m):
        self.m = m

    def __enter__(self):
        return self.m

    def __exit__(self, *exc):
        try:
            self.m.close()
        except subprocess.TimeoutExpired:
            pid = self.m.proc.pid
            print("inboxfs still running 20 s after fusermount3 -u; still mounted: %s"
                  % self.m.mounted(), file=sys.stderr)
            subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt"],
                           stdout=sys.stderr, stderr=subprocess.DEVNULL)
            self.m.proc.kill()
            print(self.m.proc.communicate()[1].decode(errors="replace"), file=sys.stderr)
            subprocess.run(["fusermount3", "-uz", self.m.mnt], stderr=subprocess.DEVNULL)
            raise


class Bench:
    def __init__(self, args, dc, proxy):
        self.args, self.dc, self.proxy = args, dc, proxy
        self.far = Far(dc, proxy)
        self.binary = os.path.abspath(args.bin)
        self.work = tempfile.mkdtemp(prefix="ibxfar-", dir="/tmp")
        self.shm = tempfile.mkdtemp(prefix="ibxfar-", dir="/dev/shm")
        self.mnt = os.path.join(self.work, "mnt")
        os.mkdir(self.mnt)
        self.folder = "F%d" % args.cat
        self.rows, self.verdicts = [], []
        self.rtt = 0

    def row(self, label, values, extra="", best=min):
        self.rows.append(bm.fmt_row(label, best(values), statistics.median(values), extra))

    def verdict(self, name, ok, detail):
        if self.rtt:  # RTT 0 is the reference, not a goal
            self.verdicts.append(("%-22s %3d ms" % (name, self.rtt), ok, detail))

    def mount(self, options="", poll=0.01):
        return HangReport(bm.Mount(self.binary, self.far, self.mnt, options=options, poll=poll))

    def section(self, rtt):
        self.rtt = rtt
        self.proxy.set_rtt(rtt)
        self.rows.append("--- RTT %d ms (load %s)" % (rtt, load()))
        rows = self.args.rows.split(",")
        if rtt == 0 and "cat" in rows:
            self.proxy_cost()
        for name, fn in (("cat", self.reading), ("ls", self.listing), ("mount", self.mounting),
                         ("arrival", self.arrivals)):
            if name in rows:
                fn()

    # ---- the proxy's own cost
    def proxy_cost(self):
        direct, proxied = [], []
        for _ in range(self.args.runs):
            secs, total = raw_fetch_all(self.dc, self.folder)
            direct.append(total / secs / 1e6)
            secs, total = raw_fetch_all(self.far, self.folder)
            proxied.append(total / secs / 1e6)
        self.row("raw FETCH 1:* direct, no proxy (MB/s)", direct, best=max)
        self.row("raw FETCH 1:* through the proxy (MB/s)", proxied,
                 "%.0f%% of direct" % (100 * statistics.median(proxied)
                                       / statistics.median(direct)), best=max)

    # ---- cat and grep
    def cold(self, cmd):
        """Seconds of cmd (with %s: the folder) on a fresh mount, listed first."""
        with self.mount("watch=none"):
            d = os.path.join(self.mnt, self.folder)
            os.listdir(d)
            return bm.timed(lambda: bm.run_shell(cmd % d))

    def tmpfs_copy(self, total):
        """A directory on tmpfs with as many files of the same mean size."""
        d = os.path.join(self.shm, "cat-%d" % self.args.cat)
        if not os.path.isdir(d):
            os.makedirs(d)
            body = b"x" * (total // self.args.cat)
            for i in range(1, self.args.cat + 1):
                with open(os.path.join(d, "%d.eml" % i), "wb") as f:
                    f.write(body)
        return d

    def floor(self, cmd, total):
        """MB/s of cmd (with %s: the folder) on a fresh mount of fuse_floor,
        as many files of the same mean size: what FUSE alone allows."""
        d = os.path.join(self.work, "floor")
        os.makedirs(d, exist_ok=True)
        proc = subprocess.Popen([self.args.floor, d, str(self.args.cat),
                                 str(total // self.args.cat)])
        try:
            deadline = time.monotonic() + 10
            while not os.path.ismount(d) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert os.path.ismount(d), "fuse_floor did not mount"
            os.listdir(d)
            return total / bm.timed(lambda: bm.run_shell(cmd % d)) / 1e6
        finally:
            subprocess.run(["fusermount3", "-u", d], stderr=subprocess.DEVNULL)
            proc.wait(timeout=20)

    def reading(self):
        rates = {k: [] for k in ("raw", "cat", "mb", "one", "four", "tmp", "fcat",
                                 "fone", "ffour")}
        for _ in range(self.args.runs):
            secs, total = raw_fetch_all(self.far, self.folder)
            rates["raw"].append(total / secs / 1e6)
            d = self.tmpfs_copy(total)
            rates["tmp"].append(total / bm.timed(
                lambda: bm.run_shell("cd %s && cat *.eml > /dev/null" % d)) / 1e6)
            rates["cat"].append(total / self.cold("cd %s && cat *.eml > /dev/null") / 1e6)
            rates["fcat"].append(self.floor("cd %s && cat *.eml > /dev/null", total))
            if "mbsync" not in self.args.skip:
                secs, files = bs.mbsync_full(self.far, self.folder, self.work)
                assert files == self.args.cat, "mbsync fetched %d" % files
                rates["mb"].append(total / secs / 1e6)
            if "grep" not in self.args.skip:
                rates["one"].append(total / self.cold(GREP1) / 1e6)
                rates["four"].append(total / self.cold(GREP4) / 1e6)
                rates["fone"].append(self.floor(GREP1, total))
                rates["ffour"].append(self.floor(GREP4, total))
        self.report_reading(rates)

    def report_reading(self, rates):
        raw, cat, mb, one, four, tmp = (rates[k] for k in ("raw", "cat", "mb", "one", "four",
                                                            "tmp"))
        med = statistics.median
        self.row("raw UID FETCH 1:* BODY.PEEK[] (MB/s)", raw, best=max)
        # cat's own cost on this machine bounds any filesystem's cat *.eml
        self.row("tmpfs cat *.eml, as many files (MB/s)", tmp, best=max)
        # ... and FUSE's own cost bounds any FUSE filesystem's
        self.row("fuse_floor cat *.eml, memory (MB/s)", rates["fcat"],
                 "%.0f%% of raw" % (100 * med(rates["fcat"]) / med(raw)), best=max)
        r = med(cat) / med(raw)
        extra = "%.0f%% of raw (>= 70%%)" % (100 * r)
        if mb:
            self.row("mbsync full sync, FSync no (MB/s)", mb, best=max)
            rm = med(cat) / med(mb)
            extra += ", %.1fx mbsync (>= 2x)" % rm
            self.verdict("cat vs mbsync", rm >= 2, "%.1fx" % rm)
        two_step = 1 / (1 / med(raw) + 1 / med(tmp))
        extra += "; %.0f%% of raw-then-tmpfs-cat %.1f" % (100 * med(cat) / two_step, two_step)
        self.row("inboxfs cat *.eml cold (MB/s)", cat, extra, best=max)
        self.verdict("cat vs raw", r >= 0.7, "%.0f%%; fuse_floor %.0f%%, inboxfs %.0f%% of it" % (
            100 * r, 100 * med(rates["fcat"]) / med(raw), 100 * med(cat) / med(rates["fcat"])))
        if one:
            self.row("inboxfs grep -rl, 1 reader (MB/s)", one, best=max)
            r = med(four) / med(one)
            self.row("inboxfs grep -l, 4 readers (MB/s)", four,
                     "%.2fx 1 reader (>= 1.5x at 100 ms)" % r, best=max)
            fr = med(rates["ffour"]) / med(rates["fone"])
            self.row("fuse_floor grep -l, 4 readers (MB/s)", rates["ffour"],
                     "%.2fx its 1 reader (%.1f MB/s)" % (fr, med(rates["fone"])), best=max)
            if self.rtt == 100:
                self.verdict("grep 4 vs 1 reader", r >= 1.5, "%.2fx; fuse_floor %.2fx" % (r, fr))

    # ---- listing
    def listing(self):
        n = self.args.cat
        tdir = bm.tmpfs_ls(n, self.shm)
        out = os.path.join(self.shm, "listing")
        raw, tmp, cold = [], [], []
        for _ in range(self.args.runs):
            secs, got = bm.raw_meta(self.far, self.folder)
            assert got == n, "raw client saw %d of %d" % (got, n)
            raw.append(secs)
            tmp.append(bm.timed(lambda: bm.run_shell("ls -l %s > %s" % (tdir, out))))
            with self.mount("watch=none"):
                d = os.path.join(self.mnt, self.folder)
                cold.append(bm.timed(lambda: bm.run_shell("ls -l %s > %s" % (d, out))))
            with open(out, "rb") as f:
                assert f.read().count(b".eml") == n, "inboxfs listed the wrong count"
        med = statistics.median
        self.row("raw EXAMINE + UID FETCH meta, %d (s)" % n, raw)
        self.row("tmpfs ls -l, %d files (s)" % n, tmp)
        limit = 1.1 * (med(raw) + med(tmp)) + self.rtt / 1000
        self.row("inboxfs cold ls -l, %d msgs (s)" % n, cold,
                 "limit 1.1 x (raw + tmpfs) + 1 RTT = %.3f s" % limit)
        self.verdict("cold ls -l", med(cold) <= limit, "%.3f s vs %.3f" % (med(cold), limit))
        self.warm_listing(tdir, tmp)

    def warm_listing(self, tdir, tmp):
        """Twice: by default (a listing asks with one NOOP) and with
        -o list_from_watch (the goal's row: no round trip)."""
        for opts, goal in (("", False), (",list_from_watch=yes", True)):
            warm, sent = self.warm_runs(opts)
            r = statistics.median(warm) / statistics.median(tmp)
            self.row("inboxfs warm ls -l, watched%s (s)" % (
                ", list_from_watch" if goal else ""), warm,
                     "%.2fx tmpfs (<= 2x); bytes to the server (0): %s" % (
                         r, ",".join(map(str, sent))))
            if goal:
                self.verdict("warm ls -l", r <= 2 and not any(sent),
                             "%.2fx tmpfs, %d bytes sent" % (r, statistics.median(sent)))

    def warm_runs(self, opts):
        out = os.path.join(self.shm, "listing")
        warm, sent = [], []
        with self.mount("watch=" + self.folder + opts):
            d = os.path.join(self.mnt, self.folder)
            bm.run_shell("ls -l %s > %s" % (d, out))
            settle(self.proxy, 0.2 + 3 * self.rtt / 1000)
            for _ in range(self.args.runs):
                before = self.proxy.stats()
                warm.append(bm.timed(lambda: bm.run_shell("ls -l %s > %s" % (d, out))))
                sent.append((self.proxy.stats() - before).up)
        return warm, sent

    # ---- mounting
    def mounting(self):
        raw, fs = [], []
        for _ in range(self.args.runs):
            raw.append(raw_login_list(self.far))
            t = time.perf_counter()
            with self.mount(poll=0.001):
                os.listdir(self.mnt)
                fs.append(time.perf_counter() - t)
        med = statistics.median
        limit = med(raw) + self.rtt / 1000
        self.row("raw connect + TLS + LOGIN + LIST (s)", raw)
        self.row("inboxfs exec to mounted + ls / (s)", fs,
                 "limit raw + 1 RTT = %.3f s" % limit)
        self.verdict("mount", med(fs) <= limit, "%.3f s vs %.3f" % (med(fs), limit))

    # ---- arrivals
    def arrivals(self):
        raw, fs, cat, floor = self.arrival_runs()
        rp, fp = bm.pct(raw, 50), bm.pct(fs, 50)
        limit = rp + self.rtt + 20
        self.rows.append("%-44s %10s %10s" % ("arrival, %d appends (ms)" % len(raw), "p50", "p99"))
        self.rows.append(bm.fmt_row("raw IDLE client: APPEND to EXISTS", rp, bm.pct(raw, 99)))
        self.rows.append(bm.fmt_row("inboxfs: APPEND to IN_CREATE", fp, bm.pct(fs, 99),
                                    "limit raw + 1 RTT + 20 ms = %.0f" % limit))
        self.verdict("APPEND to IN_CREATE", fp <= limit, "%.0f ms vs %.0f" % (fp, limit))
        self.rows.append(bm.fmt_row("cat of a file on tmpfs, same size", bm.pct(floor, 50),
                                    bm.pct(floor, 99)))
        extra = bm.pct(cat, 50) - bm.pct(floor, 50)
        fails = "; cat failed %d times first" % self.cat_failures if self.cat_failures else ""
        self.rows.append(bm.fmt_row("inboxfs: IN_CREATE to cat's last byte", bm.pct(cat, 50),
                                    bm.pct(cat, 99), "+%.1f ms over tmpfs (<= 5)%s" % (
                                        extra, fails)))
        self.verdict("IN_CREATE to cat", extra <= 5 and not self.cat_failures,
                     "+%.1f ms%s" % (extra, fails))

    def arrival_runs(self):
        """APPEND one message at a time on the server's side; for each, ms to a
        raw IDLE client's EXISTS and to IN_CREATE, then ms from IN_CREATE to
        the end of `cat`, and of `cat` of a tmpfs file of the same size."""
        appender = self.dc.raw()
        exists = appender.select("INBOX").get("EXISTS", 0)
        idler = bm.RawIdler(self.far)
        raw, fs, cat, floor = [], [], [], []
        self.cat_failures = 0
        with self.mount():
            inbox = os.path.join(self.mnt, "INBOX")
            os.listdir(inbox)
            w = inotify.Inotify(inbox, events=("create",)).start()
            settle(self.proxy, 0.2 + 3 * self.rtt / 1000)
            try:
                for msg in mailgen.bulk(self.args.arrivals, start=700000 + 1000 * self.rtt,
                                        size_pad=self.args.arrival_size):
                    exists += 1
                    self.one_arrival(appender, idler, w, msg, exists, (raw, fs, cat, floor))
                    time.sleep(self.args.arrival_gap)  # pace the appends, as bench_mount
            finally:
                w.stop()
        idler.close()
        appender.logout()
        return raw, fs, cat, floor

    def one_arrival(self, appender, idler, w, msg, exists, out):
        raw, fs, cat, floor = out
        before = len(w.events)
        appender.append_many("INBOX", [msg])
        t0 = time.monotonic()
        assert w.wait_for(lambda evs: len(evs) > before, 10), "no IN_CREATE"
        ev = w.events[before]
        path = os.path.join(self.mnt, "INBOX", ev[1])
        deadline = time.monotonic() + 10
        while subprocess.run(["cat", path], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL).returncode != 0:
            self.cat_failures += 1  # counted, and tried again: the row says how often
            assert time.monotonic() < deadline, "cat %s keeps failing" % path
        cat.append((time.monotonic() - w.times[ev]) * 1000)
        fs.append((w.times[ev] - t0) * 1000)
        copy = os.path.join(self.shm, "arrival.eml")
        with open(copy, "wb") as f:
            f.write(msg[0])
        t = time.monotonic()
        subprocess.run(["cat", copy], check=True, stdout=subprocess.DEVNULL)
        floor.append((time.monotonic() - t) * 1000)
        deadline = time.monotonic() + 10
        while exists not in idler.seen and time.monotonic() < deadline:
            time.sleep(0.001)
        assert exists in idler.seen, "raw IDLE saw no EXISTS %d" % exists
        raw.append((idler.seen[exists] - t0) * 1000)

    def report(self):
        print("%-44s %10s %10s" % ("measure", "best", "median"))
        for r in self.rows:
            print(r)
        for name, ok, detail in self.verdicts:
            print("%-30s %-7s %s" % (name, "met" if ok else "MISSED", detail))

    def close(self):
        shutil.rmtree(self.work, ignore_errors=True)
        shutil.rmtree(self.shm, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rtt", default="0,30,100")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cat", type=int, default=10000)
    ap.add_argument("--arrivals", type=int, default=20)
    ap.add_argument("--arrival-size", type=int, default=60000)
    ap.add_argument("--arrival-gap", type=float, default=0.3)
    ap.add_argument("--rows", default="cat,ls,mount,arrival")
    ap.add_argument("--skip", default="")  # mbsync, grep: parts of the cat rows
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "..", "build", "inboxfs"))
    ap.add_argument("--floor", default=os.path.join(HERE, "..", "..", "build", "tests",
                                                    "fuse_floor"))
    args = ap.parse_args()
    with dovecot.Dovecot(tmpfs=True) as dc, \
            delayproxy.DelayProxy(("127.0.0.1", dc.imaps_port)) as proxy:
        t = bm.seed(dc, "F%d" % args.cat, args.cat, size_pad=5000)
        print("seeded %d x 5 KB in %.1f s" % (args.cat, t), file=sys.stderr)
        b = Bench(args, dc, proxy)
        try:
            for rtt in (int(x) for x in args.rtt.split(",") if x):
                b.section(rtt)
                print("RTT %d ms done" % rtt, file=sys.stderr)
        finally:
            b.close()
    b.report()


if __name__ == "__main__":
    main()
