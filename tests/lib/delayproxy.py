#!/usr/bin/python3
"""A TCP proxy on 127.0.0.1 that puts a far server's round trip between a
client and a server: every chunk read from either side is held RTT/2 before
it is written to the other (order kept per direction), optionally behind a
bandwidth cap per direction.  This machine has no netem.

    p = DelayProxy(("127.0.0.1", dc.imaps_port), rtt_ms=30).start()
    ... connect to ("localhost", p.port) ...
    p.set_rtt(100)        # chunks read from now on wait 50 ms each way
    p.set_rate(2.5e6)     # bytes/s each way (0: no cap, the default)
    s = p.stats()         # Stats(connections, up, down): opened so far, bytes
                          # client -> server and server -> client
    p.stats() - s         # what happened since s
    p.stop()

A new connection pays its TCP handshake too: the upstream connection is made
1.5 RTT after the client's (when a far server would accept it), and what the
client sends before that waits for it.

The proxy runs in a process of its own (asyncio), so a benchmark's Python
client does not share an interpreter lock with it; settings and counters
live in a small shared memory file.  It holds at most `buffer` bytes per
direction (then stops reading that side, as a full TCP window would), far
above what 100 MB/s needs at 100 ms.  `python3 delayproxy.py [MB]` prints its
own ceiling at RTT 0 beside a direct connection.
"""

import asyncio
import collections
import mmap
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

# the shared file: doubles, written by the parent (settings) or the child (counters)
_RTT, _RATE, _CONNS, _UP, _DOWN = range(5)
_SLOTS = 5
_WRITE_HIGH = 1 << 20    # bytes queued in a transport before it asks us to pause

Stats = collections.namedtuple("Stats", "connections up down")
Stats.__sub__ = lambda a, b: Stats(*(x - y for x, y in zip(a, b)))


class _Shared:
    """The settings and counters, one double per slot of an mmap'ed file."""

    def __init__(self, path, create=False):
        if create:
            with open(path, "wb") as f:
                f.write(bytes(8 * _SLOTS))
        with open(path, "r+b") as f:
            self.m = mmap.mmap(f.fileno(), 8 * _SLOTS)

    def get(self, slot):
        return struct.unpack_from("d", self.m, 8 * slot)[0]

    def set(self, slot, value):
        struct.pack_into("d", self.m, 8 * slot, value)

    def add(self, slot, value):
        self.set(slot, self.get(slot) + value)


class DelayProxy:
    """The parent's handle on a proxy process (see the module doc)."""

    def __init__(self, upstream, rtt_ms=0, rate=0, buffer=32 << 20):
        self.upstream = upstream
        self.buffer = buffer
        self.dir = tempfile.mkdtemp(prefix="delayproxy-", dir="/dev/shm")
        self.shared = _Shared(os.path.join(self.dir, "shared"), create=True)
        self.set_rtt(rtt_ms)
        self.set_rate(rate)
        self.proc = None
        self.port = None

    def start(self, timeout=10):
        """Start the process and wait for its listening port."""
        import dovecot  # its pre-exec hook: the proxy dies with the thread that started it
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve", self.upstream[0],
             str(self.upstream[1]), os.path.join(self.dir, "shared"), str(self.buffer)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, preexec_fn=dovecot._set_pdeathsig)
        line = _read_line(self.proc.stdout, timeout)
        if not line.startswith(b"port "):
            self.stop()
            raise RuntimeError("delay proxy did not start: %r" % line)
        self.port = int(line.split()[1])
        return self

    def set_rtt(self, rtt_ms):
        """The round trip added, in ms: RTT/2 each way, for chunks read from now on."""
        self.shared.set(_RTT, rtt_ms / 1000.0)

    def set_rate(self, bytes_per_s):
        """A bandwidth cap per direction (0: none)."""
        self.shared.set(_RATE, float(bytes_per_s))

    @property
    def rtt_ms(self):
        return self.shared.get(_RTT) * 1000

    def stats(self):
        """Connections opened and bytes forwarded each way, so far."""
        return Stats(*(int(self.shared.get(s)) for s in (_CONNS, _UP, _DOWN)))

    def stop(self):
        """Close every connection and end the process."""
        if self.proc is not None:
            self.proc.stdin.close()  # the child ends when its stdin does
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.proc = None
        self.shared.m.close()
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)

    def __enter__(self):
        return self.start() if self.proc is None else self

    def __exit__(self, *exc):
        self.stop()


def _read_line(pipe, timeout):
    """One line from a child's pipe, or b'' after timeout seconds."""
    got = []
    t = threading.Thread(target=lambda: got.append(pipe.readline()), daemon=True)
    t.start()
    t.join(timeout)
    return got[0] if got else b""


# ------------------------------------------------------------ the proxy process
class _Direction:
    """One direction of one connection: chunks from src wait until their due
    time in a FIFO, then go to dst in one write."""

    def __init__(self, shared, counter, buffer, pair):
        self.loop = asyncio.get_running_loop()
        self.shared, self.counter, self.buffer, self.pair = shared, counter, buffer, pair
        self.queue = collections.deque()   # (due, bytes, or None for EOF)
        self.held = 0
        self.link_free = 0.0               # when the capped link is idle again
        self.timer = None
        self.src = self.dst = None
        self.dst_paused = False
        self.done = False                  # EOF passed on

    def push(self, data):
        """A chunk (or None: EOF) read from src now."""
        due = self._due(len(data) if data else 0)
        if data:
            self.shared.add(self.counter, len(data))
            if not self.queue and self.dst is not None and due <= self.loop.time():
                self._write([data])  # RTT 0: no timer, no extra turn of the loop
                return
            self.held += len(data)
        self.queue.append((due, data))
        if self.timer is None and self.dst is not None:
            self._arm()
        self.throttle()

    def attach(self, dst):
        """dst is connected: what came before it can go."""
        self.dst = dst
        if self.queue and self.timer is None:
            self._arm()

    def _due(self, size):
        # serialised on the capped link first, then RTT/2 on the wire
        now, rate = self.loop.time(), self.shared.get(_RATE)
        if rate > 0:
            self.link_free = max(now, self.link_free) + size / rate
            now = self.link_free
        return max(now + self.shared.get(_RTT) / 2, self.queue[-1][0] if self.queue else 0)

    def _arm(self):
        self.timer = self.loop.call_at(self.queue[0][0], self._flush)

    def _flush(self):
        self.timer = None
        now = self.loop.time() + self.loop._clock_resolution
        out = []
        while self.queue and self.queue[0][0] <= now:
            _, data = self.queue.popleft()
            if data is None:
                self._write(out)
                out = []
                self._eof()
                return
            out.append(data)
            self.held -= len(data)
        self._write(out)
        if self.queue:
            self._arm()
        self.throttle()

    def _write(self, chunks):
        if chunks and not self.dst.is_closing():
            self.dst.write(b"".join(chunks) if len(chunks) > 1 else chunks[0])

    def _eof(self):
        self.done = True
        if not self.dst.is_closing():
            try:
                self.dst.write_eof()
            except OSError:  # the other side is gone already
                self.dst.abort()
        self.pair.check_done()

    def throttle(self):
        # stop reading src while we or dst hold too much: a full window
        if self.src is None or self.src.is_closing():
            return
        if self.held > self.buffer or self.dst_paused:
            self.src.pause_reading()
        else:
            self.src.resume_reading()


class _End(asyncio.Protocol):
    """One socket of a proxied connection: what it reads goes into `out`
    (the direction away from it); `into` is the direction that writes to it."""

    def __init__(self, pair, out, into):
        self.pair, self.out, self.into = pair, out, into

    def connection_made(self, transport):
        transport.set_write_buffer_limits(high=_WRITE_HIGH)
        self.out.src = transport
        self.into.attach(transport)
        if self is self.pair.client:
            self.pair.task = asyncio.ensure_future(self.pair.connect())

    def data_received(self, data):
        self.out.push(data)

    def eof_received(self):
        self.out.push(None)
        return True  # half-closed: the other direction goes on

    def pause_writing(self):
        self.into.dst_paused = True
        self.into.throttle()

    def resume_writing(self):
        self.into.dst_paused = False
        self.into.throttle()

    def connection_lost(self, exc):
        self.pair.close()


class _Pair:
    """A client connection and its upstream connection."""

    def __init__(self, upstream, shared, buffer, conns):
        self.upstream, self.shared, self.conns = upstream, shared, conns
        self.up = _Direction(shared, _UP, buffer, self)
        self.down = _Direction(shared, _DOWN, buffer, self)
        self.client = _End(self, self.up, self.down)
        self.server = _End(self, self.down, self.up)
        self.task = None
        self.closed = False
        shared.add(_CONNS, 1)
        conns.add(self)

    async def connect(self):
        # the kernel completed the client's handshake at once; a far server
        # accepts 1.5 RTT after connect() starts (SYN, SYN-ACK, ACK), and what
        # the client sent meanwhile waits for that (see _Direction.attach)
        await asyncio.sleep(1.5 * self.shared.get(_RTT))
        try:
            await asyncio.get_running_loop().create_connection(
                lambda: self.server, *self.upstream)
        except OSError:
            self.up.src.abort()
        if self.closed:
            self.close()

    def check_done(self):
        if self.up.done and self.down.done:
            self.close()

    def close(self):
        self.closed = True
        for d in (self.up, self.down):
            if d.timer is not None:
                d.timer.cancel()
            if d.src is not None and not d.src.is_closing():
                d.src.close()
        self.conns.discard(self)


async def _serve(host, port, path, buffer):
    """Listen on 127.0.0.1 (port printed on stdout) until stdin ends."""
    loop = asyncio.get_running_loop()
    shared = _Shared(path)
    conns = set()
    server = await loop.create_server(
        lambda: _Pair((host, port), shared, buffer, conns).client, "127.0.0.1", 0, backlog=128)
    sys.stdout.write("port %d\n" % server.sockets[0].getsockname()[1])
    sys.stdout.flush()
    stop = loop.create_future()
    loop.add_reader(sys.stdin.fileno(), lambda: stop.done() or (
        not os.read(sys.stdin.fileno(), 4096) and stop.set_result(None)))
    await stop
    server.close()
    for pair in list(conns):
        pair.close()


# ------------------------------------------------------------ its own ceiling
def _source(nbytes):
    """A server that sends nbytes to each connection, then closes."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)

    def serve():
        block = b"x" * (1 << 20)
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            left = nbytes
            while left > 0:
                left -= c.send(block[:min(left, len(block))])
            c.close()
    threading.Thread(target=serve, daemon=True).start()
    return ls


def _drain(port):
    """MB/s of reading everything a connection to port sends."""
    buf = bytearray(1 << 20)
    s = socket.create_connection(("127.0.0.1", port))
    t, total = time.perf_counter(), 0
    while True:
        n = s.recv_into(buf)
        if not n:
            break
        total += n
    secs = time.perf_counter() - t
    s.close()
    return total / secs / 1e6


def ceiling(mb=512, runs=3):
    """(direct MB/s, through the proxy at RTT 0 MB/s), best of runs."""
    ls = _source(mb << 20)
    port = ls.getsockname()[1]
    with DelayProxy(("127.0.0.1", port)) as p:
        direct = max(_drain(port) for _ in range(runs))
        proxied = max(_drain(p.port) for _ in range(runs))
        assert p.stats().down == runs * (mb << 20)
    ls.close()
    return direct, proxied


def _echo():
    """A server that echoes what each connection sends."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)

    def one(c):
        while True:
            data = c.recv(65536)
            if not data:
                c.close()
                return
            c.sendall(data)
    threading.Thread(target=lambda: one(ls.accept()[0]), daemon=True).start()
    return ls


def round_trips(rtts_ms, pings=20):
    """{rtt: (best, median) ms of a 4-byte echo through the proxy}."""
    ls = _echo()
    out = {}
    with DelayProxy(("127.0.0.1", ls.getsockname()[1])) as p:
        s = socket.create_connection(("127.0.0.1", p.port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for rtt in rtts_ms:
            p.set_rtt(rtt)
            ms = []
            for _ in range(pings):
                t = time.perf_counter()
                s.sendall(b"ping")
                assert s.recv(16) == b"ping"
                ms.append((time.perf_counter() - t) * 1000)
            out[rtt] = (min(ms), sorted(ms)[len(ms) // 2])
        s.close()
    ls.close()
    return out


def main(argv):
    if argv[:1] == ["--serve"]:
        host, port, path, buffer = argv[1], int(argv[2]), argv[3], int(argv[4])
        asyncio.run(_serve(host, port, path, buffer))
        return
    direct, proxied = ceiling(int(argv[0]) if argv else 512)
    print("ceiling: direct %.0f MB/s, through the delay proxy at RTT 0 %.0f MB/s"
          % (direct, proxied))
    for rtt, (best, med) in round_trips((0, 30, 100)).items():
        print("RTT %3d ms: echo round trip best %.2f ms, median %.2f ms" % (rtt, best, med))


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main(sys.argv[1:])
