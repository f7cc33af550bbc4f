"""A scripted IMAP server for what Dovecot cannot be made to do.

Plain TCP on 127.0.0.1 (a free port), one thread per connection, data
driven and logging every command it receives:

    from fakeimap import FakeIMAPServer, FakeMailbox, FakeMessage
    srv = FakeIMAPServer([FakeMailbox("INBOX", [
        FakeMessage(uid=1, body=b"Subject: hi\\r\\n\\r\\nshort\\r\\n", size=10),
    ])], users={"alice": "secret"})
    with srv:
        srv.url()                 # imap://alice@127.0.0.1:PORT
        ...
        srv.commands("UID FETCH") # logged commands, see LogEntry
        srv.body_fetches()        # FETCH/UID FETCH commands asking for content

Speaks: greeting with [CAPABILITY ...], CAPABILITY, LOGIN, AUTHENTICATE
PLAIN (with or without initial response), LIST (reference + patterns with
* and %), SELECT/EXAMINE, STATUS, FETCH and UID FETCH (sequence sets like
1:*, 5, 3,5:7; items UID RFC822.SIZE INTERNALDATE FLAGS, BODY[] /
BODY.PEEK[] with sections "", HEADER, TEXT and partial <o.n>, RFC822,
RFC822.HEADER, RFC822.TEXT, FAST), UID SEARCH/SEARCH (ALL, UID set, seq
set), IDLE/DONE, NOOP, CHECK, CLOSE, LOGOUT; BAD for anything else.

Extending (faults, malformed responses, missing capabilities):
  * capabilities=[...] at construction (or srv.capabilities later);
  * srv.hooks["UID FETCH"] = fn(session, tag, args) -> True if it handled
    the command (fn may write anything with session.send(bytes)); the
    built-in handler runs when fn returns False;
  * subclass FakeSession and define cmd_<NAME> methods ("UID FETCH" ->
    cmd_UID_FETCH), then pass session_class=...;
  * FakeMessage.size is what RFC822.SIZE advertises; FakeMessage.body is
    what BODY[] serves (they may disagree on purpose).
"""

import base64
import re
import socket
import threading
import time

DEFAULT_CAPABILITIES = ["IMAP4rev1", "AUTH=PLAIN", "SASL-IR", "LITERAL+", "UIDPLUS", "IDLE"]
SYSTEM_FLAGS = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"]

_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def imap_date(epoch, tz_minutes=0):
    t = time.gmtime(int(epoch) + tz_minutes * 60)
    tz = abs(tz_minutes)
    return '%02d-%s-%04d %02d:%02d:%02d %s%02d%02d' % (
        t.tm_mday, _MONTHS[t.tm_mon - 1], t.tm_year, t.tm_hour, t.tm_min, t.tm_sec,
        "+" if tz_minutes >= 0 else "-", tz // 60, tz % 60)


class FakeMessage:
    """uid, body (bytes served by BODY[]), size (advertised RFC822.SIZE,
    default len(body)), internaldate (UTC epoch), tz (minutes, only how
    INTERNALDATE is displayed), flags (list of str)."""

    def __init__(self, uid, body, size=None, internaldate=1700000000, tz=0, flags=()):
        self.uid = int(uid)
        self.body = body if isinstance(body, bytes) else body.encode()
        self.size = len(self.body) if size is None else int(size)
        self.internaldate = int(internaldate)
        self.tz = tz
        self.flags = list(flags)

    def header_bytes(self):
        i = self.body.find(b"\r\n\r\n")
        return self.body if i < 0 else self.body[:i + 4]

    def text_bytes(self):
        i = self.body.find(b"\r\n\r\n")
        return b"" if i < 0 else self.body[i + 4:]

    def __repr__(self):
        return "FakeMessage(uid=%d, %d bytes, size=%d)" % (self.uid, len(self.body), self.size)


class FakeMailbox:
    """name: the wire name (modified UTF-7 already, "/" as delimiter);
    attributes: extra LIST attributes such as "\\Noselect"."""

    def __init__(self, name, messages=(), uidvalidity=1234567, uidnext=None,
                 attributes=()):
        self.name = name
        self.messages = sorted(messages, key=lambda m: m.uid)
        self.uidvalidity = uidvalidity
        self._uidnext = uidnext
        self.attributes = list(attributes)

    @property
    def uidnext(self):
        if self._uidnext is not None:
            return self._uidnext
        return (self.messages[-1].uid + 1) if self.messages else 1

    @property
    def selectable(self):
        return not any(a.lower() in ("\\noselect", "\\nonexistent") for a in self.attributes)

    def by_uid(self, uid):
        for m in self.messages:
            if m.uid == uid:
                return m
        return None


class LogEntry:
    """One received command: conn (connection number), tag, name (upper
    case, "UID FETCH" for UID commands), args (the text after the command
    name, literals inlined as {n}), line (the full first line), time."""

    def __init__(self, conn, tag, name, args, line):
        self.conn, self.tag, self.name, self.args, self.line = conn, tag, name, args, line
        self.time = time.monotonic()

    def __repr__(self):
        return "<%d %s %s %s>" % (self.conn, self.tag, self.name, self.args)


# ------------------------------------------------------------ parsing

class ParseError(Exception):
    pass


class Literal(bytes):
    """A literal argument (kept apart from quoted strings/atoms)."""


def tokenize(segments):
    """segments: list alternating str (command text) and Literal. Returns
    a nested list of tokens: str atoms/quoted strings, Literal, and lists
    for parenthesised groups. Atoms keep [...] sections and <...> partials
    as part of the atom (BODY.PEEK[HEADER.FIELDS (A B)]<0.100>)."""
    stack = [[]]
    for seg in segments:
        if isinstance(seg, Literal):
            stack[-1].append(seg)
            continue
        s, i, n = seg, 0, len(seg)
        while i < n:
            c = s[i]
            if c == " ":
                i += 1
            elif c == "(":
                stack.append([])
                i += 1
            elif c == ")":
                if len(stack) == 1:
                    raise ParseError("unbalanced )")
                lst = stack.pop()
                stack[-1].append(lst)
                i += 1
            elif c == '"':
                j, out = i + 1, []
                while j < n and s[j] != '"':
                    if s[j] == "\\" and j + 1 < n:
                        j += 1
                    out.append(s[j])
                    j += 1
                if j >= n:
                    raise ParseError("unterminated quoted string")
                stack[-1].append(QuotedStr("".join(out)))
                i = j + 1
            else:
                j, depth = i, 0
                while j < n:
                    ch = s[j]
                    if ch == "[":
                        depth += 1
                    elif ch == "]":
                        depth -= 1
                    elif depth == 0 and ch in " ()":
                        break
                    j += 1
                stack[-1].append(s[i:j])
                i = j
    if len(stack) != 1:
        raise ParseError("unbalanced (")
    return stack[0]


class QuotedStr(str):
    pass


def parse_seqset(text, maxval):
    """'1:*', '5', '3,5:7', '*' -> function(n) -> bool, with * = maxval."""
    ranges = []
    for part in text.split(","):
        if not part:
            raise ParseError("empty set element")
        a, sep, b = part.partition(":")

        def num(x):
            if x == "*":
                return maxval
            if not x.isdigit() or int(x) == 0:
                raise ParseError("bad number %r" % x)
            return int(x)
        lo = num(a)
        hi = num(b) if sep else lo
        if lo > hi:
            lo, hi = hi, lo
        ranges.append((lo, hi))
    return lambda n: any(lo <= n <= hi for lo, hi in ranges)


_SECTION_RE = re.compile(r"^(BODY\.PEEK|BODY|BINARY\.PEEK|BINARY)\[([^\]]*)\](?:<(\d+)(?:\.(\d+))?>)?$",
                         re.I)


# ------------------------------------------------------------ session

class FakeSession:
    def __init__(self, server, sock, conn_id):
        self.server = server
        self.sock = sock
        self.conn_id = conn_id
        self.rfile = sock.makefile("rb")
        self.wlock = threading.Lock()
        self.user = None
        self.selected = None
        self.readonly = False
        self.idling = False
        self.closed = False

    # -- I/O
    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        with self.wlock:
            self.sock.sendall(data)

    def untagged(self, text):
        self.send(b"* " + (text.encode() if isinstance(text, str) else text) + b"\r\n")

    def tagged(self, tag, status, text):
        self.send(("%s %s %s\r\n" % (tag, status, text)).encode())

    def readline(self):
        line = self.rfile.readline(self.server.max_line)
        if not line:
            raise EOFError
        if not line.endswith(b"\n"):
            raise ParseError("line too long")
        return line

    def read_command(self):
        """Returns (first line str, segments) with literals read; sends
        continuation requests for synchronising literals."""
        segments = []
        first = None
        while True:
            line = self.readline().rstrip(b"\r\n")
            text = line.decode("utf-8", errors="surrogateescape")
            if first is None:
                first = text
            m = re.search(r"\{(\d+)(\+?)\}$", text)
            if not m:
                segments.append(text)
                return first, segments
            segments.append(text[:m.start()])
            n = int(m.group(1))
            if n > self.server.max_literal:
                raise ParseError("literal too big")
            if not m.group(2):
                self.send(b"+ Ready for literal data\r\n")
            data = self.rfile.read(n)
            if len(data) != n:
                raise EOFError
            segments.append(Literal(data))

    # -- main loop
    def run(self):
        try:
            self.send(self.server.greeting_line())
            while not self.closed:
                try:
                    first, segments = self.read_command()
                except ParseError as e:
                    self.untagged("BAD %s" % e)
                    continue
                self.dispatch(first, segments)
        except (EOFError, OSError, ValueError):
            pass
        finally:
            self.close()

    def close(self):
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass

    def dispatch(self, first, segments):
        head = segments[0].split(" ", 2)
        tag = head[0]
        if len(head) < 2 or not tag or not head[1]:
            self.server.record(LogEntry(self.conn_id, tag, "", "", first))
            self.untagged("BAD Missing command")
            return
        name = head[1].upper()
        rest = head[2] if len(head) > 2 else ""
        if name == "UID":
            sub = rest.split(" ", 1)
            name = "UID " + sub[0].upper()
            rest = sub[1] if len(sub) > 1 else ""
        segs = [rest] + segments[1:]
        shown = "".join(s if not isinstance(s, Literal) else "{%d}" % len(s) for s in segs)
        self.server.record(LogEntry(self.conn_id, tag, name, shown, first))
        try:
            args = tokenize(segs)
        except ParseError as e:
            self.tagged(tag, "BAD", "Parse error: %s" % e)
            return
        hook = self.server.hooks.get(name)
        if hook is not None and hook(self, tag, args):
            return
        method = getattr(self, "cmd_" + name.replace(" ", "_").replace("-", "_"), None)
        if method is None:
            self.tagged(tag, "BAD", "Unknown command")
            return
        try:
            method(tag, args)
        except ParseError as e:
            self.tagged(tag, "BAD", "Error in arguments: %s" % e)

    # -- helpers
    def need_auth(self, tag):
        if self.user is None:
            self.tagged(tag, "BAD", "Not authenticated")
            return False
        return True

    def need_selected(self, tag):
        if not self.need_auth(tag):
            return False
        if self.selected is None:
            self.tagged(tag, "BAD", "No mailbox selected")
            return False
        return True

    @staticmethod
    def astring(tok):
        if isinstance(tok, list):
            raise ParseError("expected a string")
        return tok.decode("utf-8", "surrogateescape") if isinstance(tok, Literal) else str(tok)

    def caps_text(self):
        return " ".join(self.server.capabilities)

    # -- commands: any state
    def cmd_CAPABILITY(self, tag, args):
        self.untagged("CAPABILITY " + self.caps_text())
        self.tagged(tag, "OK", "Capability completed")

    def cmd_NOOP(self, tag, args):
        self.tagged(tag, "OK", "NOOP completed")

    def cmd_LOGOUT(self, tag, args):
        self.untagged("BYE Logging out")
        self.tagged(tag, "OK", "Logout completed")
        self.closed = True

    # -- not authenticated
    def _login_ok(self, tag, user):
        self.user = user
        self.tagged(tag, "OK", "[CAPABILITY %s] Logged in" % self.caps_text())

    def _login_fail(self, tag):
        self.tagged(tag, "NO", "[AUTHENTICATIONFAILED] Authentication failed.")

    def cmd_LOGIN(self, tag, args):
        if self.user is not None:
            self.tagged(tag, "BAD", "Already logged in")
            return
        if "LOGINDISABLED" in (c.upper() for c in self.server.capabilities):
            self.tagged(tag, "NO", "[PRIVACYREQUIRED] LOGIN disabled")
            return
        if len(args) != 2:
            raise ParseError("LOGIN needs 2 arguments")
        user, pw = self.astring(args[0]), self.astring(args[1])
        if self.server.users.get(user) == pw:
            self._login_ok(tag, user)
        else:
            self._login_fail(tag)

    def cmd_AUTHENTICATE(self, tag, args):
        if self.user is not None:
            self.tagged(tag, "BAD", "Already logged in")
            return
        if not args:
            raise ParseError("AUTHENTICATE needs a mechanism")
        mech = self.astring(args[0]).upper()
        if "AUTH=" + mech not in (c.upper() for c in self.server.capabilities):
            self.tagged(tag, "NO", "Unsupported authentication mechanism")
            return
        if len(args) > 1:
            if "SASL-IR" not in (c.upper() for c in self.server.capabilities):
                self.tagged(tag, "BAD", "SASL-IR not supported")
                return
            resp = self.astring(args[1])
        else:
            self.send(b"+ \r\n")
            resp = self.readline().rstrip(b"\r\n").decode("ascii", "replace")
        if resp == "*":
            self.tagged(tag, "BAD", "Authentication aborted")
            return
        try:
            raw = base64.b64decode(resp if resp != "=" else "", validate=True)
            _authz, user, pw = raw.split(b"\0")
            user, pw = user.decode(), pw.decode()
        except (ValueError, UnicodeDecodeError):
            self.tagged(tag, "BAD", "Invalid base64 or PLAIN message")
            return
        if self.server.users.get(user) == pw:
            self._login_ok(tag, user)
        else:
            self._login_fail(tag)

    # -- authenticated
    def cmd_LIST(self, tag, args):
        if not self.need_auth(tag):
            return
        if len(args) != 2:
            raise ParseError("LIST needs 2 arguments")
        ref, pattern = self.astring(args[0]), self.astring(args[1])
        d = self.server.delimiter
        if pattern == "":
            self.untagged('LIST (\\Noselect) "%s" ""' % d)
            self.tagged(tag, "OK", "List completed")
            return
        def norm(x):  # INBOX is case-insensitive
            if x[:5].upper() == "INBOX" and (len(x) == 5 or x[5] in (d, "*", "%")):
                return "INBOX" + x[5:]
            return x
        full = norm(ref + pattern)
        rx = re.compile("^" + "".join(
            ".*" if c == "*" else ("[^%s]*" % re.escape(d)) if c == "%" else re.escape(c)
            for c in full) + "$")
        names = [mb.name for mb in self.server.mailboxes]
        for mb in self.server.mailboxes:
            name = mb.name
            if not rx.match(norm(name)):
                continue
            has_children = any(n.startswith(name + d) for n in names)
            attrs = list(mb.attributes) + ["\\HasChildren" if has_children else "\\HasNoChildren"]
            self.untagged('LIST (%s) "%s" %s' % (" ".join(attrs), d, self.quote(name)))
        self.tagged(tag, "OK", "List completed")

    @staticmethod
    def quote(s):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    def find_mailbox(self, name):
        for mb in self.server.mailboxes:
            if mb.name == name or (name.upper() == "INBOX" and mb.name.upper() == "INBOX"):
                return mb
        return None

    def _select(self, tag, args, readonly):
        if not self.need_auth(tag):
            return
        if len(args) != 1:
            raise ParseError("SELECT needs 1 argument")
        self.selected = None
        mb = self.find_mailbox(self.astring(args[0]))
        if mb is None or not mb.selectable:
            self.tagged(tag, "NO", "[NONEXISTENT] Mailbox doesn't exist")
            return
        self.selected, self.readonly = mb, readonly
        self.untagged("FLAGS (%s)" % " ".join(SYSTEM_FLAGS))
        self.untagged("OK [PERMANENTFLAGS (%s \\*)] Flags permitted." % " ".join(SYSTEM_FLAGS))
        self.untagged("%d EXISTS" % len(mb.messages))
        self.untagged("0 RECENT")
        self.untagged("OK [UIDVALIDITY %d] UIDs valid" % mb.uidvalidity)
        self.untagged("OK [UIDNEXT %d] Predicted next UID" % mb.uidnext)
        self.tagged(tag, "OK", "[%s] %s completed" % ("READ-ONLY" if readonly else "READ-WRITE",
                                                     "EXAMINE" if readonly else "SELECT"))

    def cmd_SELECT(self, tag, args):
        self._select(tag, args, False)

    def cmd_EXAMINE(self, tag, args):
        self._select(tag, args, True)

    def cmd_STATUS(self, tag, args):
        if not self.need_auth(tag):
            return
        if len(args) != 2 or not isinstance(args[1], list):
            raise ParseError("STATUS needs a mailbox and a list")
        mb = self.find_mailbox(self.astring(args[0]))
        if mb is None or not mb.selectable:
            self.tagged(tag, "NO", "[NONEXISTENT] Mailbox doesn't exist")
            return
        out = []
        for item in args[1]:
            it = str(item).upper()
            if it == "MESSAGES":
                out.append("MESSAGES %d" % len(mb.messages))
            elif it == "UIDNEXT":
                out.append("UIDNEXT %d" % mb.uidnext)
            elif it == "UIDVALIDITY":
                out.append("UIDVALIDITY %d" % mb.uidvalidity)
            elif it == "UNSEEN":
                out.append("UNSEEN %d" % sum(1 for m in mb.messages if "\\Seen" not in m.flags))
            elif it == "RECENT":
                out.append("RECENT 0")
            elif it == "HIGHESTMODSEQ":
                out.append("HIGHESTMODSEQ 1")
            else:
                raise ParseError("unknown STATUS item %s" % item)
        self.untagged("STATUS %s (%s)" % (self.quote(mb.name), " ".join(out)))
        self.tagged(tag, "OK", "Status completed")

    def cmd_IDLE(self, tag, args):
        if not self.need_auth(tag):
            return
        self.idling = True
        self.send(b"+ idling\r\n")
        try:
            line = self.readline().rstrip(b"\r\n")
        finally:
            self.idling = False
        if line.upper() != b"DONE":
            self.tagged(tag, "BAD", "Expected DONE")
            return
        self.tagged(tag, "OK", "Idle completed")

    # -- selected
    def cmd_CHECK(self, tag, args):
        if self.need_selected(tag):
            self.tagged(tag, "OK", "Check completed")

    def cmd_CLOSE(self, tag, args):
        if self.need_selected(tag):
            self.selected = None
            self.tagged(tag, "OK", "Close completed")

    def _message_set(self, text, by_uid):
        msgs = self.selected.messages
        if by_uid:
            maxval = msgs[-1].uid if msgs else 0
            pred = parse_seqset(text, maxval)
            return [(i + 1, m) for i, m in enumerate(msgs) if pred(m.uid)]
        maxval = len(msgs)
        pred = parse_seqset(text, maxval)
        if any(p != "*" and int(p) > maxval for part in text.split(",")
               for p in part.split(":")):
            raise ParseError("Invalid messageset")
        return [(i + 1, m) for i, m in enumerate(msgs) if pred(i + 1)]

    FETCH_SIMPLE = {"UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "RFC822",
                    "RFC822.HEADER", "RFC822.TEXT"}

    def _fetch_items(self, tok):
        items = tok if isinstance(tok, list) else [tok]
        out = []
        for it in items:
            if isinstance(it, list) or isinstance(it, Literal):
                raise ParseError("bad fetch item")
            up = str(it).upper()
            if up == "FAST":
                out += ["FLAGS", "INTERNALDATE", "RFC822.SIZE"]
            elif up in self.FETCH_SIMPLE:
                out.append(up)
            else:
                m = _SECTION_RE.match(str(it))
                if not m or m.group(1).upper().startswith("BINARY") or \
                        m.group(2).upper() not in ("", "HEADER", "TEXT"):
                    raise ParseError("unsupported fetch item %s" % it)
                out.append(str(it))
        return out

    def _fetch(self, tag, args, by_uid):
        if not self.need_selected(tag):
            return
        if len(args) < 2 or isinstance(args[0], list):
            raise ParseError("FETCH needs a set and items")
        items = self._fetch_items(args[1])
        if by_uid and "UID" not in items:
            items.insert(0, "UID")
        for seq, msg in self._message_set(str(args[0]), by_uid):
            self.send(self.fetch_response(seq, msg, items))
        self.tagged(tag, "OK", "%sFetch completed" % ("UID " if by_uid else ""))

    def body_for(self, msg, section):
        """Bytes served for BODY[section]; override for faults."""
        s = section.upper()
        if s == "":
            return msg.body
        if s == "HEADER":
            return msg.header_bytes()
        return msg.text_bytes()

    def fetch_response(self, seq, msg, items):
        parts = []
        seen_now = False
        for it in items:
            up = it.upper()
            if up == "UID":
                parts.append(b"UID %d" % msg.uid)
            elif up == "FLAGS":
                parts.append(("FLAGS (%s)" % " ".join(msg.flags)).encode())
            elif up == "INTERNALDATE":
                parts.append(('INTERNALDATE "%s"' % imap_date(msg.internaldate, msg.tz)).encode())
            elif up == "RFC822.SIZE":
                parts.append(b"RFC822.SIZE %d" % msg.size)
            elif up in ("RFC822", "RFC822.HEADER", "RFC822.TEXT"):
                data = self.body_for(msg, {"RFC822": "", "RFC822.HEADER": "HEADER",
                                           "RFC822.TEXT": "TEXT"}[up])
                parts.append(up.encode() + b" {%d}\r\n" % len(data) + data)
                seen_now = seen_now or up != "RFC822.HEADER"
            else:
                m = _SECTION_RE.match(it)
                peek = m.group(1).upper() == "BODY.PEEK"
                section = m.group(2).upper()
                data = self.body_for(msg, section)
                label = "BODY[%s]" % section
                if m.group(3) is not None:
                    start = int(m.group(3))
                    data = data[start:]
                    if m.group(4) is not None:
                        data = data[:int(m.group(4))]
                    label += "<%d>" % start
                parts.append(label.encode() + b" {%d}\r\n" % len(data) + data)
                seen_now = seen_now or not peek
        if seen_now and not self.readonly and "\\Seen" not in msg.flags:
            msg.flags.append("\\Seen")
            if "FLAGS" not in (i.upper() for i in items):
                parts.append(("FLAGS (%s)" % " ".join(msg.flags)).encode())
        return b"* %d FETCH (" % seq + b" ".join(parts) + b")\r\n"

    def cmd_FETCH(self, tag, args):
        self._fetch(tag, args, False)

    def cmd_UID_FETCH(self, tag, args):
        self._fetch(tag, args, True)

    def _search(self, tag, args, by_uid):
        if not self.need_selected(tag):
            return
        if not args:
            raise ParseError("SEARCH needs criteria")
        msgs = list(enumerate(self.selected.messages, 1))
        i = 0
        while i < len(args):
            key = str(args[i]).upper()
            if key == "ALL":
                pass
            elif key == "UID" and i + 1 < len(args):
                maxval = self.selected.messages[-1].uid if self.selected.messages else 0
                pred = parse_seqset(str(args[i + 1]), maxval)
                msgs = [(s, m) for s, m in msgs if pred(m.uid)]
                i += 1
            elif re.match(r"^[0-9*][0-9*:,]*$", key):
                pred = parse_seqset(key, len(self.selected.messages))
                msgs = [(s, m) for s, m in msgs if pred(s)]
            else:
                raise ParseError("unsupported search key %s" % key)
            i += 1
        nums = [m.uid if by_uid else s for s, m in msgs]
        self.untagged(("SEARCH " + " ".join(map(str, nums))).rstrip())
        self.tagged(tag, "OK", "Search completed")

    def cmd_SEARCH(self, tag, args):
        self._search(tag, args, False)

    def cmd_UID_SEARCH(self, tag, args):
        self._search(tag, args, True)


# ------------------------------------------------------------ server

class FakeIMAPServer:
    host = "127.0.0.1"

    def __init__(self, mailboxes=None, users=None, capabilities=None, greeting=None,
                 delimiter="/", session_class=FakeSession, port=0):
        if mailboxes is None:
            mailboxes = [FakeMailbox("INBOX")]
        self.mailboxes = list(mailboxes)
        self.users = dict(users) if users is not None else {"alice": "secret"}
        self.user = next(iter(self.users), "alice")
        self.password = self.users.get(self.user)
        self.capabilities = list(capabilities) if capabilities is not None \
            else list(DEFAULT_CAPABILITIES)
        self.greeting = greeting
        self.delimiter = delimiter
        self.session_class = session_class
        self.hooks = {}
        self.max_line = 1 << 16
        self.max_literal = 1 << 26
        self.log = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.sessions = []
        self._threads = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((self.host, port))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._accept_thread = None
        self._stopping = False
        self.connections = 0

    def greeting_line(self):
        if self.greeting is not None:
            g = self.greeting
            return g if isinstance(g, bytes) else g.encode()
        return ("* OK [CAPABILITY %s] ready\r\n" % " ".join(self.capabilities)).encode()

    def url(self, user=None, scheme="imap"):
        return "%s://%s@%s:%d" % (scheme, user or self.user, self.host, self.port)

    def mailbox(self, name):
        for mb in self.mailboxes:
            if mb.name == name:
                return mb
        raise KeyError(name)

    # -- lifecycle
    def start(self):
        self._accept_thread = threading.Thread(target=self._accept_loop, daemon=True,
                                               name="fakeimap-accept")
        self._accept_thread.start()
        return self

    def _accept_loop(self):
        while not self._stopping:
            try:
                sock, _addr = self._listener.accept()
            except OSError:
                return
            if self._stopping:
                sock.close()
                return
            with self._lock:
                self.connections += 1
                conn_id = self.connections
            sess = self.session_class(self, sock, conn_id)
            t = threading.Thread(target=sess.run, daemon=True, name="fakeimap-%d" % conn_id)
            with self._lock:
                self.sessions.append(sess)
                self._threads.append(t)
            t.start()

    def stop(self):
        self._stopping = True
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            sessions = list(self.sessions)
        for s in sessions:
            s.close()
        if self._accept_thread:
            self._accept_thread.join(5)
        for t in list(self._threads):
            t.join(5)

    def __enter__(self):
        if self._accept_thread is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- log
    def record(self, entry):
        with self._changed:
            self.log.append(entry)
            self._changed.notify_all()

    def commands(self, name=None):
        """Logged commands, optionally only those named name ("UID FETCH")."""
        with self._lock:
            return [e for e in self.log if name is None or e.name == name.upper()]

    def body_fetches(self):
        """FETCH / UID FETCH commands that asked for message content
        (BODY[...], BODY.PEEK[...], BINARY[...], RFC822, RFC822.TEXT/HEADER),
        i.e. anything beyond UID/FLAGS/INTERNALDATE/RFC822.SIZE."""
        rx = re.compile(r"\b(BODY(\.PEEK)?\[|BINARY(\.PEEK)?\[|RFC822(?!\.SIZE)\b)", re.I)
        return [e for e in self.commands() if e.name in ("FETCH", "UID FETCH") and rx.search(e.args)]

    def wait_for(self, predicate, timeout=5.0):
        """Wait until predicate(log) is true; returns its value or None."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                v = predicate(list(self.log))
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(left)

    def clear_log(self):
        with self._lock:
            self.log.clear()


def _selftest():
    """Manual smoke test with imaplib: python3 fakeimap.py"""
    import imaplib
    msgs = [FakeMessage(1, b"Subject: a\r\n\r\nhello\r\n", size=5, flags=["\\Seen"]),
            FakeMessage(2, b"Subject: b\r\n\r\nworld!!\r\n", size=100)]
    with FakeIMAPServer([FakeMailbox("INBOX", msgs), FakeMailbox("Archive"),
                         FakeMailbox("Archive/2023")]) as srv:
        m = imaplib.IMAP4(srv.host, srv.port)
        print(m.capabilities)
        print(m.login("alice", "secret"))
        print(m.list())
        print(m.select("INBOX"))
        print(m.uid("FETCH", "1:*", "(UID RFC822.SIZE INTERNALDATE FLAGS)"))
        print(m.uid("FETCH", "2", "(BODY.PEEK[])"))
        print(m.uid("FETCH", "1,2", "(BODY.PEEK[]<2.5>)"))
        try:
            m.uid("FETCH", "1", "ENVELOPE")
        except imaplib.IMAP4.error as e:
            print("expected BAD:", e)
        print(m.noop())
        print(m.logout())
        m = imaplib.IMAP4(srv.host, srv.port)  # AUTHENTICATE without SASL-IR
        m._encode = m._encode if hasattr(m, "_encode") else None
        print(m.authenticate("PLAIN", lambda _: b"\0alice\0secret"))
        m.logout()
        for e in srv.commands():
            print(e)


if __name__ == "__main__":
    _selftest()
