"""A malicious IMAP server: fakeimap.py plus attacks, for tests/integration/test_hostile.py.

    srv = EvilIMAPServer([FakeMailbox("INBOX", msgs)])
    srv.attack_once("UID FETCH", send_raw(b"* 1 FETCH (BODY[] {9223372036854775808}\\r\\n"),
                    when=lambda args: "BODY.PEEK" in args)
    with srv: ...
    srv.wait_client_closed(conn_id)   # the client hung up on that connection

What it adds to FakeIMAPServer:
  * attack_once(command, fn, when=None): the first matching command gets
    fn(session, tag) instead of an answer; later ones are answered normally
    (the "well-behaved script step" a reconnecting client meets);
    srv.attacked is the connection number it happened on (None before);
  * a record of who closed each connection: client_closed (a set of
    connection numbers whose client hung up: EOF, reset or broken pipe),
    server_closed (those the attack closed itself);
  * list_wire: raw LIST responses (bytes, without "* " and CRLF) sent
    before the normal ones, for names quoted strings cannot carry;
  * STARTTLS with a real TLS handshake (tls_cert, tls_key), and
    starttls_inject: bytes sent in the same packet as the tagged OK
    (starttls_before: the same, but before the OK);
  * greeting (inherited) may carry untagged data before the real greeting.
"""

import select
import socket
import ssl
import threading

from fakeimap import FakeIMAPServer, FakeMailbox, FakeSession

# Stop pushing an endless stream after this much: a client that has not
# hung up by then never will (and the test fails on that).
ENDLESS_CAP = 256 << 20


class ClientClosed(Exception):
    pass


class EvilSession(FakeSession):
    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        try:
            with self.wlock:
                self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError) as e:
            self.server.note_client_closed(self.conn_id)
            raise ClientClosed() from e

    def readline(self):
        try:
            return super().readline()
        except EOFError:
            if not self.closed:
                self.server.note_client_closed(self.conn_id)
            raise
        except (ConnectionResetError, ssl.SSLError) as e:
            self.server.note_client_closed(self.conn_id)
            raise EOFError() from e

    def run(self):
        try:
            super().run()
        except ClientClosed:
            self.close()

    def server_close(self):
        """The attack ends the connection itself."""
        self.server.note_server_closed(self.conn_id)
        self.close()

    def dispatch(self, first, segments):
        try:
            super().dispatch(first, segments)
        except ClientClosed:
            self.closed = True

    def cmd_LIST(self, tag, args):
        for raw in self.server.list_wire:
            self.send(b"* " + raw + b"\r\n")
        super().cmd_LIST(tag, args)

    # Mailbox changes, so that user-side names reach a log and a list.
    def cmd_CREATE(self, tag, args):
        if self.need_auth(tag):
            self.server.mailboxes.append(FakeMailbox(self.astring(args[0])))
            self.tagged(tag, "OK", "Create completed")

    def cmd_DELETE(self, tag, args):
        if self.need_auth(tag):
            mb = self.find_mailbox(self.astring(args[0]))
            if mb is not None:
                self.server.mailboxes.remove(mb)
            self.tagged(tag, "OK" if mb else "NO", "Delete")

    def cmd_RENAME(self, tag, args):
        if self.need_auth(tag):
            mb = self.find_mailbox(self.astring(args[0]))
            if mb is not None:
                mb.name = self.astring(args[1])
            self.tagged(tag, "OK" if mb else "NO", "Rename")

    def cmd_STARTTLS(self, tag, args):
        srv = self.server
        ok = ("%s OK Begin TLS negotiation now\r\n" % tag).encode()
        # One sendall: the injected bytes travel in the same TCP segment
        # as the OK, so the client has them before it starts TLS.
        self.send(srv.starttls_before + ok + srv.starttls_inject)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(srv.tls_cert, srv.tls_key)
        try:
            self.sock = ctx.wrap_socket(self.sock, server_side=True)
        except (ssl.SSLError, OSError):
            self.server.note_client_closed(self.conn_id)
            self.closed = True
            return
        srv.tls_sessions.add(self.conn_id)
        self.rfile = self.sock.makefile("rb")


class EvilIMAPServer(FakeIMAPServer):
    def __init__(self, *args, **kw):
        kw.setdefault("session_class", EvilSession)
        super().__init__(*args, **kw)
        self.client_closed = set()
        self.server_closed = set()
        self.tls_sessions = set()
        self.list_wire = []
        self.starttls_before = b""
        self.starttls_inject = b""
        self.tls_cert = self.tls_key = None
        self.attacked = None

    def note_client_closed(self, conn_id):
        with self._changed:
            self.client_closed.add(conn_id)
            self._changed.notify_all()

    def note_server_closed(self, conn_id):
        with self._changed:
            self.server_closed.add(conn_id)
            self._changed.notify_all()

    def attack_once(self, command, fn, when=None):
        done = threading.Event()

        def hook(session, tag, args):
            mine = session.server.commands_on(session.conn_id)
            shown = mine[-1].args if mine else ""
            if done.is_set() or (when is not None and not when(shown)):
                return False
            done.set()
            self.attacked = session.conn_id
            fn(session, tag)
            return True
        self.hooks[command.upper()] = hook

    def wait_client_closed(self, conn_id, timeout=10.0):
        """True once the client has hung up on connection conn_id."""
        return bool(self.wait_for(lambda _log: conn_id in self.client_closed, timeout))

    def wait_attacked(self, timeout=10.0):
        return self.wait_for(lambda _log: self.attacked, timeout)

    def commands_on(self, conn_id):
        return [e for e in self.commands() if e.conn == conn_id]


# ------------------------------------------------------------ attacks

def send_raw(data, then_close=False):
    """An attack that writes data (bytes, or a callable(tag) -> bytes)
    and, with then_close, closes the connection itself."""
    def attack(session, tag):
        session.send(data(tag) if callable(data) else data)
        if then_close:
            session.server_close()
    return attack


def endless_line(chunk=64 << 10, cap=ENDLESS_CAP):
    """Bytes without a line end until the client hangs up.  A client that
    stops reading leaves us blocked in send() for ever, so wait for the
    socket to be writable or readable: readable with nothing to read is
    the client's FIN (anything else it sends now is ignored)."""
    def attack(session, tag):
        sock = session.sock
        sent = 0
        while sent < cap:
            r, w, _ = select.select([sock], [sock], [], 10)
            if r:
                try:
                    got = sock.recv(1 << 16)
                except OSError:
                    got = b""
                if not got:
                    session.server.note_client_closed(session.conn_id)
                    session.closed = True
                    return
                continue
            if not w:
                break
            block = b"* OK " + b"x" * (chunk - 5) if sent == 0 else b"x" * chunk
            try:
                sent += sock.send(block, socket.MSG_DONTWAIT)
            except BlockingIOError:
                continue
            except OSError:
                session.server.note_client_closed(session.conn_id)
                session.closed = True
                return
        session.server_close()
    return attack


def nested_lists(depth):
    return send_raw(b"* 1 FETCH (FLAGS " + b"(" * depth + b")" * depth + b")\r\n")


def quote_name(name):
    return b'"' + name.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def literal(data):
    return b"{%d}\r\n" % len(data) + data
