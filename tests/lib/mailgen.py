"""Message generators for seeding test and demo accounts.

Every generator returns bytes with CRLF line endings unless it says
otherwise. Tuples for RawIMAP.append_many are (body, flags, epoch, tz_minutes).
"""

import base64
import random

BASE_EPOCH = 1672531200  # 2023-01-01 00:00:00 UTC

ZONES = [0, 60, 120, -300, 330, -480, 545]  # minutes, includes odd offsets


def simple_message(i, subject=None, sender="Bob Example <bob@example.org>",
                   to="Alice Example <alice@example.org>", body=None, epoch=None,
                   extra_headers=()):
    """A small, plain RFC 5322 message (CRLF)."""
    epoch = BASE_EPOCH + i * 3607 if epoch is None else epoch
    subject = subject or "Test message %d" % i
    body = body if body is not None else (
        "Hello Alice,\r\n\r\nthis is message number %d.\r\nLine two.\r\n\r\n-- \r\nBob\r\n" % i)
    hdr = [
        "From: " + sender,
        "To: " + to,
        "Subject: " + subject,
        "Date: " + _rfc2822_date(epoch),
        "Message-ID: <msg-%d-%d@example.org>" % (i, epoch),
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
    ] + list(extra_headers)
    return ("\r\n".join(hdr) + "\r\n\r\n" + body).encode("utf-8")


def eightbit_message(epoch=BASE_EPOCH + 11):
    """A text message with UTF-8 in the body and one Latin-1 part, CTE 8bit."""
    utf8_part = "Grüße aus Köln – naïve café, 東京, Ελληνικά, emoji \U0001F4E7\r\n".encode("utf-8")
    latin1_part = "Latin-1 zone: \xe4\xf6\xfc\xdf \xe9\xe8 \xa3 \xb5\r\n".encode("latin-1")
    headers = (
        "From: =?utf-8?q?J=C3=BCrgen?= <juergen@example.de>\r\n"
        "To: alice@example.org\r\n"
        "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_8bit?=\r\n"
        "Date: " + _rfc2822_date(epoch) + "\r\n"
        "Message-ID: <eightbit@example.de>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n").encode("ascii")
    return headers + utf8_part + b"\r\n" + latin1_part


def binaryish_message(epoch=BASE_EPOCH + 23):
    """Headers, then a body containing every byte 0x01-0xff, plus bare CR
    and bare LF sequences (no NUL: IMAP literals must not contain NUL).
    What the server stores and serves back may differ from these bytes:
    the oracle is what it serves."""
    headers = (
        "From: bin@example.org\r\n"
        "To: alice@example.org\r\n"
        "Subject: binary-ish body\r\n"
        "Date: " + _rfc2822_date(epoch) + "\r\n"
        "Message-ID: <binaryish@example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: application/octet-stream\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n").encode("ascii")
    body = bytes(range(1, 256)) + b"\r\nbare LF here\nbare CR here\rCRCRLF\r\r\nend\n" + \
        bytes(range(255, 0, -1)) + b"\r\n"
    return headers + body


def large_message(size=20 * 1024 * 1024, epoch=BASE_EPOCH + 37, seed=20):
    """A ~size-byte message: a base64 attachment, 76-char lines (CRLF)."""
    rnd = random.Random(seed)
    raw_len = (size * 3) // 4
    blob = rnd.randbytes(raw_len) if hasattr(rnd, "randbytes") else \
        bytes(rnd.getrandbits(8) for _ in range(raw_len))
    b64 = base64.encodebytes(blob).replace(b"\n", b"\r\n")  # 76-char lines
    headers = (
        "From: big@example.org\r\n"
        "To: alice@example.org\r\n"
        "Subject: a big attachment\r\n"
        "Date: " + _rfc2822_date(epoch) + "\r\n"
        "Message-ID: <large@example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"BOUNDARY\"\r\n\r\n"
        "--BOUNDARY\r\nContent-Type: text/plain\r\n\r\nSee attachment.\r\n"
        "--BOUNDARY\r\nContent-Type: application/octet-stream\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment; filename=\"blob.bin\"\r\n\r\n").encode("ascii")
    return headers + b64 + b"--BOUNDARY--\r\n"


def bulk(n, start=0, base_epoch=BASE_EPOCH, step=3607, flags_of=None, size_pad=0):
    """n ordinary messages with distinct INTERNALDATEs and varying zones,
    as append_many tuples. flags_of(i) -> list of flags (default: a mix:
    every 3rd \\Seen, every 7th \\Flagged, every 11th \\Answered; the rest
    unseen)."""
    if flags_of is None:
        def flags_of(i):
            f = []
            if i % 3 == 0:
                f.append("\\Seen")
            if i % 7 == 0:
                f.append("\\Flagged")
            if i % 11 == 0:
                f.append("\\Answered")
            return f
    for i in range(start, start + n):
        epoch = base_epoch + i * step + (i % 59)
        body = None
        if size_pad:
            body = ("x" * 70 + "\r\n") * (size_pad // 72)
        yield (simple_message(i, epoch=epoch, body=body), flags_of(i), epoch,
               ZONES[i % len(ZONES)])


def _rfc2822_date(epoch):
    import email.utils
    return email.utils.formatdate(epoch, usegmt=True)


# --------------------------------------------------------------- sample set

SAMPLE = {
    "INBOX": [
        ("Carol Chen <carol@example.com>", "Lunch on Thursday?",
         "Hi Alice,\r\n\r\nare you free for lunch on Thursday? The new ramen place\r\n"
         "on Market Street opened last week.\r\n\r\nCarol\r\n", ["\\Seen"]),
        ("GitHub <noreply@github.example>", "[inboxfs] Pull request #42: readdir cache",
         "bob-example requested your review on #42.\r\n\r\n"
         "  fs/ops.c | 42 ++++++++++++++++---\r\n\r\n"
         "-- \r\nReply to this email directly or view it on the web.\r\n", []),
        ("Dave <dave@example.net>", "Invoice question",
         "Hello,\r\n\r\ncould you send me the invoice for October again? The PDF\r\n"
         "attachment in the first mail was corrupted.\r\n\r\nThanks, Dave\r\n", ["\\Flagged"]),
        ("Mallory <offers@example.biz>", "You have WON!!!",
         "Click here to claim your prize. (This is the demo's spam.)\r\n", []),
    ],
    "Archive/2023": [
        ("Carol Chen <carol@example.com>", "Holiday photos",
         "The photos from the trip are on the shared drive.\r\n", ["\\Seen"]),
        ("Landlord <rent@example.org>", "Rent increase notice",
         "Dear tenant,\r\n\r\nfrom January the rent will be 1,020 EUR.\r\n", ["\\Seen", "\\Answered"]),
    ],
    "Entwürfe": [
        ("Alice Example <alice@example.org>", "Entwurf: Kündigung Fitnessstudio",
         "Sehr geehrte Damen und Herren,\r\n\r\nhiermit kündige ich meinen Vertrag "
         "fristgerecht zum nächstmöglichen Termin.\r\n\r\nMit freundlichen Grüßen\r\n"
         "Alice\r\n", ["\\Draft", "\\Seen"]),
    ],
    "Receipts": [
        ("Bookshop <orders@books.example>", "Your order #1001",
         "Thank you for your order.\r\n\r\n  1 x 'TCP/IP Illustrated'   59.00 EUR\r\n"
         "  Total                       59.00 EUR\r\n", ["\\Seen"]),
        ("Train <tickets@rail.example>", "Your ticket Berlin - Hamburg",
         "Your invoice (receipt) for the journey on 12 March: 29.90 EUR.\r\n", []),
    ],
}


def sample_messages(folder):
    """append_many tuples for one SAMPLE folder (UTF-8 bodies, 8bit when
    needed)."""
    out = []
    for n, (sender, subject, text, flags) in enumerate(SAMPLE[folder]):
        epoch = BASE_EPOCH + 86400 * (40 + 17 * n) + 3600 * 9 + 61 * len(folder)
        extra = []
        if any(ord(c) > 127 for c in text):
            extra = ["Content-Transfer-Encoding: 8bit"]
        subj = subject
        if any(ord(c) > 127 for c in subject):
            subj = "=?utf-8?b?%s?=" % base64.b64encode(subject.encode()).decode()
        msg = simple_message(n, subject=subj, sender=sender, body=text, epoch=epoch,
                             extra_headers=extra)
        if extra:
            msg = msg.replace(b"charset=us-ascii", b"charset=utf-8")
        out.append((msg, flags, epoch, 60))
    return out


def seed_sample(client):
    """Create the SAMPLE folders on a logged-in imapraw.RawIMAP and fill them."""
    for folder in SAMPLE:
        if folder != "INBOX":
            client.create(folder, parents=True)
        client.append_many(folder, sample_messages(folder))
