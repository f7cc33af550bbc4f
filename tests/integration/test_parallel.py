"""Parallel readers (issue 8): with -o connections=N, readers that find
the worker connection busy are served on reader connections of their own.
Correctness under parallel reads, checked against imaplib; the speed is
measured in tests/bench/."""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import imapraw  # noqa: E402
import inboxfs as ifs  # noqa: E402
import mailgen  # noqa: E402


def test_four_parallel_readers_get_every_byte(dovecot, mount, tmp_path):
    user = "par1"
    pw = dovecot.add_user(user)
    raw = dovecot.raw(user=user, password=pw)
    for box in ("A", "B", "C", "D"):
        raw.create(box)
        raw.append_many(box, mailgen.bulk(60, size_pad=20000))
    raw.close()
    pwfile = ifs.write_password_file(str(tmp_path), pw, name="pw-par")
    logins_before = len(dovecot.login_lines(user))
    m = mount(dovecot.url(user=user), options={"cafile": dovecot.cafile,
                                               "password_file": pwfile, "watch": "none",
                                               "connections": 3})
    # one grep per folder, all at once: each scans its folder in UID order
    procs = [subprocess.Popen(["grep", "-rl", "Subject", m.path(box)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for box in ("A", "B", "C", "D")]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    assert all(len(o[0].splitlines()) == 60 for o in outs)
    # every byte right, read back through the mount
    im = dovecot.connect(user=user, password=pw)
    for box in ("A", "B", "C", "D"):
        served = imapraw.fetch_bodies(im, box)
        for uid, body in served.items():
            with open(m.path(box, "%d.eml" % uid), "rb") as f:
                assert f.read() == body, (box, uid)
    im.logout()
    # the reader connections were used: more than the worker logged in
    assert len(dovecot.login_lines(user)) - logins_before >= 2
