#!/usr/bin/python3
"""Benchmark for issue 20 (the server's search as directories): inboxfs's
FOLDER/.search/QUERY/ beside a raw IMAP client and grep, all measured in
the same run on the same machine, against a private Dovecot on tmpfs.

    /usr/bin/python3 tests/bench/bench_search.py [--n 100000] [--runs 5]
        [--bin build/inboxfs] [--skip grep,root] [--folders 50]

Rows (best and median of --runs):
  raw UID SEARCH BODY   an EXAMINEd raw client: UID SEARCH BODY "NEEDLE"
  ls .search/body:      `ls FOLDER/.search/body:NEEDLE/` on a mount that listed the folder
                        once (<= 1.2x raw + 10 ms: a NOOP and the search)
  grep -l, cold         `grep -l NEEDLE FOLDER/*.eml` on a fresh mount: every body
                        fetched, in the shell's order (the ls row must be >= 20x faster);
                        once, stopped after 25x the ls row (then the ratio is a bound)
  root: slowest folder  --folders F (50): FOLDER and F-1 more folders of N/5/i messages
                        (i = 1..F-1: sizes fall as in real mailboxes, the biggest
                        first); the slowest of the F `ls F/.search/body:NEEDLE/`
                        (median of --runs each), on a mount that listed each folder once
  root: ls .search      `ls .search/body:NEEDLE/` at the root: every folder searched
                        (<= 1.5x the slowest folder's), with raw anchors: one client
                        searching every folder in turn, and the slowest folder's raw search
Every 10 000th message holds NEEDLE (and the first of each folder); the messages are 5 KB.
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
import dovecot  # noqa: E402
import mailgen  # noqa: E402

FOLDER = "S"
EVERY = 10000


def corpus(n):
    """bulk(n) 5 KB messages, every EVERY-th with NEEDLE in its body."""
    for i, (body, flags, epoch, tz) in enumerate(mailgen.bulk(n, size_pad=5000)):
        if i % EVERY == 0:
            body = body.replace(b"\r\n\r\n", b"\r\n\r\nNEEDLE here\r\n", 1)
        yield body, flags, epoch, tz


def others(n, folders):
    """The other folders of the root search: (name, size), biggest first."""
    return [("R%02d" % i, max(1, n // 5 // i)) for i in range(1, folders)]


def seed(dc, n, extra=()):
    c = dc.raw()
    t = time.perf_counter()
    for name, size in [(FOLDER, n)] + list(extra):
        c.create(name)
        c.append_many(name, corpus(size), batch=1000)
    c.logout()
    return time.perf_counter() - t


def search_in(c, folder):
    """Seconds for UID SEARCH BODY in folder on raw client c, and how many it found."""
    c.select(folder, readonly=True)
    t = time.perf_counter()
    r = c.check(c.command('UID SEARCH BODY "NEEDLE"'))
    secs = time.perf_counter() - t
    found = sum(len(line[0].split()) - 2 for line in r.untagged
                if line[0].startswith(b"* SEARCH"))
    return secs, found


def raw_search(dc, folder=FOLDER):
    """Seconds for UID SEARCH BODY on a connection with folder examined, and
    how many it found."""
    c = dc.raw()
    try:
        return search_in(c, folder)
    finally:
        c.logout()


def raw_search_all(dc, names):
    """Seconds for one raw client to search every folder of names in turn
    (each SELECT included), and how many it found."""
    c = dc.raw()
    try:
        t = time.perf_counter()
        found = sum(search_in(c, name)[1] for name in names)
        return time.perf_counter() - t, found
    finally:
        c.logout()


def grep_cold(folder, want, limit):
    """`grep -l NEEDLE *.eml` in folder: seconds, and whether it finished
    within limit (stopped there otherwise: the ratio is then a lower bound)."""
    t = time.perf_counter()
    p = subprocess.Popen("cd %s && exec grep -l NEEDLE -- *.eml" % folder, shell=True,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        out, _ = p.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        return time.perf_counter() - t, False
    assert len(out.split()) == want, out[:200]
    return time.perf_counter() - t, True


def timed_ls(path):
    t = time.perf_counter()
    names = os.listdir(path)
    return time.perf_counter() - t, len(names)


def show(n, label, values, unit="msgs"):
    print(bm.fmt_row("%s (%d %s)" % (label, n, unit), min(values), statistics.median(values)),
          flush=True)


def hits(n):
    return (n + EVERY - 1) // EVERY


def count_tree(path):
    return sum(len(files) for _, _, files in os.walk(path))


def root_rows(args, dc, mnt):
    """The root search over every folder beside the slowest folder's own."""
    names = [FOLDER] + [name for name, _ in others(args.n, args.folders)]
    want = hits(args.n) + sum(hits(size) for _, size in others(args.n, args.folders))
    single = {name: [] for name in names}
    root, raw_all, raw_big = [], [], []
    with bm.Mount(os.path.abspath(args.bin), dc, mnt, options="watch=none"):
        for name in names:
            os.listdir(os.path.join(mnt, name))  # each folder's index, as a user's ls
        query = os.path.join(mnt, ".search", "body:NEEDLE")
        for _ in range(args.runs):
            for name in names:
                single[name].append(timed_ls(os.path.join(mnt, name, ".search",
                                                          "body:NEEDLE"))[0])
            t = time.perf_counter()
            os.listdir(query)  # the root's opendir runs every folder's search
            root.append(time.perf_counter() - t)
            if len(root) == 1:  # (each folder's directory searches it again)
                assert count_tree(query) == want, (count_tree(query), want)
            raw_all.append(raw_search_all(dc, names)[0])
            raw_big.append(raw_search(dc)[0])
    slowest = max(names, key=lambda name: statistics.median(single[name]))
    show(args.n, "raw UID SEARCH BODY, %s" % slowest, raw_big)
    show(len(names), "raw: every folder in turn", raw_all, "folders")
    show(args.n, "ls %s/.search (slowest folder)" % slowest, single[slowest])
    show(len(names), "ls .search/body:NEEDLE (root)", root, "folders")
    bound = 1.5 * statistics.median(single[slowest])
    print("root median %.3f s <= 1.5 x slowest folder's (%.3f s): %s"
          % (statistics.median(root), bound, statistics.median(root) <= bound), flush=True)


def run(args, mnt, want):
    extra = others(args.n, args.folders) if "root" not in args.skip else []
    with dovecot.Dovecot(tmpfs=True) as dc:
        print("seeded %d messages in %.1f s" % (args.n + sum(s for _, s in extra),
                                               seed(dc, args.n, extra)), file=sys.stderr)
        raw, ls = [], []
        with bm.Mount(os.path.abspath(args.bin), dc, mnt, options="watch=none"):
            os.listdir(os.path.join(mnt, FOLDER))  # the folder's index, as a user's ls
            query = os.path.join(mnt, FOLDER, ".search", "body:NEEDLE")
            for _ in range(args.runs):
                secs, found = raw_search(dc)
                assert found == want, (found, want)
                raw.append(secs)
                secs, found = timed_ls(query)
                assert found == want, (found, want)
                ls.append(secs)
        show(args.n, "raw UID SEARCH BODY", raw)
        show(args.n, "ls .search/body:NEEDLE", ls)
        bound = 1.2 * statistics.median(raw) + 0.010
        print("ls .search median %.3f s <= 1.2 x raw + 10 ms (%.3f s): %s"
              % (statistics.median(ls), bound, statistics.median(ls) <= bound), flush=True)
        if "grep" not in args.skip:
            limit = 25 * statistics.median(ls) + 5
            with bm.Mount(os.path.abspath(args.bin), dc, mnt, options="watch=none"):
                secs, done = grep_cold(os.path.join(mnt, FOLDER), want, limit)
            show(args.n, "grep -l, cold mount" + ("" if done else " (stopped)"), [secs])
            print("grep / ls .search %s %.1fx (>= 20x): %s"
                  % ("=" if done else ">", secs / statistics.median(ls),
                     secs >= 20 * statistics.median(ls)), flush=True)
        if extra:
            root_rows(args, dc, mnt)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--skip", default="", help="grep,root: rows to leave out")
    ap.add_argument("--folders", type=int, default=50)
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "..", "build", "inboxfs"))
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ibxsearch-", dir="/tmp")
    mnt = os.path.join(work, "mnt")
    os.mkdir(mnt)
    want = hits(args.n)
    try:
        run(args, mnt, want)
    finally:
        shutil.rmtree(work, ignore_errors=True)

if __name__ == "__main__":
    main()
