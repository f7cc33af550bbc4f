#!/usr/bin/python3
"""What tests/lib/cyrus.py and tests/lib/courier.py share: a private IMAP
server started as root in a temporary directory, on 127.0.0.1 and free
ports, with a test CA whose server certificate's only SAN is DNS:localhost.

A subclass writes its configuration and says how to start it (_command());
this class starts it as our child in a process group of its own, waits
until both ports greet, and stop() kills it and everything it started
(dovecot.py's way), then removes the directory.

The interface the multi-server tests use, the same as dovecot.Dovecot's:
    srv.url(user=None, tls=True), srv.cafile, srv.user, srv.password,
    srv.add_user(name, password=None), srv.connect(...) (imaplib),
    srv.raw(...) (imapraw)
and, because folder names differ between servers:
    srv.folder("Archive")   -> the server's name ("INBOX.Archive" on Courier)
    srv.mount_path("Archive") -> where inboxfs shows it ("INBOX/Archive")
"""

import atexit
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dovecot as _dc  # noqa: E402  (certificates, ports, process cleanup)

PREFIX = os.environ.get("INBOXFS_TEST_SERVERS", "/opt/inboxfs-test-servers")
INSTALLER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                         "install-test-servers.sh")


class ServerError(RuntimeError):
    pass


def installed():
    return os.path.exists(os.path.join(PREFIX, ".installed"))


class PrivateServer:
    host = "localhost"
    ip = "127.0.0.1"
    name = "?"
    separator = "/"
    prefix = ""              # personal namespace prefix, "/"-separated
    has_starttls = True      # the STARTTLS port works
    mail_user = "nobody"

    def __init__(self, user="alice", password=None, startup_timeout=30.0):
        if not installed():
            raise ServerError("%s is not installed: run bash %s" % (self.name, INSTALLER))
        self.user = user
        self.password = password or ("pw-" + secrets.token_hex(8))
        self.users = {}
        self.startup_timeout = startup_timeout
        self.proc = None
        self.dir = None
        self._log_file = None
        import pwd
        pw = pwd.getpwnam(self.mail_user)
        self.mail_uid, self.mail_gid = pw.pw_uid, pw.pw_gid
        self.start()

    # ------------------------------------------------------------ lifecycle
    def start(self):
        self.dir = tempfile.mkdtemp(prefix=self.name[:2], dir="/tmp")
        try:
            os.chmod(self.dir, 0o755)
            self._make_certs()
            self.imap_port = _dc.free_port()
            self.imaps_port = _dc.free_port()
            while self.imaps_port == self.imap_port:
                self.imaps_port = _dc.free_port()
            self._setup()
            self.add_user(self.user, self.password)
            self._start_process()
        except BaseException:
            self.stop()
            raise
        atexit.register(self.stop)
        return self

    def _make_certs(self):
        ssldir = os.path.join(self.dir, "ssl")
        os.mkdir(ssldir, 0o755)
        ca_crt, ca_key = _dc.make_ca(ssldir, "ca", "inboxfs test CA")
        self.server_cert, self.server_key = _dc.make_server_cert(ssldir, ca_crt, ca_key)
        os.chmod(ca_crt, 0o644)
        os.chmod(self.server_cert, 0o644)
        self.cafile = ca_crt

    def _env(self):
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
               "LD_LIBRARY_PATH": ":".join(os.path.join(PREFIX, d) for d in (
                   "usr/lib/x86_64-linux-gnu", "usr/lib", "usr/lib/courier-authlib"))}
        return env

    def _start_process(self):
        out = os.path.join(self.dir, "server.out")
        self._log_file = open(out, "ab")
        self.proc = subprocess.Popen(self._command(), stdin=subprocess.DEVNULL,
                                     stdout=self._log_file, stderr=subprocess.STDOUT,
                                     env=self._env(), cwd=self.dir,
                                     preexec_fn=_dc._set_pdeathsig)
        deadline = time.monotonic() + self.startup_timeout
        ports = [(self.imaps_port, True)] + ([(self.imap_port, False)] if self.has_starttls else [])
        while not all(self._greets(p, tls) for p, tls in ports):
            if self.proc.poll() is not None:
                rc, self.proc = self.proc.returncode, None
                raise ServerError("%s exited with %s at startup:\n%s"
                                  % (self.name, rc, self.diagnostics()))
            if time.monotonic() > deadline:
                msg = self.diagnostics()
                self._kill_all()
                raise ServerError("%s did not come up within %.0f s:\n%s"
                                  % (self.name, self.startup_timeout, msg))
            time.sleep(0.05)

    _greets = _dc.Dovecot._greets
    _kill_all = _dc.Dovecot._kill_all

    def diagnostics(self):
        parts = []
        for name in self.log_files():
            p = os.path.join(self.dir or "/nonexistent", name)
            try:
                with open(p, "rb") as f:
                    data = f.read()[-6000:]
                parts.append("--- %s ---\n%s" % (name, data.decode(errors="replace")))
            except OSError:
                pass
        return "\n".join(parts)

    def log_files(self):
        return ["server.out"]

    def stop(self):
        """Kill everything this instance started and remove its directory.
        Safe to call more than once."""
        try:
            self._kill_all()
        finally:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None
            if self.dir and os.path.isdir(self.dir):
                shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        try:
            atexit.unregister(self.stop)
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------ helpers
    def folder(self, path):
        """The server's name for a "/"-separated folder path ("INBOX" stays)."""
        if path.upper() == "INBOX":
            return "INBOX"
        return self.mount_path(path).replace("/", self.separator)

    def mount_path(self, path):
        """Where inboxfs shows the folder, relative to the mount point."""
        if path.upper() == "INBOX":
            return "INBOX"
        return self.prefix + path

    def url(self, tls=True, user=None, host=None, port=None):
        if port is None:
            port = self.imaps_port if tls else self.imap_port
        return "%s://%s@%s:%d" % ("imaps" if tls else "imap", user or self.user,
                                  host or self.host, port)

    def ssl_context(self):
        import ssl
        return ssl.create_default_context(cafile=self.cafile)

    connect = _dc.Dovecot.connect
    raw = _dc.Dovecot.raw

    def new_password(self, password):
        if password is None:
            password = "pw-" + secrets.token_hex(8)
        if any(ch in password for ch in ":|\n\r\0\t"):
            raise ValueError("no ':', '|', tabs or line breaks in passwords here")
        return password

    def chown_tree(self, path):
        for root, dirs, files in os.walk(path):
            os.chown(root, self.mail_uid, self.mail_gid)
            for f in files:
                os.chown(os.path.join(root, f), self.mail_uid, self.mail_gid)
