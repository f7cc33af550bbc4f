"""COMPRESS=DEFLATE (RFC 4978) with -o compress=yes, against Dovecot's
imap_zlib: everything a user does works the same over a compressed link."""

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import dovecot as dovecot_mod  # noqa: E402
import imapraw  # noqa: E402
import inboxfs as ifs  # noqa: E402
import mailgen  # noqa: E402


@pytest.fixture(scope="module")
def zdovecot():
    dc = dovecot_mod.Dovecot(extra_config=[
        "protocol imap {\n  mail_plugins = $mail_plugins imap_zlib\n}"])
    yield dc
    dc.stop()


def test_everything_works_compressed(zdovecot, mount, tmp_path):
    dc = zdovecot
    raw = dc.raw()
    raw.create("Archive")
    raw.append_many("INBOX", list(mailgen.bulk(30, size_pad=4000)) +
                    [(mailgen.large_message(size=2 * 1024 * 1024), [], mailgen.BASE_EPOCH)])
    assert b"COMPRESS=DEFLATE" in raw.command("CAPABILITY").untagged[0][0]
    pw = ifs.write_password_file(str(tmp_path), dc.password)
    m = mount(dc.url(), options={"cafile": dc.cafile, "password_file": pw, "compress": "yes",
                                 "debug": "imap", "connections": 2})
    bodies = imapraw.fetch_bodies(dc.connect(), "INBOX")
    for uid, body in bodies.items():
        with open(m.path("INBOX", "%d.eml" % uid), "rb") as f:
            assert f.read() == body, uid
    first = min(bodies)
    subprocess.run(["mv", m.path("INBOX", "%d.eml" % first), m.path("Archive") + "/"],
                   check=True)
    assert len(imapraw.folder_state(dc.connect(), "Archive")) == 1
    # new mail through the (compressed) IDLE connection
    before = set(imapraw.folder_state(dc.connect(), "INBOX"))
    raw.append_many("INBOX", mailgen.bulk(1, start=900))
    new = set(imapraw.folder_state(dc.connect(), "INBOX")) - before
    name = "%d.eml" % new.pop()
    assert ifs.wait_until(lambda: name in os.listdir(m.path("INBOX")), 10)
    log = m.stderr()
    assert log.count("compression on") >= 2  # the worker and the IDLE watcher
