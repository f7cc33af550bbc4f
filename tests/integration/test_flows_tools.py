"""Users' own flows (issue 16): the everyday Unix tools a user points at a
mount, run as the user runs them (real tar, find, grep, munpack, ripmime,
python3), each checked against what an independent client (imaplib) sees
on a real Dovecot."""

import email
import email.policy
import hashlib
import os
import subprocess
import sys
import tarfile
from email.message import EmailMessage

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import imapraw  # noqa: E402
import inboxfs as ifs  # noqa: E402
import mailgen  # noqa: E402

FOLDER = "Tools"
NEEDLE = "quarterly-invoice-7731"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 64 + b"\n%%EOF\n"
LATIN1 = "Sch\xf6ne Gr\xfc\xdfe aus M\xfcnchen\n"


def attachment_message(epoch):
    """A message as a mail client writes it (Python's email package):
    text + HTML alternatives, a base64 PDF and a quoted-printable Latin-1
    text attachment."""
    m = EmailMessage()
    m["From"] = "Carol <carol@example.org>"
    m["To"] = "alice@example.org"
    m["Subject"] = "Your %s" % NEEDLE
    m["Date"] = email.utils.formatdate(epoch)
    m["Message-ID"] = "<attach-%d@example.org>" % epoch
    m.set_content("Please find the invoice attached.\n")
    m.add_alternative("<p>Please find the invoice attached.</p>\n", subtype="html")
    m.add_attachment(PDF, maintype="application", subtype="pdf", filename="invoice.pdf")
    m.add_attachment(LATIN1.encode("latin-1"), maintype="text", subtype="plain",
                     filename="gruss.txt", cte="quoted-printable")
    return m.as_bytes(policy=email.policy.SMTP)


@pytest.fixture(scope="module")
def account(dovecot):
    """A user whose folder Tools holds 40 plain messages with distinct
    dates (every 5th mentions NEEDLE) and one with attachments; returns
    (user, password, {uid: body}, {uid: internaldate epoch})."""
    user = "tools"
    password = dovecot.add_user(user)
    raw = dovecot.raw(user=user, password=password)
    try:
        raw.create(FOLDER)
        msgs = []
        for i in range(40):
            epoch = mailgen.BASE_EPOCH + 86400 * i
            body = "Hello,\r\nline %d\r\n%s\r\n" % (i, NEEDLE if i % 5 == 0 else "nothing")
            msgs.append((mailgen.simple_message(i, epoch=epoch, body=body), [], epoch, 0))
        epoch = mailgen.BASE_EPOCH + 86400 * 50
        msgs.append((attachment_message(epoch), [], epoch, 60))
        raw.append_many(FOLDER, msgs)
    finally:
        raw.close()
    m = dovecot.connect(user=user, password=password)
    try:
        state = imapraw.folder_state(m, FOLDER)
        bodies = imapraw.fetch_bodies(m, FOLDER)
    finally:
        m.logout()
    return user, password, bodies, {uid: s[1] for uid, s in state.items()}


@pytest.fixture
def mnt(dovecot, account, mount, tmp_path):
    user, password = account[0], account[1]
    pw = ifs.write_password_file(str(tmp_path), password, name="pw-tools")
    return mount(dovecot.url(user=user), options={
        "cafile": dovecot.cafile, "password_file": pw, "watch": "none"})


def run(argv, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=120 * ifs.timeout_scale(), **kw)


def uid_of(name):
    return int(os.path.basename(name).split(".")[0])


def test_tar_of_a_folder_restores_exact_bytes_and_dates(mnt, account, tmp_path):
    bodies, dates = account[2], account[3]
    archive = str(tmp_path / "tools.tar")
    r = run(["tar", "-C", mnt.mountpoint, "-cf", archive, FOLDER])
    # tar warns "file changed as we read it" when st_size lied: exit 1
    assert r.returncode == 0, r.stderr.decode()
    out = tmp_path / "out"
    out.mkdir()
    r = run(["tar", "-C", str(out), "-xf", archive])
    assert r.returncode == 0, r.stderr.decode()
    names = sorted(os.listdir(out / FOLDER))
    assert names == sorted("%d.eml" % u for u in bodies)
    for n in names:
        p = out / FOLDER / n
        assert p.read_bytes() == bodies[uid_of(n)], n
        assert int(p.stat().st_mtime) == dates[uid_of(n)], n
    with tarfile.open(archive) as t:
        sizes = {os.path.basename(i.name): i.size for i in t.getmembers() if i.isfile()}
    assert sizes == {"%d.eml" % u: len(b) for u, b in bodies.items()}


def test_find_newermt_selects_by_internaldate(mnt, account):
    dates = account[3]
    cut = mailgen.BASE_EPOCH + 86400 * 20 + 1
    r = run(["find", mnt.path(FOLDER), "-name", "*.eml", "-newermt", "@%d" % cut])
    assert r.returncode == 0, r.stderr.decode()
    found = {uid_of(p) for p in r.stdout.decode().split()}
    assert found == {u for u, d in dates.items() if d > cut}
    assert 0 < len(found) < len(dates)


def test_grep_rl_over_the_mount(mnt, account):
    bodies = account[2]
    r = run(["grep", "-rl", NEEDLE, mnt.mountpoint])
    assert r.returncode == 0, r.stderr.decode()
    found = sorted(r.stdout.decode().split())
    want = sorted(mnt.path(FOLDER, "%d.eml" % u) for u, b in bodies.items()
                  if NEEDLE.encode() in b)
    assert found == want and len(want) == 9


def attachment_file(mnt, account):
    uid = max(account[2])
    return mnt.path(FOLDER, "%d.eml" % uid)


def test_munpack_extracts_the_attachments(mnt, account, tmp_path):
    out = tmp_path / "munpack"
    out.mkdir()
    r = run(["munpack", "-q", "-C", str(out), attachment_file(mnt, account)])
    assert r.returncode == 0, (r.stdout + r.stderr).decode()
    assert (out / "invoice.pdf").read_bytes() == PDF
    # munpack adds line breaks of its own around a text part: compare the text
    text = (out / "gruss.txt").read_bytes().replace(b"\r", b"").strip()
    assert text == LATIN1.encode("latin-1").strip()


def test_ripmime_extracts_the_attachments(mnt, account, tmp_path):
    out = tmp_path / "ripmime"
    out.mkdir()
    r = run(["ripmime", "-i", attachment_file(mnt, account), "-d", str(out)])
    assert r.returncode == 0, (r.stdout + r.stderr).decode()
    digests = {hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir()}
    assert hashlib.sha256(PDF).hexdigest() in digests
    assert (out / "invoice.pdf").read_bytes() == PDF


PY_READER = r"""
import email, email.policy, mailbox, sys
with open(sys.argv[1], "rb") as f:
    msg = email.message_from_binary_file(f, policy=email.policy.default)
print(msg["Subject"])
for part in msg.iter_attachments():
    print(part.get_filename(), len(part.get_content()))
# mailbox's message class over the same file, as scripts use it
with open(sys.argv[1], "rb") as f:
    mm = mailbox.MaildirMessage(f.read())
print(mm["Message-ID"], mm.get_content_type())
"""


def test_python_email_and_mailbox_read_a_file_from_the_mount(mnt, account):
    path = attachment_file(mnt, account)
    r = run(["python3", "-c", PY_READER, path])
    assert r.returncode == 0, r.stderr.decode()
    lines = r.stdout.decode().splitlines()
    assert lines[0] == "Your %s" % NEEDLE
    assert lines[1] == "invoice.pdf %d" % len(PDF)
    assert lines[2] == "gruss.txt %d" % len(LATIN1)
    assert lines[3].startswith("<attach-") and lines[3].endswith("multipart/mixed")
