"""The README's first command, `bash examples/demo.sh` (issue 22): it must
finish in under 60 s, show each live step with the real output (new mail
with its IN_CREATE line and subject, mv to Archive under a new UID, rm
dropping the server's count, a flag set with setfattr seen by the server)
and leave no mount, server or process behind.

The demo builds and uses the tree's own build/inboxfs, not INBOXFS_BIN: it
is skipped in the sanitizer configuration of tests/run.sh (ASAN_OPTIONS
set), where it would repeat the plain run, and while a demo is mounted."""

import os
import re
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import inboxfs as ifs  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
DEMO_MNT = "/tmp/inboxfs-demo/mnt"


def _leftovers():
    """Processes the demo started: its Dovecot runner, inboxfs, inotifywait."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "/tmp/inboxfs-demo/env" in argv or DEMO_MNT in argv or \
                (argv[0].endswith("inotifywait") and "INBOX" in argv):
            out.append((pid, argv))
    return out


@pytest.mark.skipif(bool(os.environ.get("ASAN_OPTIONS")),
                    reason="the demo uses build/inboxfs: once per run, in the plain configuration")
def test_demo_shows_the_live_steps(inboxfs_bin):
    if ifs.is_mounted(DEMO_MNT, None) or _leftovers():
        pytest.skip("a demo is running")
    t0 = time.monotonic()
    r = subprocess.run(["bash", os.path.join(REPO, "examples", "demo.sh")],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180)
    elapsed = time.monotonic() - t0
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    assert elapsed < 60, elapsed

    new = re.search(r"inotifywait: INBOX/ CREATE (\d+)\.eml", out)
    assert new, out[-4000:]
    assert "\n$ grep -m 1 '^Subject:' INBOX/%s.eml\nSubject: The meeting moves to 3 pm\n" \
        % new.group(1) in out, out[-4000:]
    moved = re.search(r"\n\$ ls Archive\n(\d+)\.eml\n.*?S: \* SEARCH (\d+)\n", out, re.S)
    assert moved and moved.group(1) == moved.group(2), out[-4000:]
    counts = [int(n) for n in re.findall(r"S: \* STATUS INBOX \(MESSAGES (\d+)\)", out)]
    assert len(counts) == 2 and counts[1] == counts[0] - 1, counts
    flags = re.search(r"S: \* \d+ FETCH \(UID \d+ FLAGS \(([^)]*)\)\)", out)
    assert flags and set(flags.group(1).split()) == {"\\Seen", "\\Flagged"}, out[-4000:]
    assert out.rstrip().endswith("demo.sh: cleaned up"), out[-2000:]

    assert not ifs.is_mounted(DEMO_MNT, None)
    assert not _leftovers(), _leftovers()
