#!/usr/bin/python3
"""Does COMPRESS=DEFLATE (-o compress=yes) pay?  Measured on loopback and on
a slow link (a proxy that adds latency and limits the rate), with and
without compression, in one run:

    /usr/bin/python3 tests/bench/bench_compress.py [--n 5000] [--runs 3]
        [--delay-ms 10] [--rate-mbit 20] [--bin build/inboxfs]

Rows: cold `ls -l` of N messages and cold `cat *.eml` of N messages of
about 5 KB of text (words, as mail is: compresses about 3:1), best and median.
The slow link is a user-space proxy (this kernel has no netem).  Dovecot
gets imap_zlib for COMPRESS=DEFLATE.
"""

import argparse
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import bench_mount as bm  # noqa: E402
import dovecot  # noqa: E402
import mailgen  # noqa: E402

WORDS = ("the of and to in is you that it he was for on are as with his they at be this "
         "have from or one had by word but not what all were we when your can said there "
         "use an each which she do how their if will up other about out many then them "
         "these so some her would make like him into time has look two more write go see "
         "number no way could people my than first water been call who oil its now find "
         "long down day did get come made may part invoice order shipment delivery meeting "
         "schedule report attached please regards thanks tomorrow").split()


def text_messages(n, size=5000, seed=7):
    rnd = random.Random(seed)
    for i in range(n):
        words, length = [], 0
        while length < size:
            w = rnd.choice(WORDS)
            words.append(w)
            length += len(w) + 1
        lines = [" ".join(words[k:k + 12]) for k in range(0, len(words), 12)]
        body = "\r\n".join(lines) + "\r\n"
        epoch = mailgen.BASE_EPOCH + i * 61
        yield (mailgen.simple_message(i, epoch=epoch, body=body), [], epoch)


class SlowLink:
    """A TCP proxy that delivers each direction at `rate` bytes per second
    and `delay` seconds late (chunks keep their order; the delay does not
    add up): a WAN link in user space.  The kernel here has no netem."""

    def __init__(self, upstream, rate, delay):
        self.upstream, self.rate, self.delay = upstream, rate, delay
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(64)
        self.port = self.ls.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            s = socket.create_connection(self.upstream)
            for a, b in ((c, s), (s, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src, dst):
        due = 0.0  # when the link is free again
        try:
            while True:
                data = src.recv(16384)
                if not data:
                    break
                now = time.monotonic()
                due = max(due, now) + len(data) / self.rate
                wait = due + self.delay - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for x in (src, dst):
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.ls.close()


def measure(binary, dc, mnt, folder, n, compress, runs, port=None):
    ls, cat = [], []
    total = None
    opts = "watch=none,compress=%s" % ("yes" if compress else "no")
    for _ in range(runs):
        with bm.Mount(binary, dc, mnt, options=opts, port=port):
            d = os.path.join(mnt, folder)
            ls.append(bm.timed(lambda: bm.run_shell("ls -l %s > /dev/null" % d)))
            if total is None:
                total = sum(os.stat(os.path.join(d, e)).st_size for e in os.listdir(d))
        with bm.Mount(binary, dc, mnt, options=opts, port=port):
            d = os.path.join(mnt, folder)
            os.listdir(d)
            cat.append(total / bm.timed(lambda: bm.run_shell("cd %s && cat *.eml > /dev/null"
                                                             % d)) / 1e6)
    assert total and total > n * 4000
    return ls, cat


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--delay-ms", type=int, default=10)
    ap.add_argument("--rate-mbit", type=int, default=20)
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "..", "build", "inboxfs"))
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    work = tempfile.mkdtemp(prefix="ibxz-", dir="/tmp")
    mnt = os.path.join(work, "mnt")
    os.mkdir(mnt)
    rows = []
    try:
        with dovecot.Dovecot(tmpfs=True, extra_config=[
                "protocol imap {\n  mail_plugins = $mail_plugins imap_zlib\n}"]) as dc:
            c = dc.raw()
            c.create("T")
            c.append_many("T", text_messages(args.n), batch=1000)
            c.logout()
            for link in ("loopback", "slow"):
                shaper = None
                if link == "slow":
                    shaper = SlowLink(("127.0.0.1", dc.imaps_port), args.rate_mbit * 125000,
                                      args.delay_ms / 1000.0)
                try:
                    for compress in (False, True):
                        ls, cat = measure(binary, dc, mnt, "T", args.n, compress, args.runs,
                                          port=shaper.port if shaper else None)
                        tag = "%s, compress=%s" % (link if link == "loopback" else
                                                   "%d ms, %d Mbit/s" % (args.delay_ms,
                                                                         args.rate_mbit),
                                                   "yes" if compress else "no")
                        rows.append(bm.fmt_row("ls -l %d, %s (s)" % (args.n, tag), min(ls),
                                               statistics.median(ls)))
                        rows.append(bm.fmt_row("cat *.eml, %s (MB/s)" % tag, max(cat),
                                               statistics.median(cat)))
                finally:
                    if shaper:
                        shaper.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%-44s %10s %10s" % ("measure", "best", "median"))
    for r in rows:
        print(r)


if __name__ == "__main__":
    main()
