"""A TCP proxy between inboxfs and a server that can break the connection
at a chosen moment (faults Dovecot itself cannot produce on demand).

    p = FaultProxy(("127.0.0.1", upstream_port)).start()
    p.cut_before(b"UID EXPUNGE")   # the next client data containing this is
                                   # never delivered: both sides are closed
    ... p.port ... p.cuts (how many times it cut) ... p.stop()

    p.cut_after(n, reset=False)    # the connections open now are cut once the
                                   # server has sent n more bytes (mid-literal),
                                   # with an RST instead of a FIN when reset
    p.delay(seconds)               # every chunk is held this long (0: off)
    p.blackhole()                  # the connections open now go silent both
                                   # ways, sockets kept open (a dead NAT entry)
    p.blackhole(new="drop")        # ... and so do new ones, until link_back():
                                   # their SYNs go unanswered (connect times
                                   # out, as over a dropped link); new="hold":
                                   # accepted, then silent (a middlebox)
    p.link_back()                  # new connections are forwarded again (those
                                   # blackholed stay dead, as TCP gave up on them)
    p.close_all(say=b"* BYE ...\r\n")  # the connections open now get these
                                   # bytes as if from the server, then close
    p.open_now, p.peak             # connections open now, the most at once
    p.opened                       # connections forwarded since the start
    p.streams                      # each one's client -> server bytes, in
                                   # the order they were opened
    p.server_filter = fn           # fn(state, data) -> data for every chunk
                                   # server -> client (state: a dict per
                                   # connection), to add what a server says

Plaintext only (inboxfs with -o tls=none) when a pattern is to be seen.
Each rule fires once; connections made afterwards are forwarded normally
(but during a blackhole(new=...)).

A local proxy cannot drop a SYN itself; the kernel does it for us: with
the listen backlog at 0 and one connection of the proxy's own waiting
unaccepted, the accept queue is full and Linux drops every further SYN
(tcp_conn_request), so a client's connect() waits for its own timeout.
"""

import select
import socket
import struct
import threading
import time


class FaultProxy:
    def __init__(self, upstream):
        self.upstream = upstream
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.rules = []        # patterns still armed
        self.cuts = 0
        self.client_bytes = bytearray()   # everything forwarded client -> server
        self.swallowed = bytearray()      # client -> server bytes lost in a blackhole
        self._stop = False
        self._threads = []
        self._conns = []       # [blackholed] flags of the open connections
        self.open_now = 0      # connections to the server open at this moment
        self.peak = 0          # the most ever open at once
        self.opened = 0        # connections forwarded to the server so far
        self.streams = []      # a bytearray of client -> server bytes for each
        self._cut = None       # [bytes left, reset] for the server -> client stream
        self._delay = 0
        self._kill = None
        self._kill_gen = 0
        self._new = None       # blackhole(new=...): "drop" or "hold"
        self._accepting = threading.Event()  # the accept loop is not inside accept()
        self._fillers = []     # our own connections that keep the accept queue full
        self.server_filter = None

    def start(self):
        t = threading.Thread(target=self._accept_loop, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def blackhole(self, new=None):
        """The open connections go silent; with new="drop" or "hold", so
        do the ones made from now on until link_back()."""
        assert new in (None, "drop", "hold")
        with self.lock:
            for c in self._conns:
                c[0] = True
            self._new = new
        if new == "drop":
            self._fill_accept_queue()

    def link_back(self):
        """New connections are forwarded again."""
        with self.lock:
            self._new = None
        self.listener.listen(16)
        for f in self._fillers:
            f.close()   # accepted and closed by the accept loop
        self._fillers = []

    def _fill_accept_queue(self):
        """Keep the accept queue full, so that the kernel drops new SYNs."""
        self._accepting.clear()
        assert self._accepting.wait(5), "the accept loop does not pause"
        self.listener.listen(0)
        for _ in range(8):
            f = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            f.setblocking(False)
            f.connect_ex(("127.0.0.1", self.port))
            self._fillers.append(f)
            _, w, _ = select.select([], [f], [], 0.2)
            if not w:
                return   # this SYN went unanswered: the queue is full
        raise AssertionError("the accept queue does not fill up")

    def delay(self, seconds):
        self._delay = seconds

    def close_all(self, reset=False, say=None):
        """Close (or reset) every open connection now, both sides, after
        sending `say` to the client (a server's last words: BYE ...)."""
        with self.lock:
            self._kill = {"reset": reset, "gen": self._kill_gen + 1, "say": say}
            self._kill_gen += 1

    def cut_after(self, nbytes, reset=False):
        with self.lock:
            self._cut = [nbytes, reset]

    def cut_before(self, pattern):
        with self.lock:
            self.rules.append(pattern)

    def _accept_loop(self):
        while not self._stop:
            with self.lock:
                dropping = self._new == "drop"
            if dropping:   # the queue stays full: nothing is accepted
                self._accepting.set()
                time.sleep(0.02)
                continue
            self._accepting.set()
            try:
                r, _, _ = select.select([self.listener], [], [], 0.05)
                if not r:
                    continue
                with self.lock:
                    if self._new == "drop":
                        continue
                self.listener.setblocking(False)
                client, _ = self.listener.accept()
            except BlockingIOError:
                continue
            except (OSError, ValueError):
                return
            client.setblocking(True)
            t = threading.Thread(target=self._pump, args=(client,), daemon=True)
            t.start()
            self._threads.append(t)

    def _armed_hit(self, data):
        with self.lock:
            for p in self.rules:
                if p in data:
                    self.rules.remove(p)
                    self.cuts += 1
                    return True
        return False

    def _take_cut(self, n):
        """(bytes to pass, reset) when this chunk crosses the cut, else None."""
        with self.lock:
            if self._cut is None:
                return None
            if n < self._cut[0]:
                self._cut[0] -= n
                return None
            cut, self._cut = self._cut, None
            self.cuts += 1
            return cut

    def _hold(self, client):
        """A connection accepted during blackhole(new="hold"): silent."""
        with self.lock:
            self._conns.append([True])
        try:
            while not self._stop:
                r, _, _ = select.select([client], [], [], 0.05)
                if r:
                    data = client.recv(65536)
                    if not data:
                        return
                    with self.lock:
                        self.swallowed += data
        except OSError:
            return
        finally:
            client.close()

    def _pump(self, client):
        with self.lock:
            held = self._new is not None
        if held:
            self._hold(client)
            return
        try:
            server = socket.create_connection(self.upstream)
        except OSError:  # the server is down: the client sees a close
            client.close()
            return
        socks = [client, server]
        for sk in socks:  # forward each chunk at once: no Nagle wait for an ACK
            sk.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        hole = [False]
        fstate = {}
        born = self._kill_gen
        stream = bytearray()
        with self.lock:
            self._conns.append(hole)
            self.streams.append(stream)
            self.opened += 1
            self.open_now += 1
            self.peak = max(self.peak, self.open_now)
        try:
            while not self._stop:
                r, _, _ = select.select(socks, [], [], 0.05)
                kill = self._kill
                if kill and kill["gen"] > born:
                    if kill.get("say"):
                        client.sendall(kill["say"])
                    if kill["reset"]:
                        for sk in socks:
                            sk.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                          struct.pack("ii", 1, 0))
                    return
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        return
                    if self._delay:
                        time.sleep(self._delay)  # the fault itself: a slow link
                    if hole[0]:
                        if s is client:
                            with self.lock:
                                self.swallowed += data
                        continue  # neither side hears anything
                    if s is client:
                        if self._armed_hit(data):
                            return  # the server never sees it
                        with self.lock:
                            self.client_bytes += data
                            stream += data
                        server.sendall(data)
                    else:
                        if self.server_filter is not None:
                            data = self.server_filter(fstate, data)
                        cut = self._take_cut(len(data))
                        if cut is not None:
                            client.sendall(data[:cut[0]])
                            if cut[1]:  # RST: linger 0, then close
                                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                                  struct.pack("ii", 1, 0))
                            return
                        client.sendall(data)
        except OSError:
            return
        finally:
            for s in socks:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            with self.lock:
                self.open_now -= 1

    def stop(self):
        self._stop = True
        self.listener.close()
        for f in self._fillers:
            f.close()
        for t in self._threads:
            t.join(timeout=2)
