"""Run the inboxfs binary under test: mount, wait for the mount, unmount.

    m = Inboxfs(binary, "imaps://alice@localhost:993", "/tmp/x/mnt",
                options={"cafile": ca, "password_file": pwfile})
    m.start()            # waits until /proc/self/mountinfo shows fuse.inboxfs
    ...
    m.unmount()          # fusermount3 -u, then waits for the process to exit

    r = run_inboxfs(binary, [...args...], timeout=15)  # for failure cases
    r.returncode, r.stdout, r.stderr, r.elapsed

Environment of the test run (read here, never passed on to inboxfs):
    INBOXFS_WRAPPER="valgrind --log-file=..."  run the binary under this
        command (split like a shell would); tests/run.sh's valgrind pass.
    INBOXFS_TIMEOUT_SCALE=N  multiply the waits for the daemon itself
        (mounting, exiting after an unmount, run_inboxfs) by N: valgrind is
        20-50 times slower.  The tests' own timing expectations stay as they
        are.
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time

FSTYPE = "fuse.inboxfs"
FUSERMOUNT = "fusermount3"


class MountError(AssertionError):
    pass


def wrapper():
    """The command to run inboxfs under (INBOXFS_WRAPPER), as a list."""
    return shlex.split(os.environ.get("INBOXFS_WRAPPER", ""))


def timeout_scale():
    try:
        return max(1.0, float(os.environ.get("INBOXFS_TIMEOUT_SCALE", "1")))
    except ValueError:
        return 1.0


def _unescape_mountinfo(s):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), s)


def mount_entries():
    """[(mountpoint, fstype, source)] from /proc/self/mountinfo."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            lf = left.split()
            rf = right.split()
            if len(lf) < 5 or len(rf) < 2:
                continue
            out.append((_unescape_mountinfo(lf[4]), rf[0], _unescape_mountinfo(rf[1])))
    return out


def mount_entry(path):
    """(fstype, source) of the topmost mount at path, or None."""
    path = os.path.realpath(path)
    found = None
    for mp, fstype, source in mount_entries():
        if mp == path:
            found = (fstype, source)
    return found


def mount_device(path):
    """major:minor of the topmost mount at path, or None."""
    path = os.path.realpath(path)
    found = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split(" - ")[0].split()
            if len(fields) >= 5 and _unescape_mountinfo(fields[4]) == path:
                found = fields[2]
    return found


def other_namespace_holders(device):
    """["pid comm cmdline"]: one process of each other mount namespace that
    still has the mount of device (major:minor); a FUSE file system lives
    on, and its daemon with it, while any namespace has it mounted."""
    ours = os.readlink("/proc/self/ns/mnt")
    seen, out = set(), []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            ns = os.readlink("/proc/%s/ns/mnt" % pid)
            if ns == ours or ns in seen:
                continue
            with open("/proc/%s/mountinfo" % pid) as f:
                if not any(l.split()[2] == device for l in f if len(l.split()) > 2):
                    continue
            seen.add(ns)
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")[:200]
            out.append("%s %s" % (pid, cmd))
        except OSError:
            continue
    return out


def is_mounted(path, fstype=FSTYPE):
    e = mount_entry(path)
    return e is not None and (fstype is None or e[0] == fstype)


def wait_until(predicate, timeout, interval=0.02):
    """Poll predicate() until it returns a true value or timeout passes;
    returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def write_password_file(directory, password, mode=0o600, name="password"):
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
    os.chmod(path, mode)
    return path


def build_args(url, mountpoint, options=None, args=(), foreground=True):
    """inboxfs [-f] [args] [-o k=v,...] URL MOUNTPOINT"""
    cmd = []
    if foreground:
        cmd.append("-f")
    cmd += list(args)
    opts = []
    if isinstance(options, dict):
        for k, v in options.items():
            opts.append(k if v is True else "%s=%s" % (k, v))
    elif options:
        opts = list(options)
    for o in opts:
        if "," in o:
            raise ValueError("a comma inside an -o value would split it: %r" % o)
    if opts:
        cmd += ["-o", ",".join(opts)]
    cmd += [url, mountpoint]
    return cmd


def clean_env(extra=None):
    # The user's state and cache directories are never shared with a test
    # (Inboxfs gives each its own): a port reused by a later test must not
    # find an earlier test's announced UIDs.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("INBOXFS_") and k not in ("XDG_STATE_HOME", "XDG_CACHE_HOME")}
    env.setdefault("LC_ALL", "C.UTF-8")
    if extra:
        env.update(extra)
    return env


class Result:
    def __init__(self, argv, returncode, stdout, stderr, elapsed):
        self.argv, self.returncode, self.elapsed = argv, returncode, elapsed
        self.stdout, self.stderr = stdout, stderr

    @property
    def output(self):
        return self.stdout + self.stderr

    def __repr__(self):
        return "Result(rc=%r, %.2fs, stderr=%r, stdout=%r)" % (
            self.returncode, self.elapsed, self.stderr[-2000:], self.stdout[-500:])


def run_inboxfs(binary, argv, timeout=20, env=None):
    """Run inboxfs to completion (for cases that must fail or daemonize).
    Output goes to files, not pipes: a daemon that keeps them open cannot
    make this hang. Returns Result (stdout/stderr as str)."""
    timeout *= timeout_scale()
    if env is None:
        own = tempfile.mkdtemp(prefix="inboxfs-run-")
        env = clean_env({"XDG_STATE_HOME": os.path.join(own, "state"),
                         "XDG_CACHE_HOME": os.path.join(own, "cache")})
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        p = subprocess.Popen(wrapper() + [binary] + list(argv), stdin=subprocess.DEVNULL, stdout=out,
                             stderr=err, env=env)
        try:
            rc = p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            rc = None
        elapsed = time.monotonic() - t0
        out.seek(0)
        err.seek(0)
        return Result([binary] + list(argv), rc, out.read().decode("utf-8", "replace"),
                      err.read().decode("utf-8", "replace"), elapsed)


# The rows of inboxfs --check's capability table, in its order.
CHECK_CAPS = ("IDLE", "MOVE", "UIDPLUS", "CONDSTORE", "QRESYNC", "NOTIFY", "LIST-STATUS", "BINARY",
              "SPECIAL-USE", "UNSELECT", "ESEARCH", "COMPRESS=DEFLATE")


def parse_check(text):
    """inboxfs --check's report (stdout) -> {"caps": {NAME: (offered, note)},
    "folders": N, "special": {"\\Trash": path, ...}, "result": str}.
    Raises AssertionError when a part is missing."""
    out = {"caps": {}, "special": {}}
    section = None
    for line in text.splitlines():
        if not line.strip():
            section = None
            continue
        if line.startswith("capability "):
            section = "caps"
        elif line.startswith("special-use folders:"):
            section = "special"
        elif section == "caps":
            name, offered, note = line.split(None, 2)
            assert offered in ("yes", "no"), line
            out["caps"][name] = (offered == "yes", note)
        elif section == "special" and line != "(none)" and line.startswith("\\"):
            flag, path = line.split(None, 1)
            out["special"][flag] = path
        elif line.startswith("folders:"):
            out["folders"] = int(line.split()[1])
        elif line.startswith("result:"):
            out["result"] = line.split(None, 1)[1]
    assert list(out["caps"]) == list(CHECK_CAPS), text
    assert "folders" in out and "result" in out, text
    return out


CHECK_ROLES = ("\\Trash", "\\Sent", "\\Drafts", "\\Junk", "\\Archive", "\\All",
               "\\Flagged")
# A word of what --check says inboxfs does without a capability, for those
# whose absence changes what the shell commands do.
CHECK_FALLBACKS = {"IDLE": "NOOP", "MOVE": "UID COPY", "UIDPLUS": "refused",
                   "QRESYNC": "UID SEARCH", "UNSELECT": "EXAMINE INBOX"}


def assert_check_report(rep, caps, boxes):
    """rep (parse_check) agrees with the server as an independent client
    sees it: caps, the CAPABILITY after login (upper case); boxes,
    {path: attributes} of LIST (imapraw.list_mailboxes with_flags)."""
    caps = {c.upper() for c in caps}
    assert {k: v[0] for k, v in rep["caps"].items()} == {k: k in caps for k in CHECK_CAPS}, \
        (rep["caps"], sorted(caps))
    for cap, word in CHECK_FALLBACKS.items():
        if cap not in caps:
            assert word in rep["caps"][cap][1], (cap, rep["caps"][cap])
    assert rep["folders"] == len(boxes), (rep, sorted(boxes))
    known = {r.lower(): r for r in CHECK_ROLES}
    roles = {}
    for path, attrs in boxes.items():
        for a in attrs:
            if a.lower() in known:
                roles.setdefault(known[a.lower()], set()).add(path)
    assert set(rep["special"]) == set(roles), (rep["special"], roles)
    for role, path in rep["special"].items():
        assert path in roles[role], (role, path, roles)
    assert rep["result"] == "a mount would work", rep


def find_processes(binary, mountpoint):
    """Pids of running `binary` processes whose argv contains mountpoint."""
    binary = os.path.realpath(binary)
    mp = os.path.realpath(mountpoint)
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            exe = os.readlink("/proc/%s/exe" % name)
            with open("/proc/%s/cmdline" % name, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if exe == binary and any(os.path.realpath(a.decode(errors="replace")) == mp
                                 for a in argv if a):
            out.append(int(name))
    return out


class Inboxfs:
    """One inboxfs process (foreground, -f) and its mount."""

    def __init__(self, binary, url, mountpoint, options=None, args=(), env=None,
                 workdir=None):
        self.binary = binary
        self.url = url
        self.mountpoint = mountpoint
        os.makedirs(mountpoint, exist_ok=True)
        self.argv = [binary] + build_args(url, mountpoint, options, args, foreground=True)
        self.workdir = workdir or tempfile.mkdtemp(prefix="inboxfs-run-")
        self.env = dict(env if env is not None else clean_env())
        self.env.setdefault("XDG_STATE_HOME", os.path.join(self.workdir, "state"))
        self.env.setdefault("XDG_CACHE_HOME", os.path.join(self.workdir, "cache"))
        self.stdout_path = os.path.join(self.workdir, "inboxfs.stdout")
        self.stderr_path = os.path.join(self.workdir, "inboxfs.stderr")
        self.proc = None
        self.exit_seen = False  # the test looked at how the daemon ended

    def start(self, timeout=20.0):
        """Start and wait until the mount is there. Raises MountError with
        the daemon's stderr if it exits first or the deadline passes."""
        if is_mounted(self.mountpoint, None):
            raise MountError("%s is already a mount point" % self.mountpoint)
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(wrapper() + self.argv, stdin=subprocess.DEVNULL,
                                     stdout=self._out, stderr=self._err, env=self.env)
        timeout *= timeout_scale()
        deadline = time.monotonic() + timeout
        while True:
            e = mount_entry(self.mountpoint)
            if e is not None and e[0] == FSTYPE:
                return self
            rc = self.proc.poll()
            if rc is not None:
                raise MountError("inboxfs exited with %d before mounting\nargv: %s\nstderr:\n%s"
                                 % (rc, self.argv, self.stderr()))
            if time.monotonic() > deadline:
                what = ("a mount of type %s appeared instead" % e[0]) if e else "no mount"
                self.kill()
                raise MountError("inboxfs did not mount %s as %s within %.0f s (%s)\n"
                                 "argv: %s\nstderr:\n%s" % (self.mountpoint, FSTYPE, timeout,
                                                            what, self.argv, self.stderr()))
            time.sleep(0.02)

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stdout(self):
        try:
            with open(self.stdout_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def path(self, *parts):
        return os.path.join(self.mountpoint, *parts)

    def wait_exit(self, timeout):
        """Wait for the process; returns its exit code or None on timeout."""
        timeout *= timeout_scale()
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self.exit_seen = True
        return rc

    def _stacks(self):
        """Where each thread of a hung inboxfs is (gdb, when installed)."""
        gdb = shutil.which("gdb")
        if not gdb:
            return "(no gdb for the threads' stacks)"
        r = subprocess.run([gdb, "-p", str(self.proc.pid), "-batch", "-ex",
                            "thread apply all bt"], capture_output=True, text=True, timeout=60)
        return "threads of the hung inboxfs:\n" + r.stdout[-12000:]

    def unmount(self, timeout=10.0):
        """fusermount3 -u, then wait for the process to exit. Returns
        (exit code, problems list); a hang is killed and reported."""
        problems = []
        device = mount_device(self.mountpoint)
        if is_mounted(self.mountpoint, None):
            # "busy" while some process is in the middle of a system call on
            # the mount (inboxfs's own announcer writing .newmail, say): retry
            # for a moment, as an admin would.
            deadline = time.monotonic() + 3
            while True:
                r = subprocess.run([FUSERMOUNT, "-u", self.mountpoint], stdin=subprocess.DEVNULL,
                                   capture_output=True, text=True, timeout=30)
                if r.returncode == 0 or "busy" not in r.stderr or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            if r.returncode != 0:
                problems.append("fusermount3 -u failed (%d): %s" % (r.returncode, r.stderr.strip()))
        rc = None
        if self.proc is not None:
            try:
                rc = self.proc.wait(timeout * timeout_scale())
            except subprocess.TimeoutExpired:
                rc = None
            if rc is None:
                holders = other_namespace_holders(device) if device else []
                if holders:
                    problems.append("still mounted in another mount namespace, held by: "
                                    + "; ".join(holders))
                problems.append(self._stacks())
                problems.append("inboxfs did not exit within %.0f s after unmount: killed"
                                % timeout)
                self.kill()
        if is_mounted(self.mountpoint, None):
            problems.append("still mounted after unmount: lazy-unmounted")
            subprocess.run([FUSERMOUNT, "-uz", self.mountpoint], stdin=subprocess.DEVNULL,
                           capture_output=True)
        self._close_files()
        return rc, problems

    def signal(self, sig=signal.SIGTERM):
        self.exit_seen = True  # the test decides how the daemon ends
        self.proc.send_signal(sig)

    def sanitizer_reports(self):
        """Lines of the daemon's stderr where ASan, LSan, UBSan or
        valgrind reported an error."""
        marks = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                 "SUMMARY: UndefinedBehaviorSanitizer", "== Invalid ", "definitely lost: ")
        return [ln for ln in self.stderr().splitlines()
                if any(k in ln for k in marks) and "definitely lost: 0 bytes" not in ln]

    def exit_problems(self):
        """What a user would call a bad ending: a sanitizer report, or a
        daemon that died by itself with a failure the test never looked at
        (a crash, an abort) instead of exiting 0 at unmount."""
        problems = ["sanitizer: " + ln for ln in self.sanitizer_reports()]
        rc = self.proc.returncode if self.proc is not None else None
        if rc not in (None, 0) and not self.exit_seen:
            problems.append("inboxfs exited with %d (%s)" % (
                rc, "signal %d" % -rc if rc < 0 else "status"))
        return problems

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.exit_seen = True
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        if is_mounted(self.mountpoint, None):
            subprocess.run([FUSERMOUNT, "-uz", self.mountpoint], stdin=subprocess.DEVNULL,
                           capture_output=True)
        self._close_files()

    def _close_files(self):
        for f in (getattr(self, "_out", None), getattr(self, "_err", None)):
            if f is not None and not f.closed:
                f.close()
