#!/usr/bin/python3
"""Benchmark for issue 20 (the server's search as directories): inboxfs's
FOLDER/.search/QUERY/ beside a raw IMAP client and grep, all measured in
the same run on the same machine, against a private Dovecot on tmpfs.

    /usr/bin/python3 tests/bench/bench_search.py [--n 100000] [--runs 5]
        [--bin build/inboxfs] [--skip grep]

Rows (best and median of --runs):
  raw UID SEARCH BODY   an EXAMINEd raw client: UID SEARCH BODY "NEEDLE"
  ls .search/body:      `ls FOLDER/.search/body:NEEDLE/` on a mount that listed the folder
                        once (<= 1.2x raw + 10 ms: a NOOP and the search)
  grep -l, cold         `grep -l NEEDLE FOLDER/*.eml` on a fresh mount: every body
                        fetched, in the shell's order (the ls row must be >= 20x faster);
                        once, stopped after 25x the ls row (then the ratio is a bound)
Every 10 000th message holds NEEDLE; the messages are 5 KB.
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


def seed(dc, n):
    c = dc.raw()
    c.create(FOLDER)
    t = time.perf_counter()
    c.append_many(FOLDER, corpus(n), batch=1000)
    c.logout()
    return time.perf_counter() - t


def raw_search(dc):
    """Seconds for UID SEARCH BODY on a connection with FOLDER examined, and
    how many it found."""
    c = dc.raw()
    try:
        c.select(FOLDER, readonly=True)
        t = time.perf_counter()
        r = c.check(c.command('UID SEARCH BODY "NEEDLE"'))
        secs = time.perf_counter() - t
        found = sum(len(line[0].split()) - 2 for line in r.untagged
                    if line[0].startswith(b"* SEARCH"))
        return secs, found
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


def show(n, label, values):
    print(bm.fmt_row("%s (%d msgs)" % (label, n), min(values), statistics.median(values)),
          flush=True)


def run(args, mnt, want):
    with dovecot.Dovecot(tmpfs=True) as dc:
        print("seeded %d messages in %.1f s" % (args.n, seed(dc, args.n)), file=sys.stderr)
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
                     secs >= 20 * statistics.median(ls)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--skip", default="")
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "..", "build", "inboxfs"))
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ibxsearch-", dir="/tmp")
    mnt = os.path.join(work, "mnt")
    os.mkdir(mnt)
    want = (args.n + EVERY - 1) // EVERY
    try:
        run(args, mnt, want)
    finally:
        shutil.rmtree(work, ignore_errors=True)

if __name__ == "__main__":
    main()
