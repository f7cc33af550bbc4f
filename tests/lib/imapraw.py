"""A small IMAP client independent of inboxfs, used to seed and to verify.

Two halves:

* RawIMAP: a socket-level client (implicit TLS, STARTTLS or plain) with
  CREATE (names given in UTF-8, encoded to modified UTF-7 here), fast
  seeding with MULTIAPPEND + LITERAL+, and a pipelined UID FETCH used as the
  "raw IMAP client" baseline of benchmarks.
* Verification helpers built on the standard library's imaplib (the oracle):
  folder_state(), fetch_body(), fetch_bodies(), list_mailboxes().

Modified UTF-7 (RFC 3501 5.1.3): mutf7_encode("Entwürfe") == "Entw&APw-rfe".
"""

import base64
import calendar
import re
import socket
import ssl
import time

# ------------------------------------------------------------ modified UTF-7


def mutf7_encode(name):
    """UTF-8 str -> modified UTF-7 str (RFC 3501 5.1.3)."""
    out, run = [], []

    def flush():
        if run:
            raw = "".join(run).encode("utf-16-be")
            b64 = base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",")
            out.append("&" + b64 + "-")
            run.clear()

    for ch in name:
        o = ord(ch)
        if 0x20 <= o <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)


def mutf7_decode(name):
    """modified UTF-7 str (or bytes) -> UTF-8 str."""
    if isinstance(name, (bytes, bytearray)):
        name = name.decode("ascii")
    out, i = [], 0
    while i < len(name):
        ch = name[i]
        if ch != "&":
            out.append(ch)
            i += 1
            continue
        j = name.index("-", i + 1)
        chunk = name[i + 1:j]
        if chunk == "":
            out.append("&")
        else:
            b64 = chunk.replace(",", "/")
            b64 += "=" * (-len(b64) % 4)
            out.append(base64.b64decode(b64).decode("utf-16-be"))
        i = j + 1
    return "".join(out)


# ------------------------------------------------------------ date helpers

_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
           "Oct", "Nov", "Dec"]


def imap_date(epoch, tz_minutes=0):
    """INTERNALDATE string for a UTC epoch, shown in the given zone offset:
    '25-Nov-2024 19:43:00 +0100'."""
    t = time.gmtime(int(epoch) + tz_minutes * 60)
    sign = "+" if tz_minutes >= 0 else "-"
    tz = abs(tz_minutes)
    return '%02d-%s-%04d %02d:%02d:%02d %s%02d%02d' % (
        t.tm_mday, _MONTHS[t.tm_mon - 1], t.tm_year, t.tm_hour, t.tm_min,
        t.tm_sec, sign, tz // 60, tz % 60)


def parse_imap_date(s):
    """'25-Nov-2024 19:43:00 +0100' (day may be space padded) -> UTC epoch."""
    if isinstance(s, (bytes, bytearray)):
        s = s.decode("ascii")
    s = s.strip().strip('"').strip()
    m = re.match(r"(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$", s)
    if not m:
        raise ValueError("bad INTERNALDATE %r" % s)
    day, mon, year, hh, mm, ss, sign, tzh, tzm = m.groups()
    mon = _MONTHS.index(mon.capitalize()) + 1
    off = (int(tzh) * 60 + int(tzm)) * 60 * (1 if sign == "+" else -1)
    return calendar.timegm((int(year), mon, int(day), int(hh), int(mm), int(ss))) - off


# ------------------------------------------------------------ raw client


class IMAPError(Exception):
    pass


class Response:
    """A tagged command's outcome: status ('OK'/'NO'/'BAD'), the tagged
    line's text, and the untagged responses as lists of parts (bytes lines
    and literal bytes alternate: [line, literal, line, ...])."""

    def __init__(self, status, text, untagged):
        self.status, self.text, self.untagged = status, text, untagged

    def __repr__(self):
        return "Response(%s %r, %d untagged)" % (self.status, self.text, len(self.untagged))


_LITERAL_RE = re.compile(rb"~?\{(\d+)\+?\}\r\n$")  # ~{n}: a literal8 (RFC 3516)


class RawIMAP:
    """Socket-level IMAP client. Use RawIMAP.connect(...)."""

    BUFSIZE = 1 << 20

    def __init__(self, sock):
        self.sock = sock
        # one pre-faulted receive buffer, reused (first-touch page faults
        # are expensive on these machines)
        self._rbuf = bytearray(self.BUFSIZE)
        self._rview = memoryview(self._rbuf)
        self._data = bytearray()
        self._pos = 0
        self._tagn = 0
        self.capabilities = set()
        self.greeting = self.read_line()
        if not self.greeting.startswith(b"* OK") and not self.greeting.startswith(b"* PREAUTH"):
            raise IMAPError("bad greeting %r" % self.greeting)
        self._caps_from(self.greeting)

    @classmethod
    def connect(cls, host, port, tls="imaps", cafile=None, server_hostname=None,
                timeout=60, ssl_context=None):
        """tls: 'imaps' (implicit TLS), 'starttls', or None (plaintext)."""
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ctx = ssl_context
        if tls and ctx is None:
            ctx = ssl.create_default_context(cafile=cafile)
        if tls == "imaps":
            sock = ctx.wrap_socket(sock, server_hostname=server_hostname or host)
        c = cls(sock)
        if tls == "starttls":
            if "STARTTLS" not in c.capabilities:
                c.command("CAPABILITY")
            c.check(c.command("STARTTLS"))
            c.sock = ctx.wrap_socket(c.sock, server_hostname=server_hostname or host)
            c.capabilities = set()
            c.command("CAPABILITY")
        elif not c.capabilities:
            c.command("CAPABILITY")
        return c

    # -- low level reading
    def _fill(self):
        if self._pos:
            del self._data[:self._pos]
            self._pos = 0
        n = self.sock.recv_into(self._rview, self.BUFSIZE)
        if n == 0:
            raise IMAPError("connection closed by server")
        self._data += self._rview[:n]

    def read_line(self):
        """One line including CRLF."""
        while True:
            i = self._data.find(b"\r\n", self._pos)
            if i >= 0:
                line = bytes(self._data[self._pos:i + 2])
                self._pos = i + 2
                return line
            self._fill()

    def read_exact(self, n):
        while len(self._data) - self._pos < n:
            self._fill()
        out = bytes(self._data[self._pos:self._pos + n])
        self._pos += n
        return out

    def read_response(self):
        """One complete response: list of parts [line, literal, line, ...];
        lines keep their CRLF."""
        parts = []
        while True:
            line = self.read_line()
            parts.append(line)
            m = _LITERAL_RE.search(line)
            if not m:
                return parts
            parts.append(self.read_exact(int(m.group(1))))

    def send(self, data):
        self.sock.sendall(data)

    def next_tag(self):
        self._tagn += 1
        return "R%04d" % self._tagn

    def _caps_from(self, line):
        m = re.search(rb"\[CAPABILITY ([^\]]*)\]", line)
        if m:
            self.capabilities = set(m.group(1).decode().upper().split())

    def wait_tagged(self, tag):
        """Read until the tagged response for tag; returns Response."""
        untagged = []
        btag = tag.encode() + b" "
        while True:
            parts = self.read_response()
            first = parts[0]
            if first.startswith(btag):
                rest = first[len(btag):].rstrip(b"\r\n").decode(errors="replace")
                status, _, text = rest.partition(" ")
                self._caps_from(first)
                return Response(status.upper(), text, untagged)
            if first.startswith(b"* CAPABILITY "):
                self.capabilities = set(first[13:].strip().decode().upper().split())
            elif first.startswith(b"+"):
                raise IMAPError("unexpected continuation %r" % first)
            untagged.append(parts)

    def command(self, cmd):
        """Send one command (str or bytes, without tag/CRLF); return Response."""
        tag = self.next_tag()
        if isinstance(cmd, str):
            cmd = cmd.encode("utf-8")
        self.send(tag.encode() + b" " + cmd + b"\r\n")
        return self.wait_tagged(tag)

    @staticmethod
    def check(resp, what="command"):
        if resp.status != "OK":
            raise IMAPError("%s failed: %s %s" % (what, resp.status, resp.text))
        return resp

    # -- commands
    def login(self, user, password):
        r = self.command("LOGIN %s %s" % (quote(user), quote(password)))
        self.check(r, "LOGIN")
        if not any(c.startswith("IMAP4") for c in self.capabilities):
            self.command("CAPABILITY")
        return r

    def logout(self):
        try:
            self.command("LOGOUT")
        except (IMAPError, OSError):
            pass
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def create(self, name, parents=False):
        """CREATE a mailbox given as a UTF-8 path ("/"-separated). With
        parents=True, also create every parent first. A mailbox that
        already exists is not an error."""
        paths = [name]
        if parents:
            bits = name.split("/")
            paths = ["/".join(bits[:i]) for i in range(1, len(bits) + 1)]
        for p in paths:
            r = self.command("CREATE " + quote(mutf7_encode(p)))
            if r.status != "OK" and "ALREADYEXISTS" not in r.text.upper():
                raise IMAPError("CREATE %s failed: %s %s" % (p, r.status, r.text))
        return True

    def select(self, name, readonly=False):
        """SELECT/EXAMINE a UTF-8 mailbox; returns dict with EXISTS,
        UIDVALIDITY, UIDNEXT (ints when present)."""
        r = self.check(self.command("%s %s" % ("EXAMINE" if readonly else "SELECT",
                                                quote(mutf7_encode(name)))), "SELECT")
        info = {}
        for parts in r.untagged:
            line = parts[0].decode(errors="replace")
            m = re.match(r"\* (\d+) EXISTS", line)
            if m:
                info["EXISTS"] = int(m.group(1))
            m = re.search(r"\[(UIDVALIDITY|UIDNEXT) (\d+)\]", line)
            if m:
                info[m.group(1)] = int(m.group(2))
        return info

    def append_many(self, mailbox, messages, batch=500, max_batch_bytes=32 << 20):
        """Seed messages fast: MULTIAPPEND with non-synchronising literals.

        messages: iterable of (body bytes, flags (list of str), epoch int,
        optional tz offset in minutes). Each batch is one APPEND command
        (one transaction in Dovecot). Returns the number appended.

        Falls back to one synchronising APPEND per message when the server
        lacks LITERAL+ or MULTIAPPEND.
        """
        box = quote(mutf7_encode(mailbox)).encode()
        fast = "LITERAL+" in self.capabilities and "MULTIAPPEND" in self.capabilities
        total = 0
        chunk, chunk_bytes = [], 0

        def flush():
            nonlocal chunk, chunk_bytes, total
            if not chunk:
                return
            tag = self.next_tag()
            if fast:
                pieces = [tag.encode(), b" APPEND ", box]
                for body, flags, epoch, tz in chunk:
                    pieces.append(b" (%s) \"%s\" {%d+}\r\n" % (
                        " ".join(flags).encode(), imap_date(epoch, tz).encode(), len(body)))
                    pieces.append(body)
                pieces.append(b"\r\n")
                self.send(b"".join(pieces))
                self.check(self.wait_tagged(tag), "APPEND to %s" % mailbox)
            else:
                for body, flags, epoch, tz in chunk:
                    self._append_sync(box, body, flags, epoch, tz)
            total += len(chunk)
            chunk, chunk_bytes = [], 0

        for m in messages:
            body, flags, epoch = m[0], m[1], m[2]
            tz = m[3] if len(m) > 3 else 0
            if isinstance(body, str):
                body = body.encode("utf-8")
            chunk.append((body, list(flags), epoch, tz))
            chunk_bytes += len(body)
            if len(chunk) >= batch or chunk_bytes >= max_batch_bytes:
                flush()
        flush()
        return total

    def _append_sync(self, box, body, flags, epoch, tz):
        tag = self.next_tag()
        self.send(b"%s APPEND %s (%s) \"%s\" {%d}\r\n" % (
            tag.encode(), box, " ".join(flags).encode(), imap_date(epoch, tz).encode(),
            len(body)))
        line = self.read_line()
        if not line.startswith(b"+"):
            raise IMAPError("APPEND refused: %r" % line)
        self.send(body + b"\r\n")
        self.check(self.wait_tagged(tag), "APPEND")

    def _try_parse_response(self):
        """Parse one complete response from the buffer without reading the
        socket; returns its parts, or None (nothing consumed) if incomplete."""
        data, pos = self._data, self._pos
        parts = []
        while True:
            i = data.find(b"\r\n", pos)
            if i < 0:
                return None
            line = bytes(data[pos:i + 2])
            pos = i + 2
            parts.append(line)
            m = _LITERAL_RE.search(line)
            if not m:
                self._pos = pos
                return parts
            n = int(m.group(1))
            if len(data) - pos < n:
                return None
            parts.append(bytes(data[pos:pos + n]))
            pos += n

    def uid_fetch_pipelined(self, uids, items="BODY.PEEK[]", per_command=1,
                            window=None, collect=True, timeout=300):
        """Raw pipelined fetch (benchmark baseline). The mailbox must be
        selected. Sends `UID FETCH <uids> (<items>)` commands, per_command
        UIDs each, without waiting for answers (at most `window` commands
        outstanding; None = no limit), and reads all responses, parsing
        literals by length. One thread, non-blocking socket: an SSL socket
        must not be read and written from two threads at once.

        Returns (dict uid -> first literal bytes if collect else its length,
        total literal bytes)."""
        import select
        uids = list(uids)
        groups = [uids[i:i + per_command] for i in range(0, len(uids), per_command)]
        cmds = []
        for g in groups:
            tag = self.next_tag()
            cmds.append((tag, b"%s UID FETCH %s (%s)\r\n" % (
                tag.encode(), ",".join(map(str, g)).encode(), items.encode())))
        result, total = {}, 0
        pending = set()
        next_cmd = 0
        out = bytearray()
        uid_re = re.compile(rb"UID (\d+)")
        want = (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError)
        deadline = time.monotonic() + timeout
        self.sock.setblocking(False)
        try:
            while next_cmd < len(cmds) or pending or out:
                # queue more commands while the window allows
                while next_cmd < len(cmds) and (window is None or len(pending) < window) \
                        and len(out) < (1 << 16):
                    tag, line = cmds[next_cmd]
                    out += line
                    pending.add(tag)
                    next_cmd += 1
                # parse whatever is complete
                while True:
                    parts = self._try_parse_response()
                    if parts is None:
                        break
                    first = parts[0]
                    if first.startswith(b"* "):
                        if len(parts) > 1:
                            lit = parts[1]
                            total += len(lit)
                            m = uid_re.search(first) or uid_re.search(parts[-1])
                            if m:
                                result[int(m.group(1))] = lit if collect else len(lit)
                        continue
                    tag, _, rest = first.partition(b" ")
                    tag = tag.decode(errors="replace")
                    if tag in pending:
                        pending.discard(tag)
                        if not rest.upper().startswith(b"OK"):
                            raise IMAPError("pipelined fetch: %r" % first)
                if not (next_cmd < len(cmds) or pending or out):
                    break
                if time.monotonic() > deadline:
                    raise IMAPError("pipelined fetch timed out")
                # SSL may hold decrypted bytes that select() cannot see
                ready_r = isinstance(self.sock, ssl.SSLSocket) and self.sock.pending() > 0
                if not ready_r:
                    r, w, _ = select.select([self.sock], [self.sock] if out else [], [], 5)
                    ready_r = bool(r)
                    if w and out:
                        try:
                            n = self.sock.send(out[:1 << 16])
                            del out[:n]
                        except want:
                            pass
                if ready_r:
                    if self._pos:
                        del self._data[:self._pos]
                        self._pos = 0
                    try:
                        n = self.sock.recv_into(self._rview, self.BUFSIZE)
                    except want:
                        continue
                    if n == 0:
                        raise IMAPError("connection closed by server")
                    self._data += self._rview[:n]
        finally:
            self.sock.settimeout(timeout)
        return result, total


def quote(s):
    """An IMAP quoted string (no CR/LF allowed)."""
    if any(c in s for c in "\r\n\0"):
        raise ValueError("cannot quote CR/LF/NUL")
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ------------------------------------------------------------ imaplib oracle

import imaplib  # noqa: E402  (kept next to the helpers that use it)

# 20 MB messages come back as one literal: raise imaplib's line limit
imaplib._MAXLINE = max(imaplib._MAXLINE, 1 << 20)

_FETCH_ITEMS_RE = {
    "uid": re.compile(rb"\bUID (\d+)"),
    "size": re.compile(rb"\bRFC822\.SIZE (\d+)"),
    "date": re.compile(rb'\bINTERNALDATE "([^"]+)"'),
    "flags": re.compile(rb"\bFLAGS \(([^)]*)\)"),
}


def imaplib_connect(host, port, user, password, tls="imaps", cafile=None):
    ctx = ssl.create_default_context(cafile=cafile) if tls else None
    if tls == "imaps":
        m = imaplib.IMAP4_SSL(host, port, ssl_context=ctx, timeout=60)
    else:
        m = imaplib.IMAP4(host, port, timeout=60)
        if tls == "starttls":
            m.starttls(ssl_context=ctx)
    m.login(user, password)
    return m


def _examine(m, folder):
    typ, data = m.select(imaplib_quote(mutf7_encode(folder)), readonly=True)
    if typ != "OK":
        raise IMAPError("EXAMINE %s: %s %r" % (folder, typ, data))
    return int(data[0])


def imaplib_quote(s):
    return quote(s)


def folder_state(m, folder, with_recent=False):
    """{uid: (RFC822.SIZE, INTERNALDATE as UTC epoch, frozenset(flags))}
    for a UTF-8 folder path, read with EXAMINE (changes nothing). \\Recent
    is left out unless with_recent (it is per session)."""
    n = _examine(m, folder)
    state = {}
    if n == 0:
        return state
    typ, data = m.uid("FETCH", "1:*", "(UID RFC822.SIZE INTERNALDATE FLAGS)")
    if typ != "OK":
        raise IMAPError("UID FETCH: %s %r" % (typ, data))
    for item in data:
        if isinstance(item, tuple):
            item = item[0]
        if not item:
            continue
        got = {k: r.search(item) for k, r in _FETCH_ITEMS_RE.items()}
        if not all(got.values()):
            raise IMAPError("unparsable FETCH response %r" % item)
        flags = frozenset(f for f in got["flags"].group(1).decode().split()
                          if with_recent or f.lower() != "\\recent")
        state[int(got["uid"].group(1))] = (int(got["size"].group(1)),
                                           parse_imap_date(got["date"].group(1)), flags)
    return state


def fetch_body(m, folder, uid):
    """BODY.PEEK[] bytes of one message (EXAMINEs the folder)."""
    _examine(m, folder)
    bodies = _fetch_bodies_selected(m, str(uid))
    if int(uid) not in bodies:
        raise IMAPError("no such uid %s in %s" % (uid, folder))
    return bodies[int(uid)]


def fetch_bodies(m, folder, uids=None):
    """{uid: BODY.PEEK[] bytes} for all (or the given) messages of a folder."""
    n = _examine(m, folder)
    if n == 0:
        return {}
    uidset = "1:*" if uids is None else ",".join(str(u) for u in uids)
    return _fetch_bodies_selected(m, uidset)


def _fetch_bodies_selected(m, uidset):
    typ, data = m.uid("FETCH", uidset, "(UID BODY.PEEK[])")
    if typ != "OK":
        raise IMAPError("UID FETCH BODY.PEEK[]: %s %r" % (typ, data))
    out = {}
    for item in data:
        if isinstance(item, tuple):
            mm = re.search(rb"\bUID (\d+)", item[0])
            if mm and b"BODY[]" in item[0]:
                out[int(mm.group(1))] = item[1]
    return out


_LIST_RE = re.compile(rb'^\((?P<flags>[^)]*)\) (?P<delim>"(?:[^"\\]|\\.)*"|NIL) (?P<name>.*)$')


def list_mailboxes(m, with_flags=False):
    """All mailboxes (LIST "" "*") as UTF-8 paths with "/" separators,
    sorted. with_flags=True returns {path: frozenset(flags)} instead."""
    typ, data = m.list('""', "*")
    if typ != "OK":
        raise IMAPError("LIST: %s %r" % (typ, data))
    out = {}
    for item in data:
        if item is None:
            continue
        if isinstance(item, tuple):  # name sent as a literal
            head, lit = item
            mm = _LIST_RE.match(head.rstrip())
            name = lit
        else:
            mm = _LIST_RE.match(item)
            name = None
        if not mm:
            raise IMAPError("unparsable LIST response %r" % (item,))
        if name is None:
            name = mm.group("name").strip()
            if name.startswith(b'"'):
                name = re.sub(rb"\\(.)", rb"\1", name[1:-1])
        delim = mm.group("delim")
        delim = None if delim == b"NIL" else re.sub(rb"\\(.)", rb"\1", delim[1:-1]).decode()
        path = mutf7_decode(name)
        if delim and delim != "/":
            path = "/".join(path.split(delim))
        out[path] = frozenset(mm.group("flags").decode().split())
    if with_flags:
        return dict(sorted(out.items()))
    return sorted(out)
