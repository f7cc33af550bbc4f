#!/usr/bin/python3
"""A private Dovecot 2.3 for tests, started as root.

    from dovecot import Dovecot
    with Dovecot() as dc:
        dc.imaps_port, dc.imap_port, dc.cafile, dc.user, dc.password
        dc.url()            -> "imaps://alice@localhost:PORT"
        dc.url(tls=False)   -> "imap://alice@localhost:PORT"   (STARTTLS)

    Dovecot(oauth2_introspect_url=URL) also accepts XOAUTH2 and OAUTHBEARER:
    Dovecot's oauth2 passdb POSTs "token=T&client_id=&client_secret=" to URL
    (tests/lib/tokenserver.py serves one) at every login, without caching,
    and wants HTTP 200 {"active": true, "username": USER} back (200
    {"active": false}: AUTHENTICATIONFAILED; anything else: a temporary
    failure).  Passwords still go to the passwd-file passdb only.

Everything lives in one short temporary directory under /tmp (mode 0755,
because the mail uid must be able to traverse it).  The master runs in the
foreground (`dovecot -F`) as our child, its output goes to a file (never a
pipe: the master keeps it open forever), and stop() kills the master and
every process it started, then removes the directory.

Certificates (openssl CLI): a test CA, a server certificate signed by it
whose only SAN is DNS:localhost (so "127.0.0.1" fails hostname
verification), and an unrelated CA (`wrong_cafile`).

Command line (used by examples/demo.sh):
    /usr/bin/python3 tests/lib/dovecot.py run [--seed-sample] [--env-file F]
starts a server, optionally seeds sample mail, prints the connection
details (and writes them as shell variables to F), then waits for
SIGINT/SIGTERM and stops cleanly.
"""

import argparse
import atexit
import ctypes
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

DOVECOT_BIN = "/usr/sbin/dovecot"
DOVEADM_BIN = "/usr/bin/doveadm"
OPENSSL_BIN = "/usr/bin/openssl"
DH_PEM = "/usr/share/dovecot/dh.pem"

DEFAULT_USER = "alice"
# cert_validity of a certificate that expired long ago.
EXPIRED = ("20200101000000Z", "20210101000000Z")


class DovecotError(RuntimeError):
    pass


def free_port(host="127.0.0.1"):
    """A TCP port nothing listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


try:
    _LIBC = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:
    _LIBC = None


def _set_pdeathsig():
    # Runs in the child between fork and exec (keep it tiny): a process
    # group of its own (so that crash() can kill everything Dovecot starts,
    # even children that outlive the master), and if the thread that started
    # Dovecot dies, the kernel sends SIGTERM to the master.
    os.setpgid(0, 0)
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _group_members(pgid):
    """Live processes of a process group, from /proc."""
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            pids.append(int(name))
    return pids


def _proc_children_map():
    """pid -> list of child pids, from /proc."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                data = f.read()
        except OSError:
            continue
        # comm can contain spaces and parentheses: split after the last ')'
        rest = data[data.rfind(b")") + 2:].split()
        ppid = int(rest[1])
        children.setdefault(ppid, []).append(int(name))
    return children


def _descendants(pid):
    cmap = _proc_children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in cmap.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def _proc_starttime(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rfind(b")") + 2:].split()
    if rest[0] == b"Z":
        return None  # zombie: as good as dead
    return rest[19]


def _run(cmd, **kw):
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, **kw)
    if r.returncode != 0:
        raise DovecotError("%s failed (%d):\n%s" % (
            " ".join(cmd), r.returncode, r.stdout.decode(errors="replace")))
    return r.stdout


def make_ca(directory, name, cn):
    """Self-signed CA: returns (cert path, key path)."""
    key = os.path.join(directory, name + ".key")
    crt = os.path.join(directory, name + ".pem")
    _run([OPENSSL_BIN, "req", "-x509", "-newkey", "ec",
          "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
          "-keyout", key, "-out", crt, "-days", "3650", "-subj", "/CN=" + cn,
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign",
          "-addext", "subjectKeyIdentifier=hash"])
    return crt, key


# `openssl x509 -req` of OpenSSL 3.0 can only make certificates valid from
# now on; `openssl ca` takes any start and end date, and needs a little
# database of its own.
CA_CNF = """\
[ca]
default_ca = test_ca
[test_ca]
database = {dir}/ca-index.txt
new_certs_dir = {dir}
serial = {dir}/ca-serial
default_md = sha256
policy = any_name
[any_name]
commonName = supplied
"""


def _sign_dated(directory, csr, crt, ca_crt, ca_key, ext, not_before, not_after):
    """Sign csr with the CA, valid from not_before to not_after
    ("YYYYMMDDHHMMSSZ")."""
    cnf = os.path.join(directory, "ca.cnf")
    with open(cnf, "w") as f:
        f.write(CA_CNF.format(dir=directory))
    open(os.path.join(directory, "ca-index.txt"), "w").close()
    with open(os.path.join(directory, "ca-serial"), "w") as f:
        f.write("%s\n" % secrets.token_hex(8))
    _run([OPENSSL_BIN, "ca", "-batch", "-notext", "-config", cnf, "-cert", ca_crt,
          "-keyfile", ca_key, "-in", csr, "-out", crt, "-extfile", ext,
          "-startdate", not_before, "-enddate", not_after])


def make_server_cert(directory, ca_crt, ca_key, san="DNS:localhost",
                     cn="inboxfs test server", validity=None):
    """Server key + certificate signed by the CA. The CN is deliberately not
    a host name: only the SAN counts for verification.  validity: None (ten
    years from now) or (not_before, not_after) as "YYYYMMDDHHMMSSZ", e.g. a
    period in the past for an expired certificate."""
    key = os.path.join(directory, "server.key")
    csr = os.path.join(directory, "server.csr")
    crt = os.path.join(directory, "server.pem")
    ext = os.path.join(directory, "server.ext")
    _run([OPENSSL_BIN, "req", "-new", "-newkey", "ec",
          "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
          "-keyout", key, "-out", csr, "-subj", "/CN=" + cn])
    with open(ext, "w") as f:
        f.write("basicConstraints = critical,CA:FALSE\n"
                "keyUsage = critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage = serverAuth\n"
                "subjectAltName = %s\n"
                "subjectKeyIdentifier = hash\n"
                "authorityKeyIdentifier = keyid:always\n" % san)
    if validity is None:
        _run([OPENSSL_BIN, "x509", "-req", "-in", csr, "-CA", ca_crt,
              "-CAkey", ca_key, "-CAcreateserial", "-out", crt, "-days", "3650",
              "-extfile", ext])
    else:
        _sign_dated(directory, csr, crt, ca_crt, ca_key, ext, *validity)
    os.chmod(key, 0o600)
    return crt, key


CONFIG_TEMPLATE = """\
# generated by tests/lib/dovecot.py
base_dir = {base}/run
state_dir = {base}/state
instance_name = {instance}
protocols = imap
listen = 127.0.0.1
log_path = {base}/dovecot.log
info_log_path = {base}/dovecot.log
debug_log_path = {base}/dovecot.log
auth_verbose = yes
default_internal_user = dovecot
default_login_user = dovenull

ssl = yes
ssl_cert = <{base}/ssl/server.pem
ssl_key = <{base}/ssl/server.key
{ssl_dh}
# 127.0.0.1 connects to 127.0.0.1, which Dovecot counts as "secured" anyway.
disable_plaintext_auth = yes
auth_mechanisms = plain login{oauth2_mechanisms}
# No artificial delay (a failure still takes ~0.5 s: failures are flushed
# by a 500 ms timer).
auth_failure_delay = 0
auth_cache_size = 0

# One passwd file per user: passwd-file re-checks a file's mtime at most
# once a second, but a new path is read at once, so add_user() works
# immediately even right after another login.
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/passwd.d/%u
{passwd_mechanisms}}}
{oauth2_passdb}userdb {{
  driver = passwd-file
  args = username_format=%u {base}/passwd.d/%u
}}
first_valid_uid = 1
mail_location = sdbox:~/mail
mail_fsync = never
namespace inbox {{
  inbox = yes
  separator = /
  prefix =
}}

service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
# After one failed login from an IP, auth asks anvil for a penalty and
# delays EVERY later login from that IP, good ones included, by 4 s (2.3.19,
# measured; login_trusted_networks does not exempt 127.0.0.1). auth runs as
# $default_internal_user: a mode-0 penalty socket makes it run without.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service stats {{
  inet_listener http {{
    port = 0
  }}
}}
protocol imap {{
  mail_max_userip_connections = 200
}}
"""


# With oauth2_introspect_url: the passwd-file passdb above serves only the
# password mechanisms (without that filter an XOAUTH2 token is first compared
# with the user's password, and PLAIN passwords get POSTed to the
# introspection URL as "tokens"), and this passdb serves the token ones.
OAUTH2_PASSWD_MECHANISMS = "  mechanisms = plain login\n"
OAUTH2_PASSDB = """\
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {base}/dovecot-oauth2.conf.ext
}}
"""

# Read by the auth process when it starts (doveconf -n does not check it).
OAUTH2_CONF_TEMPLATE = """\
# generated by tests/lib/dovecot.py
introspection_mode = post
introspection_url = {url}
username_attribute = username
active_attribute = active
active_value = true
# The default, 0, sets no limit of its own (an answer after 8 s was still
# waited for): a hung endpoint then gives a temporary failure after 5 s.
timeout_msecs = 5000
"""


class Dovecot:
    """A running private Dovecot (see module doc).

    cert_san and cert_validity choose the server certificate (see
    make_server_cert): e.g. cert_san="DNS:mail.example.org" for a
    certificate of another host, cert_validity=EXPIRED for one that expired.
    The defaults give the usual DNS:localhost certificate valid for ten years.

    Attributes: host ("localhost"), ip ("127.0.0.1"), imap_port (STARTTLS),
    imaps_port (implicit TLS), cafile (CA that signed the server cert),
    wrong_cafile (an unrelated CA), user, password, dir, log_path,
    config_path, mail_uid, mail_gid, oauth2_introspect_url (None: no
    token logins; changeable, then reload()).
    """

    host = "localhost"
    ip = "127.0.0.1"

    def __init__(self, extra_config=(), user=DEFAULT_USER, password=None,
                 mail_user="nobody", start=True, startup_timeout=20.0,
                 tmpfs=False, oauth2_introspect_url=None, cert_san="DNS:localhost",
                 cert_validity=None):
        if isinstance(extra_config, str):
            extra_config = [extra_config]
        self.extra_config = list(extra_config)
        # A plain http:// RFC 7662 endpoint, e.g. TokenServer().introspect_url
        # (tests/lib/tokenserver.py): adds XOAUTH2 and OAUTHBEARER logins
        # checked by Dovecot's oauth2 passdb (see OAUTH2_PASSDB).
        self.oauth2_introspect_url = oauth2_introspect_url
        self.user = user
        self.password = password or ("pw-" + secrets.token_hex(8))
        pw = pwd.getpwnam(mail_user)
        self.mail_uid, self.mail_gid = pw.pw_uid, pw.pw_gid
        if self.mail_uid == 0:
            raise DovecotError("the mail uid must not be 0")
        self.startup_timeout = startup_timeout
        self.cert_san = cert_san
        self.cert_validity = cert_validity
        # Creating files on this VM's ext4 costs ~0.8 ms each (5 000 small
        # files: 4 s on /tmp, 0.1 s on /dev/shm): tmpfs=True puts the mail
        # homes on /dev/shm for big seeds.
        self.tmpfs = tmpfs
        self.home_root = None
        self.users = {}
        self.proc = None
        self.dir = None
        self.imap_port = self.imaps_port = None
        self._log_file = None
        if start:
            self.start()

    # ------------------------------------------------------------ lifecycle
    def start(self):
        if self.proc is not None:
            raise DovecotError("already started")
        self.dir = tempfile.mkdtemp(prefix="dc", dir="/tmp")
        try:
            os.chmod(self.dir, 0o755)
            for d in ("run", "state", "ssl"):
                os.mkdir(os.path.join(self.dir, d), 0o755)
            if self.tmpfs and os.access("/dev/shm", os.W_OK):
                self.home_root = tempfile.mkdtemp(prefix="dcmail", dir="/dev/shm")
                os.chmod(self.home_root, 0o755)
            else:
                self.home_root = os.path.join(self.dir, "home")
                os.mkdir(self.home_root, 0o755)
            self._make_certs()
            self.add_user(self.user, self.password)
            last = None
            for _attempt in range(3):
                self.imap_port = free_port()
                self.imaps_port = free_port()
                while self.imaps_port == self.imap_port:
                    self.imaps_port = free_port()
                self._write_config()
                try:
                    self._start_master()
                    break
                except DovecotError as e:
                    last = e
                    if "in use" not in str(e):
                        raise
            else:
                raise last
        except BaseException:
            self.stop()
            raise
        atexit.register(self.stop)
        return self

    def _make_certs(self):
        ssldir = os.path.join(self.dir, "ssl")
        ca_crt, ca_key = make_ca(ssldir, "ca", "inboxfs test CA")
        make_server_cert(ssldir, ca_crt, ca_key, san=self.cert_san,
                         validity=self.cert_validity)
        wrong_crt, wrong_key = make_ca(ssldir, "wrong-ca", "inboxfs unrelated CA")
        os.unlink(wrong_key)
        for f in os.listdir(ssldir):
            if not f.endswith(".key"):
                os.chmod(os.path.join(ssldir, f), 0o644)
        self.cafile = ca_crt
        self.wrong_cafile = wrong_crt
        self.server_cert = os.path.join(ssldir, "server.pem")

    def _write_config(self):
        self.config_path = os.path.join(self.dir, "dovecot.conf")
        self.log_path = os.path.join(self.dir, "dovecot.log")
        oauth2 = self.oauth2_introspect_url is not None
        if oauth2:
            self._write_oauth2_config()
        text = CONFIG_TEMPLATE.format(
            base=self.dir, instance="inboxfs-test-" + os.path.basename(self.dir),
            imap_port=self.imap_port, imaps_port=self.imaps_port,
            ssl_dh=("ssl_dh = <" + DH_PEM) if os.path.exists(DH_PEM) else "",
            oauth2_mechanisms=" xoauth2 oauthbearer" if oauth2 else "",
            passwd_mechanisms=OAUTH2_PASSWD_MECHANISMS if oauth2 else "",
            oauth2_passdb=OAUTH2_PASSDB.format(base=self.dir) if oauth2 else "")
        if self.extra_config:
            text += "\n# extra_config\n" + "\n".join(self.extra_config) + "\n"
        with open(self.config_path, "w") as f:
            f.write(text)

    def _write_oauth2_config(self):
        url = self.oauth2_introspect_url
        # https would need tls_ca_cert_file in the .ext file as well
        if not re.match(r"^http://[^\s]+$", url):
            raise ValueError("oauth2_introspect_url must be a plain http:// URL: %r" % url)
        path = os.path.join(self.dir, "dovecot-oauth2.conf.ext")
        with open(path, "w") as f:
            f.write(OAUTH2_CONF_TEMPLATE.format(url=url))
        os.chmod(path, 0o644)

    def _start_master(self):
        # a stale pid file would make dovecot refuse to start
        try:
            os.unlink(os.path.join(self.dir, "run", "master.pid"))
        except FileNotFoundError:
            pass
        out_path = os.path.join(self.dir, "master.out")
        self._log_file = open(out_path, "ab")
        self.proc = subprocess.Popen(
            [DOVECOT_BIN, "-F", "-c", self.config_path],
            stdin=subprocess.DEVNULL, stdout=self._log_file,
            stderr=subprocess.STDOUT, preexec_fn=_set_pdeathsig)
        deadline = time.monotonic() + self.startup_timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self.proc = None
                raise DovecotError("dovecot exited with %s at startup:\n%s"
                                   % (rc, self._diagnostics()))
            if self._greets(self.imap_port) and self._greets(self.imaps_port, tls=True):
                return
            if time.monotonic() > deadline:
                msg = self._diagnostics()
                self._kill_all()
                raise DovecotError("dovecot did not come up within %.0f s:\n%s"
                                   % (self.startup_timeout, msg))
            time.sleep(0.05)

    def _greets(self, port, tls=False):
        try:
            s = socket.create_connection((self.ip, port), timeout=2)
        except OSError:
            return False
        try:
            if tls:
                # Not verified: a test may have asked for a certificate
                # that does not verify (expired, another host's).
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                s = ctx.wrap_socket(s, server_hostname=self.host)
            s.settimeout(5)
            return s.recv(256).startswith(b"* OK")
        except OSError:
            return False
        finally:
            s.close()

    def _diagnostics(self):
        parts = []
        for name in ("master.out", "dovecot.log"):
            p = os.path.join(self.dir or "/nonexistent", name)
            try:
                with open(p, "rb") as f:
                    data = f.read()[-6000:]
                if data:
                    parts.append("--- %s ---\n%s" % (name, data.decode(errors="replace")))
            except OSError:
                pass
        return "\n".join(parts)

    def _kill_all(self, term_timeout=5.0):
        """SIGTERM the master and every process it started at the same time
        (children with a connected client outlive a master that dies alone),
        wait, then SIGKILL whatever is still ours."""
        if self.proc is None:
            return
        pids = _descendants(self.proc.pid)
        starts = {p: _proc_starttime(p) for p in pids}
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        for p in pids:
            try:
                os.kill(p, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(term_timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        deadline = time.monotonic() + 2.0
        left = pids
        while True:
            left = [p for p in left if starts.get(p) is not None
                    and _proc_starttime(p) == starts[p]]
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        for p in left:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc = None

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
            if self.home_root and os.path.isdir(self.home_root):
                shutil.rmtree(self.home_root, ignore_errors=True)
            self.dir = self.home_root = None
        try:
            atexit.unregister(self.stop)
        except Exception:
            pass

    def crash(self):
        """kill -9 the master and everything it started, at once, keeping the
        mail and the config: the server is simply gone (restart() brings it
        back on the same data and ports)."""
        if self.proc is None:
            return
        pgid = self.proc.pid
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)
        self.proc = None
        # Until the last of them is gone, a child may still hold a listening
        # socket, and a new master would refuse to start.
        deadline = time.monotonic() + 10
        while _group_members(pgid) and time.monotonic() < deadline:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                break
            time.sleep(0.02)

    def restart(self):
        """Start the master again after crash(), on the same data and ports."""
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        self._start_master()

    def reload(self):
        """Re-read the config (e.g. after editing extra_config) via SIGHUP."""
        self._write_config()
        self.proc.send_signal(signal.SIGHUP)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # ---------------------------------------------------------------- users
    def add_user(self, name, password=None):
        """Add a passwd-file user; returns its password. Works at once.
        Changing the password of an existing user takes effect within a
        second (Dovecot re-checks a passwd file at most once a second)."""
        if password is None:
            password = "pw-" + secrets.token_hex(8)
        if not re.match(r"^[A-Za-z0-9._@+-]+$", name) or name.startswith("."):
            raise ValueError("user names here are limited to [A-Za-z0-9._@+-]")
        if any(ch in password for ch in ":\n\r\0"):
            raise ValueError("':' and line breaks are not allowed in passwords here")
        home = os.path.join(self.home_root, name)
        os.makedirs(home, 0o700, exist_ok=True)
        os.chown(home, self.mail_uid, self.mail_gid)
        self.users[name] = password
        pdir = os.path.join(self.dir, "passwd.d")
        os.makedirs(pdir, 0o755, exist_ok=True)
        path = os.path.join(pdir, name)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write("%s:{PLAIN}%s:%d:%d::%s::\n" % (name, password, self.mail_uid,
                                                   self.mail_gid, home))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        return password

    def home(self, user=None):
        return os.path.join(self.home_root, user or self.user)

    # ---------------------------------------------------------------- helpers
    def url(self, tls=True, user=None, host=None, port=None):
        """imaps://USER@localhost:PORT (tls=True) or imap://... (STARTTLS)."""
        if port is None:
            port = self.imaps_port if tls else self.imap_port
        return "%s://%s@%s:%d" % ("imaps" if tls else "imap", user or self.user,
                                  host or self.host, port)

    def ssl_context(self):
        return ssl.create_default_context(cafile=self.cafile)

    def log(self):
        """The server log so far (text)."""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def login_lines(self, user=None):
        """Lines of successful logins ('imap-login: Login: user=<u>, ...')."""
        tag = "Login: user=<%s>" % (user or self.user)
        return [l for l in self.log().splitlines() if tag in l]

    def doveadm(self, *args):
        """Run doveadm against this instance; returns stdout bytes."""
        return _run([DOVEADM_BIN, "-c", self.config_path] + list(args))

    def connect(self, user=None, password=None, tls=True):
        """A logged-in imaplib client (imaps, or STARTTLS when tls=False)."""
        import imaplib
        ctx = self.ssl_context()
        if tls:
            m = imaplib.IMAP4_SSL(self.host, self.imaps_port, ssl_context=ctx, timeout=30)
        else:
            m = imaplib.IMAP4(self.host, self.imap_port, timeout=30)
            m.starttls(ssl_context=ctx)
        user = user or self.user
        m.login(user, password or self.users[user])
        return m

    def raw(self, user=None, password=None, tls=True):
        """A logged-in imapraw.RawIMAP client."""
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import imapraw
        user = user or self.user
        c = imapraw.RawIMAP.connect(self.host, self.imaps_port if tls else self.imap_port,
                                    tls="imaps" if tls else "starttls", cafile=self.cafile)
        c.login(user, password or self.users[user])
        return c


# --------------------------------------------------------------------- CLI
def _cli(argv=None):
    ap = argparse.ArgumentParser(prog="dovecot.py", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="start, print details, wait for a signal, stop")
    run.add_argument("--seed-sample", action="store_true",
                     help="seed a few realistic messages in several folders")
    run.add_argument("--env-file", help="write shell variables DC_* here once ready")
    run.add_argument("--user", default=DEFAULT_USER)
    run.add_argument("--password")
    run.add_argument("--extra-config", action="append", default=[])
    args = ap.parse_args(argv)

    stop_now = []

    def on_signal(signum, _frame):
        stop_now.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    dc = Dovecot(extra_config=args.extra_config, user=args.user, password=args.password)
    try:
        if args.seed_sample:
            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            import mailgen
            c = dc.raw()
            try:
                mailgen.seed_sample(c)
            finally:
                c.logout()
        info = {
            "DC_DIR": dc.dir, "DC_HOST": dc.host, "DC_IMAP_PORT": dc.imap_port,
            "DC_IMAPS_PORT": dc.imaps_port, "DC_CAFILE": dc.cafile,
            "DC_WRONG_CAFILE": dc.wrong_cafile, "DC_USER": dc.user,
            "DC_PASSWORD": dc.password, "DC_URL": dc.url(),
            "DC_URL_STARTTLS": dc.url(tls=False), "DC_LOG": dc.log_path,
            "DC_PID": os.getpid(),
        }
        text = "".join("%s=%s\n" % (k, _shquote(str(v))) for k, v in info.items())
        if args.env_file:
            tmp = args.env_file + ".tmp"
            with open(tmp, "w") as f:
                f.write(text)
            os.chmod(tmp, 0o600)
            os.replace(tmp, args.env_file)
        else:
            sys.stdout.write(text)
        print("dovecot.py: imaps on %s:%d, imap (STARTTLS) on %s:%d; waiting for a signal"
              % (dc.host, dc.imaps_port, dc.host, dc.imap_port), file=sys.stderr, flush=True)
        while not stop_now:
            if dc.proc is None or dc.proc.poll() is not None:
                print("dovecot.py: dovecot exited unexpectedly:\n" + dc._diagnostics(),
                      file=sys.stderr)
                return 1
            time.sleep(0.2)
        return 0
    finally:
        dc.stop()
        if args.env_file:
            try:
                os.unlink(args.env_file)
            except OSError:
                pass


def _shquote(s):
    return "'" + s.replace("'", "'\\''") + "'"


if __name__ == "__main__":
    sys.exit(_cli())
