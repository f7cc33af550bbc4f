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
    p.close_all(say=b"* BYE ...\r\n")  # the connections open now get these
                                   # bytes as if from the server, then close
    p.server_filter = fn           # fn(state, data) -> data for every chunk
                                   # server -> client (state: a dict per
                                   # connection), to add what a server says

Plaintext only (inboxfs with -o tls=none) when a pattern is to be seen.
Each rule fires once; connections made afterwards are forwarded normally.
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
        self._cut = None       # [bytes left, reset] for the server -> client stream
        self._delay = 0
        self._kill = None
        self._kill_gen = 0
        self.server_filter = None

    def start(self):
        t = threading.Thread(target=self._accept_loop, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def blackhole(self):
        with self.lock:
            for c in self._conns:
                c[0] = True

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
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
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

    def _pump(self, client):
        try:
            server = socket.create_connection(self.upstream)
        except OSError:  # the server is down: the client sees a close
            client.close()
            return
        socks = [client, server]
        hole = [False]
        fstate = {}
        born = self._kill_gen
        with self.lock:
            self._conns.append(hole)
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

    def stop(self):
        self._stop = True
        self.listener.close()
        for t in self._threads:
            t.join(timeout=2)
