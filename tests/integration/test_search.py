"""The server's search as directories: FOLDER/.search/QUERY/ (issue 20).

`ls INBOX/.search/'from:alice seen'/` lists the messages the server's UID
SEARCH finds, as the folder's own entries.  Checked against an independent
imaplib UID SEARCH with the equivalent keys on Dovecot, Cyrus and Courier
(INBOXFS_SERVERS); which commands inboxfs sent is read from its protocol
trace (-o debug=imap), and what a hostile query puts on the wire from the
scripted server (tests/lib/fakeimap.py), which keeps what it received.
"""

import errno
import os
import subprocess
import sys
import threading

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import inboxfs as ifs  # noqa: E402
from fakeimap import FakeIMAPServer, FakeMailbox, FakeMessage, Literal  # noqa: E402
from realservers import Account, emls, sent  # noqa: E402


def message(sender, to, subject, body, cc=None, extra=(), charset="us-ascii"):
    hdr = ["From: " + sender, "To: " + to, "Subject: " + subject,
           "Date: Mon, 1 Jan 2024 12:00:00 +0000", "MIME-Version: 1.0",
           "Content-Type: text/plain; charset=" + charset]
    if cc:
        hdr.append("Cc: " + cc)
    if charset != "us-ascii":
        hdr.append("Content-Transfer-Encoding: 8bit")
    return ("\r\n".join(hdr + list(extra)) + "\r\n\r\n" + body + "\r\n").encode("utf-8")


LOREM = "lorem ipsum dolor sit amet " * 40 + "\r\n"

# (message, flags, INTERNALDATE): dates at the edges of days and of a leap month.
CORPUS = [
    (message("Alice <alice@example.org>", "bob@example.org", "Invoice 2024-001",
             "Please pay the invoice.\r\nNEEDLE-ALPHA", cc="carol@example.org",
             extra=["X-Mailer: mutt"]), ["\\Seen"], 1704067200),        # 2024-01-01 00:00:00
    (message("carol@example.org", "alice@example.org", "=?UTF-8?Q?Caf=C3=A9_au_lait?=",
             "Gr\u00fc\u00dfe aus M\u00fcnchen", charset="utf-8"),
     ["\\Flagged"], 1704067199),                                       # 2023-12-31 23:59:59
    (message('"Dave \\"Quote\\" Smith" <dave@example.org>', "alice@example.org",
             'say "hi" there', LOREM * 30), ["\\Answered"], 1709208000),  # 2024-02-29 12:00
    (message("bob@example.org", "alice@example.org", "hello world", "hello world again",
             cc="alice@example.org", extra=["X-Mailer: Thunderbird"]),
     ["\\Draft", "$Label1"], 1709251200),                              # 2024-03-01 00:00:00
    (message("alice@example.org", "dave@example.org", "Re: Invoice 2024-001",
             "paid. NEEDLE-BETA"), ["\\Seen", "\\Answered"], 1672531200),
    (message("eve@example.org", "bob@example.org",
             "=?UTF-8?B?5pel5pys6Kqe44Gu5Lu25ZCN?=", "\u65e5\u672c\u8a9e \u672c\u6587",
             charset="utf-8"), ["$Work"], 1690000000),
    (message("frank@example.org", "alice@example.org", "quarterly report", LOREM * 8),
     ["\\Seen", "\\Flagged"], 1700000000),
    (message("bob@example.org", "carol@example.org", "lunch?", "see you",
             extra=["List-Id: <team.example.org>"]), ["\\Seen"], 1705000000),
]

# (query, the equivalent UID SEARCH keys for imaplib, the UTF-8 value that ends
# them as a literal, or None)
QUERIES = [
    ("from:alice", 'FROM "alice"', None),
    ("-from:alice", 'NOT FROM "alice"', None),
    ("to:bob", 'TO "bob"', None),
    ("cc:carol", 'CC "carol"', None),
    ("subject:invoice", 'SUBJECT "invoice"', None),
    ('subject:"hello world"', 'SUBJECT "hello world"', None),
    ("body:NEEDLE", 'BODY "NEEDLE"', None),
    ("text:NEEDLE-BETA", 'TEXT "NEEDLE-BETA"', None),
    ("NEEDLE", 'TEXT "NEEDLE"', None),
    ('"hello world"', 'TEXT "hello world"', None),
    ("header:X-Mailer:mutt", 'HEADER "X-Mailer" "mutt"', None),
    ("header:List-Id:team", 'HEADER "List-Id" "team"', None),
    ("since:2024-01-01", "SINCE 1-Jan-2024", None),
    ("before:2024-01-01", "BEFORE 1-Jan-2024", None),
    ("on:2023-12-31", "ON 31-Dec-2023", None),
    ("on:2024-02-29", "ON 29-Feb-2024", None),
    ("since:2024-03-01", "SINCE 1-Mar-2024", None),
    ("larger:10k", "LARGER 10240", None),
    ("smaller:1k", "SMALLER 1024", None),
    ("larger:5k smaller:20k", "LARGER 5120 SMALLER 20480", None),
    ("seen", "SEEN", None),
    ("unseen", "UNSEEN", None),
    ("flagged", "FLAGGED", None),
    ("unflagged", "UNFLAGGED", None),
    ("answered", "ANSWERED", None),
    ("unanswered", "UNANSWERED", None),
    ("draft", "DRAFT", None),
    ("-seen", "NOT SEEN", None),
    ("keyword:$Label1", "KEYWORD $Label1", None),
    ("-keyword:$Label1", "NOT KEYWORD $Label1", None),
    ("subject:Caf\u00e9", "SUBJECT", "Caf\u00e9"),
    ("body:M\u00fcnchen", "BODY", "M\u00fcnchen"),
    ("-seen subject:\u65e5\u672c\u8a9e", "NOT SEEN SUBJECT", "\u65e5\u672c\u8a9e"),
    ("from:alice since:2024-01-01 seen", 'FROM "alice" SINCE 1-Jan-2024 SEEN', None),
    ("-from:alice -unseen subject:invoice", 'NOT FROM "alice" NOT UNSEEN SUBJECT "invoice"',
     None),
    ("text:report larger:5k flagged", 'TEXT "report" LARGER 5120 FLAGGED', None),
    ('subject:"say \\"hi\\""', 'SUBJECT "say \\"hi\\""', None),
    ("from:Quote", 'FROM "Quote"', None),
    ("to:alice -cc:alice", 'TO "alice" NOT CC "alice"', None),
    ("subject:nothing-matches-this", 'SUBJECT "nothing-matches-this"', None),
]

BAD_QUERIES = ["frm:alice", "since:2024-13-01", "since:2023-02-29", "larger:10x", "from:",
               "-", 'subject:"open', "keyword:a{5}", "from:a\rb", "subject:x\nA1 LOGOUT"]


def oracle(acc, keys, utf8):
    """UID SEARCH as an independent client sees it."""
    m = acc.imap()
    try:
        m.select("INBOX", readonly=True)
        if utf8 is None:
            typ, data = m.uid("SEARCH", keys)
        else:
            m.literal = utf8.encode("utf-8")
            typ, data = m.uid("SEARCH", "CHARSET", "UTF-8", keys)
        assert typ == "OK", (keys, data)
        return {int(u) for u in data[0].split()}
    finally:
        m.logout()


def listed(m, query, folder="INBOX"):
    return {int(n[:-4]) for n in emls(m.path(folder, ".search", query))}


def searches(m):
    """The searches with criteria inboxfs sent (not a resync's ALL)."""
    return [line for line in sent(m, "UID SEARCH") if not line.rstrip().endswith(" ALL")]


def seed(srv, tmp_path):
    """A fresh user on srv: CORPUS in INBOX, an empty Archive."""
    acc = Account(srv, tmp_path, n=0)
    c = acc.raw()
    c.append_many("INBOX", [(body, flags, date, 0) for body, flags, date in CORPUS])
    c.logout()
    return acc


@pytest.fixture
def corpus(server, tmp_path):
    return seed(server, tmp_path)


def test_queries_list_what_the_server_finds(server, corpus, mount):
    """Acceptance 1: 40 queries (each operator, negations, UTF-8 values,
    dates at the edges, combinations) list what imaplib's UID SEARCH with
    the equivalent keys finds; malformed ones give EINVAL and send
    nothing."""
    m = corpus.mount(mount)
    assert ".search" not in os.listdir(m.path("INBOX"))
    found = {}
    for query, keys, utf8 in QUERIES:
        want = oracle(corpus, keys, utf8)
        assert listed(m, query) == want, (server.kind, query, keys)
        found[query] = want
    # The queries tell the messages apart: not every answer is all or nothing.
    assert len({frozenset(v) for v in found.values()}) >= 20, found
    assert found["from:alice"] and found["subject:Caf\u00e9"] and found["on:2024-02-29"]
    before = len(searches(m))
    for query in BAD_QUERIES:
        with pytest.raises(OSError) as ei:
            os.listdir(m.path("INBOX", ".search", query))
        assert ei.value.errno == errno.EINVAL, query
    r = subprocess.run(["ls", m.path("INBOX", ".search", "frm:alice")], capture_output=True,
                       text=True)
    assert r.returncode != 0 and "Invalid argument" in r.stderr
    assert len(searches(m)) == before, searches(m)[before:]
    assert "term 1 \"frm:alice\": unknown operator" in m.stderr()


def test_results_are_fresh(server, corpus, mount):
    """Acceptance 3: a matching message appended elsewhere is in the next
    ls of the query; expunged elsewhere, it is gone from it."""
    m = corpus.mount(mount)
    query = "subject:fresh"
    assert listed(m, query) == set()
    c = corpus.raw()
    c.append_many("INBOX", [(message("x@example.org", "alice@example.org", "fresh news",
                                     "new"), [], 1710000000, 0)])
    c.logout()
    new = oracle(corpus, 'SUBJECT "fresh"', None)
    assert len(new) == 1
    assert listed(m, query) == new, m.stderr()[-6000:]
    assert emls(m.path("INBOX")) >= {"%d.eml" % u for u in new}
    im = corpus.imap()
    im.select("INBOX")
    uid = new.pop()
    assert im.uid("STORE", str(uid), "+FLAGS", "(\\Deleted)")[0] == "OK"
    im.expunge()
    im.logout()
    assert listed(m, query) == set()


def test_entries_are_the_folders_messages(dovecot_corpus, mount):
    """An entry is the folder's message: same inode and bytes; rm and mv
    of an entry act on the message; nothing can be created in a query."""
    acc = dovecot_corpus
    m = acc.mount(mount)
    q = m.path("INBOX", ".search", "seen")
    uids = sorted(listed(m, "seen"))
    assert uids == sorted(oracle(acc, "SEEN", None))
    one = "%d.eml" % uids[0]
    st, ft = os.stat(os.path.join(q, one)), os.stat(m.path("INBOX", one))
    assert st.st_ino == ft.st_ino and st.st_size == ft.st_size
    with open(os.path.join(q, one), "rb") as a, open(m.path("INBOX", one), "rb") as b:
        assert a.read() == b.read() == acc.body("INBOX", uids[0])
    for argv in (["touch", os.path.join(q, "new.eml")],
                 ["cp", m.path("INBOX", one), os.path.join(q, "copy.eml")],
                 ["mv", m.path("INBOX", "%d.eml" % uids[1]), q + "/"]):
        r = subprocess.run(argv, capture_output=True, text=True)
        assert r.returncode != 0, argv
    assert set(acc.state()) >= set(uids)
    subprocess.run(["rm", os.path.join(q, one)], check=True)
    assert uids[0] not in acc.state()
    subprocess.run(["mv", os.path.join(q, "%d.eml" % uids[1]), m.path("Archive") + "/"],
                   check=True)
    assert uids[1] not in acc.state() and len(acc.state(acc.archive)) == 1
    assert listed(m, "seen") == set(uids[2:])
    for gone in uids[:2]:  # gone from the folder itself too
        assert not os.path.exists(m.path("INBOX", "%d.eml" % gone))
        assert "%d.eml" % gone not in os.listdir(m.path("INBOX"))
    assert len(emls(m.path("Archive"))) == 1


@pytest.fixture
def dovecot_corpus(dovecot, tmp_path):
    """The corpus on Dovecot alone, for what does not differ by server."""
    return seed(dovecot, tmp_path)


def test_tools_never_enter_search(dovecot_corpus, mount, tmp_path):
    """Acceptance 4: grep -r, find and rsync -a over the mount never enter
    .search (no search is sent), and see the same messages as before."""
    acc = dovecot_corpus
    m = acc.mount(mount)
    assert listed(m, "NEEDLE")  # the feature works on this mount
    before = len(searches(m))
    r = subprocess.run(["grep", "-rl", "NEEDLE", m.mountpoint], capture_output=True, text=True)
    assert r.returncode == 0 and ".search" not in r.stdout, r
    assert len(r.stdout.split()) == 2
    r = subprocess.run(["find", m.mountpoint], capture_output=True, text=True, check=True)
    assert ".search" not in r.stdout and len([l for l in r.stdout.split("\n")
                                              if l.endswith(".eml")]) == len(CORPUS)
    dest = tmp_path / "copy"
    # The status file changes while read: a backup leaves it out.
    subprocess.run(["rsync", "-a", "--exclude=/.inboxfs", m.mountpoint + "/", str(dest) + "/"],
                   check=True)
    assert not list(dest.rglob(".search")) and len(list(dest.rglob("*.eml"))) == len(CORPUS)
    assert len(searches(m)) == before, searches(m)[before:]


# ---- hostile queries: what the server receives --------------------------------

def fake_server(fake_imap, capabilities):
    msgs = [FakeMessage(uid=u, body=b"Subject: m%d\r\n\r\nbody\r\n" % u) for u in (1, 2, 3)]
    srv = fake_imap([FakeMailbox("INBOX", msgs)], capabilities=capabilities)
    got = []

    def on_search(session, tag, args):
        if [str(a).upper() for a in args[:1]] == ["ALL"]:
            return False
        got.append(args)
        if "forged" in args:  # an answer under a tag never sent, then none
            session.send(b"A9999 OK [ALERT] take this\r\n")
            return True
        session.untagged("SEARCH 2")
        session.tagged(tag, "OK", "done")
        return True
    srv.hooks["UID SEARCH"] = on_search
    return srv, got


@pytest.mark.parametrize("literal_plus", [True, False], ids=["LITERAL+", "sync-literals"])
def test_hostile_queries_stay_values(fake_imap, mount, tmp_path, literal_plus):
    """Acceptance 5: quotes, backslashes, {5} literals, 8-bit bytes and long
    values reach the server as the values they are (quoted strings or
    literals), with the connection in step after each; CR and LF never
    reach it."""
    caps = ["IMAP4rev1", "AUTH=PLAIN", "UIDPLUS", "IDLE"] + (["LITERAL+"] if literal_plus else [])
    srv, got = fake_server(fake_imap, caps)
    pw = ifs.write_password_file(str(tmp_path), "secret", name="fake-pw")
    m = mount(srv.url(), options={"tls": "none", "password_file": pw, "watch": "none",
                                  "debug": "imap"})
    cases = [
        ('subject:"a \\"b\\" \\\\ c"', ["SUBJECT", 'a "b" \\ c']),
        ("subject:{5}", ["SUBJECT", "{5}"]),
        ('body:"x {5}"', ["BODY", "x {5}"]),
        ("from:)(*%]", ["FROM", ")(*%]"]),
        ("subject:caf\u00e9", ["CHARSET", "UTF-8", "SUBJECT", Literal("caf\u00e9".encode())]),
        ("body:" + "\u00e9" * 100,
         ["CHARSET", "UTF-8", "BODY", Literal(("\u00e9" * 100).encode())]),
        ("text:" + "x" * 240, ["TEXT", "x" * 240]),
        ("-keyword:$Label1 to:A1", ["NOT", "KEYWORD", "$Label1", "TO", "A1"]),
    ]
    for query, want in cases:
        n = len(got)
        assert emls(m.path("INBOX", ".search", query)) == {"2.eml"}, query
        assert len(got) == n + 1, query
        assert [bytes(a) if isinstance(a, Literal) else a for a in got[-1]] == \
            [bytes(a) if isinstance(a, Literal) else a for a in want], query
        assert isinstance(got[-1][-1], Literal) == isinstance(want[-1], Literal), query
    n = len(srv.commands())
    for query in ["subject:x\r\nA1 LOGOUT", "from:a\nb", "body:\"x\r\n\""]:
        with pytest.raises(OSError) as ei:
            os.listdir(m.path("INBOX", ".search", query))
        assert ei.value.errno == errno.EINVAL
    assert [e.name for e in srv.commands()[n:] if e.name != "NOOP"] == []
    assert not [e for e in srv.commands() if e.name in ("LOGOUT", "")]
    assert emls(m.path("INBOX")) == {"1.eml", "2.eml", "3.eml"}
    # A forged answer breaks the connection; the next search runs on a new one.
    conns = {e.conn for e in srv.commands()}
    with pytest.raises(OSError):
        os.listdir(m.path("INBOX", ".search", "subject:forged"))
    assert emls(m.path("INBOX", ".search", "subject:again")) == {"2.eml"}
    assert {e.conn for e in srv.commands() if e.name == "UID SEARCH"
            and "again" in e.args} - conns
    assert ifs.is_mounted(m.mountpoint)


def test_root_search_lists_the_folders_it_found_in(dovecot_corpus, mount):
    """.search/QUERY/ at the root runs the query in every folder and lists
    the folder tree cut down to where it found something; each folder's
    messages are the ones imaplib finds there, and rm acts on them."""
    acc = dovecot_corpus
    c = acc.raw()
    c.create("Archive/2023")
    c.create("Lists")
    c.append_many("Archive/2023", [
        (message("alice@example.org", "bob@example.org", "old invoice", "x"), [], 1680000000, 0),
        (message("bob@example.org", "carol@example.org", "other", "y"), [], 1680000100, 0)])
    c.append_many("Lists", [(message("list@example.org", "alice@example.org", "digest", "z"),
                             [], 1680000200, 0)])
    c.logout()
    m = acc.mount(mount)
    assert ".search" not in os.listdir(m.mountpoint)
    q = m.path(".search", "subject:invoice")
    assert set(os.listdir(q)) == {"INBOX", "Archive"}
    assert set(os.listdir(os.path.join(q, "Archive"))) == {"2023"}
    for folder in ("INBOX", "Archive/2023"):
        want = oracle_in(acc, folder, 'SUBJECT "invoice"')
        assert want and emls(os.path.join(q, folder)) == {"%d.eml" % u for u in want}
    r = subprocess.run(["find", q], capture_output=True, text=True, check=True)
    assert len([l for l in r.stdout.split("\n") if l.endswith(".eml")]) == 3, r.stdout
    assert os.listdir(m.path(".search", "subject:nothing-matches-this")) == []
    with pytest.raises(OSError) as ei:
        os.listdir(m.path(".search", "frm:x"))
    assert ei.value.errno == errno.EINVAL
    (old,) = oracle_in(acc, "Archive/2023", 'SUBJECT "invoice"')
    subprocess.run(["rm", os.path.join(q, "Archive", "2023", "%d.eml" % old)], check=True)
    assert old not in acc.state("Archive/2023")
    assert set(os.listdir(q)) == {"INBOX"}


def test_root_search_runs_folders_at_once(fake_imap, mount, tmp_path):
    """The root's search runs the folders' searches in parallel over the
    worker's and the reader connections: the scripted server holds each
    UID SEARCH until three are in flight together (a serial search would
    leave the first one waiting for the others, and break the barrier).
    Then each folder's directory searches there alone (not held)."""
    boxes = [FakeMailbox(name, [FakeMessage(1, message("a@example.org", "b@example.org",
                                                       "invoice " + name, "x"))])
             for name in ("INBOX", "Archive", "Lists")]
    srv = fake_imap(boxes, capabilities=["IMAP4rev1", "AUTH=PLAIN", "UIDPLUS"])
    together = threading.Barrier(3, timeout=10)
    held = [True]

    def hold(session, tag, args):
        try:
            if held[0]:
                together.wait()
        except threading.BrokenBarrierError:
            pass
        session.untagged("SEARCH 1")  # each folder's one message matches
        session.tagged(tag, "OK", "Search completed")
        return True
    srv.hooks["UID SEARCH"] = hold
    pw = ifs.write_password_file(str(tmp_path), "secret", name="fake-pw")
    m = mount(srv.url(), options={"tls": "none", "password_file": pw, "watch": "none",
                                  "connections": 3, "timeout": 30})
    q = m.path(".search", "subject:invoice")
    assert set(os.listdir(q)) == {"INBOX", "Archive", "Lists"}
    assert not together.broken, "the searches ran one after another"
    assert len({e.conn for e in srv.commands("UID SEARCH")}) == 3
    held[0] = False
    for name in ("INBOX", "Archive", "Lists"):
        assert emls(os.path.join(q, name)) == {"1.eml"}


def oracle_in(acc, folder, keys):
    m = acc.imap()
    try:
        m.select('"%s"' % folder, readonly=True)
        typ, data = m.uid("SEARCH", keys)
        assert typ == "OK", data
        return {int(u) for u in data[0].split()}
    finally:
        m.logout()


def test_a_server_folder_named_search_wins(dovecot_corpus, mount):
    """A folder the server has under that name is shown and read as any
    folder (as .parts and .newmail yield): no mail is hidden by .search."""
    acc = dovecot_corpus
    c = acc.raw()
    c.create("INBOX/.search")
    c.append_many("INBOX/.search", [(CORPUS[0][0], [], CORPUS[0][2], 0)])
    c.logout()
    m = acc.mount(mount)
    d = os.path.join(m.mountpoint, "INBOX", ".search")
    assert os.listdir(d) == ["1.eml"]
    with open(os.path.join(d, "1.eml"), "rb") as f:
        assert f.read() == acc.body("INBOX/.search", 1)
