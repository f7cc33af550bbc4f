"""Real inotifywait (inotify-tools) watching a directory, its events
collected in the background.

    w = Inotify(path).start()         # returns once the watch is established
    w.wait_for(lambda evs: ..., timeout=5)  -> bool
    w.events   -> [(event_names, filename), ...], e.g. ("CREATE", "5.eml")
    w.stop()
"""

import subprocess
import threading
import time


class Inotify:
    def __init__(self, path, events=("create", "delete", "close_write", "moved_to",
                                     "moved_from")):
        self.path = path
        self.argv = ["inotifywait", "-m", "--format", "%e|%f"]
        for e in events:
            self.argv += ["-e", e]
        self.argv.append(path)
        self.events = []
        self.times = {}      # (event, name) -> time.monotonic() of its first report
        self.cond = threading.Condition()
        self.proc = None

    def start(self, timeout=10):
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        # inotifywait says so on stderr once the watch exists.
        deadline = time.monotonic() + timeout
        while True:
            line = self.proc.stderr.readline()
            if "Watches established" in line:
                break
            if not line or time.monotonic() > deadline:
                raise RuntimeError("inotifywait did not start: %r" % line)
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self):
        for line in self.proc.stdout:
            ev, _, name = line.rstrip("\n").partition("|")
            now = time.monotonic()
            with self.cond:
                self.events.append((ev, name))
                self.times.setdefault((ev, name), now)
                self.cond.notify_all()

    def wait_for(self, predicate, timeout):
        """Wait until predicate(events) is true (checked on each event)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate(self.events):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def named(self, kind):
        """File names of the events whose kinds include kind ("CREATE")."""
        with self.cond:
            return [n for e, n in self.events if kind in e.split(",")]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=5)
