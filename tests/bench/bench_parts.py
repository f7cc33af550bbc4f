#!/usr/bin/python3
"""Benchmark for issue 19 (acceptance 2): one attachment of a big message,
read through FOLDER/.parts, against a raw fetch of that part, both through
one proxy that counts the bytes (tests/lib/delayproxy.py), in one run:

    /usr/bin/python3 tests/bench/bench_parts.py [--runs 5] [--links 0:0,30:20,30:0]
        [--attachment-mb 1] [--message-mb 20] [--bin build/inboxfs]

The message: a text part, `report.bin` (--attachment-mb of random bytes,
base64) as part 2, and random filler as part 3 up to --message-mb on the
server.  Rows, one per link (round trip in ms : Mbit/s each way, 0: no cap):
  cp      `cp INBOX/.parts/1/2-report.bin .` on a fresh mount (cache_disk=none)
          whose INBOX was listed first: its time, and the bytes the server
          sent during it; verdict: <= 1.2 MB
  raw     `UID FETCH 1 BINARY.PEEK[2]` on a raw client, logged in and INBOX
          selected beforehand (the anchor), plus `cp` of a file as big on
          the local disk (the tool's own cost: starting cp, writing)
  ratio   cp / (raw + local cp), medians; verdict: <= 1.3
The raw fetch knows the section; the cp's lookup of 2-report.bin needs the
BODYSTRUCTURE and header to know the name, and gets the part in the same
command (its name gives the section), so both pay one round trip.  The
machine's load is printed with the table: on a shared machine the figures
are indicative.
"""

import argparse
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
import email.policy

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import bench_far as bf  # noqa: E402
import bench_mount as bm  # noqa: E402
import delayproxy  # noqa: E402
import dovecot  # noqa: E402

MB = 1 << 20


def big_message(attachment, filler_bytes):
    m = MIMEMultipart("mixed")
    m["Subject"] = "quarterly report"
    m["From"] = "reports@example.org"
    m.attach(MIMEText("The report is attached.\n"))
    a = MIMEApplication(attachment, "octet-stream")
    a.add_header("Content-Disposition", "attachment", filename="report.bin")
    m.attach(a)
    f = MIMEApplication(os.urandom(filler_bytes), "octet-stream")
    f.add_header("Content-Disposition", "attachment", filename="filler.bin")
    m.attach(f)
    return m.as_bytes(policy=email.policy.SMTP)


def seed(dc, attachment, message_mb):
    filler = int((message_mb * MB - len(attachment) * 4 / 3) * 3 / 4)
    raw = big_message(attachment, max(filler, 0))
    c = dc.raw()
    c.append_many("INBOX", [(raw, [], 1764842400)])
    c.logout()
    return len(raw)


def cp_once(binary, far, work, proxy, want):
    mnt = os.path.join(work, "mnt")
    os.makedirs(mnt, exist_ok=True)
    dest = os.path.join(work, "report.bin")
    with bm.Mount(binary, far, mnt, options="cache_disk=none,watch=none"):
        os.listdir(os.path.join(mnt, "INBOX"))
        s0 = proxy.stats()
        t = bm.timed(lambda: bm.run_shell("cp %s %s" % (
            os.path.join(mnt, "INBOX", ".parts", "1", "2-report.bin"), dest)))
        moved = proxy.stats().down - s0.down
    with open(dest, "rb") as f:
        if hashlib.sha256(f.read()).digest() != want:
            raise RuntimeError("the copied attachment differs from the one sent")
    os.unlink(dest)
    return t, moved


def raw_once(far, proxy, size):
    c = far.raw()
    try:
        c.select("INBOX", readonly=True)
        s0 = proxy.stats()
        t0 = time.perf_counter()
        r = c.check(c.command("UID FETCH 1 BINARY.PEEK[2]"))
        t = time.perf_counter() - t0
        moved = proxy.stats().down - s0.down
    finally:
        c.logout()
    got = [p for u in r.untagged for p in u[1::2]]
    if not got or len(got[0]) != size:
        raise RuntimeError("raw BINARY fetch gave %r bytes" % [len(g) for g in got])
    return t, moved


def local_cp(work, attachment):
    src, dest = os.path.join(work, "local.bin"), os.path.join(work, "copy.bin")
    with open(src, "wb") as f:
        f.write(attachment)
    t = bm.timed(lambda: bm.run_shell("cp %s %s" % (src, dest)))
    os.unlink(dest)
    return t


def median(v):
    return statistics.median(v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--links", default="0:0,30:20,30:0")
    ap.add_argument("--attachment-mb", type=float, default=1.0)
    ap.add_argument("--message-mb", type=float, default=20.0)
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "..", "build", "inboxfs"))
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    attachment = os.urandom(int(args.attachment_mb * MB))
    want = hashlib.sha256(attachment).digest()
    work = tempfile.mkdtemp(prefix="bench-parts-")
    dc = dovecot.Dovecot()
    failed = False
    try:
        size = seed(dc, attachment, args.message_mb)
        print("message: %.1f MB on the server, attachment %.2f MB decoded; %d runs"
              % (size / MB, len(attachment) / MB, args.runs))
        print("%-14s %-18s %-18s %-7s %s" % ("link", "cp best/median", "raw+cp best/med",
                                              "ratio", "bytes from the server: cp / raw"))
        for link in args.links.split(","):
            rtt, mbit = (float(x) for x in link.split(":"))
            with delayproxy.DelayProxy(("127.0.0.1", dc.imaps_port), rtt_ms=rtt) as proxy:
                proxy.set_rate(mbit * 1e6 / 8)
                far = bf.Far(dc, proxy)
                cps, raws = [], []
                for _ in range(args.runs):  # interleaved: load bursts hit both alike
                    cps.append(cp_once(binary, far, work, proxy, want))
                    raws.append(raw_once(far, proxy, len(attachment)))
            tool = median([local_cp(work, attachment) for _ in range(args.runs)])
            ct, rt = [t for t, _ in cps], [t + tool for t, _ in raws]
            ratio = median(ct) / median(rt)
            bytes_ok = max(b for _, b in cps) <= 1.2 * MB
            ok = bytes_ok and ratio <= 1.3
            failed |= not ok
            print("%-14s %-18s %-18s %-7s %d / %d  %s" % (
                "%g ms %s" % (rtt, "%g Mbit/s" % mbit if mbit else "no cap"),
                "%.3f / %.3f s" % (min(ct), median(ct)), "%.3f / %.3f s" % (min(rt), median(rt)),
                "%.2f" % ratio, max(b for _, b in cps), max(b for _, b in raws),
                "ok" if ok else "FAIL (bytes <= 1.2 MB: %s, ratio <= 1.3: %s)"
                % (bytes_ok, ratio <= 1.3)))
        print("load:", open("/proc/loadavg").read().strip())
    finally:
        dc.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
