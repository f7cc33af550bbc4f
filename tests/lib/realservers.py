"""The real servers the core tests run against, each started privately:
Dovecot (dovecot.py), Cyrus IMAP (cyrus.py) and Courier IMAP (courier.py).

INBOXFS_SERVERS=dovecot,cyrus,courier picks them (default: all three; Cyrus
and Courier come from tests/install-test-servers.sh).  A named server that
cannot start fails its tests: nothing is skipped.  conftest.py's `server`
fixture (module scope, one parameter per server) is built on start(); a
test module gets a fresh user on it from Account.

    srv = start("cyrus")            srv.kind, srv.post_caps
    acc = Account(srv, tmp_path)    acc.raw(), acc.imap(), acc.mount(mount, ...)
"""

import itertools
import json
import os
import re

import courier as courier_mod
import cyrus as cyrus_mod
import dovecot as dovecot_mod
import imapraw
import inboxfs as ifs
import mailgen

SERVERS = [s.strip() for s in os.environ.get("INBOXFS_SERVERS",
                                             "dovecot,cyrus,courier").split(",") if s.strip()]
FACTORIES = {"dovecot": dovecot_mod.Dovecot, "cyrus": cyrus_mod.Cyrus,
             "courier": courier_mod.Courier}
# Courier's IDLE polls the maildir every 2 s (IMAP_IDLE_TIMEOUT, courier.py);
# the others push at once.  Generous: two other test runs share the CPUs.
ARRIVAL_TIMEOUT = 30.0

_users = itertools.count(1)
REPORT = {}   # server -> {"pre": [...], "post": [...], "fallbacks": set()}


def server_folder(srv, path):
    """Dovecot has no folder()/mount_path(): its names are the paths."""
    return srv.folder(path) if hasattr(srv, "folder") else path


def mount_path(srv, path):
    return srv.mount_path(path) if hasattr(srv, "mount_path") else path


def start(name):
    """A started server of that kind, with .kind and .post_caps (what it
    offers after a login), its capabilities noted in REPORT."""
    if name not in FACTORIES:
        raise ValueError("INBOXFS_SERVERS: unknown server %r (known: %s)"
                         % (name, ", ".join(FACTORIES)))
    srv = FACTORIES[name]()
    srv.kind = name
    c = imapraw.RawIMAP.connect(srv.host, srv.imaps_port, cafile=srv.cafile)
    pre = sorted(c.capabilities)
    c.login(srv.user, srv.password)
    c.capabilities = set()
    c.command("CAPABILITY")   # what the server offers now, not what LOGIN said
    srv.post_caps = set(c.capabilities)
    c.logout()
    REPORT.setdefault(name, {"fallbacks": set()}).update(pre=pre, post=sorted(srv.post_caps))
    return srv


def write_report():
    path = os.environ.get("INBOXFS_SERVER_REPORT")
    if path:
        with open(path, "w") as f:
            json.dump({k: dict(v, fallbacks=sorted(v["fallbacks"])) for k, v in REPORT.items()},
                      f, indent=1)


class Account:
    """A fresh user: INBOX with n messages, an empty Archive, an oracle."""

    def __init__(self, srv, tmp_path, n=4):
        self.srv = srv
        self.user = "s%d" % next(_users)
        self.password = srv.add_user(self.user)
        self.archive = server_folder(srv, "Archive")
        c = self.raw()
        c.create(self.archive)
        base = mailgen.BASE_EPOCH
        c.append_many("INBOX", [(mailgen.simple_message(i, epoch=base + 100 * i),
                                 ["\\Seen"] if i % 2 else [], base + 100 * i, 60)
                                for i in range(n)])
        c.logout()
        self.pwfile = ifs.write_password_file(str(tmp_path), self.password,
                                              name="pw-" + self.user)
        self.state_home = str(tmp_path / ("state-" + self.user))

    def raw(self):
        return self.srv.raw(user=self.user, password=self.password)

    def imap(self):
        return self.srv.connect(user=self.user, password=self.password)

    def state(self, folder="INBOX"):
        m = self.imap()
        try:
            return imapraw.folder_state(m, folder)
        finally:
            m.logout()

    def body(self, folder, uid):
        m = self.imap()
        try:
            return imapraw.fetch_body(m, folder, uid)
        finally:
            m.logout()

    def mount(self, mount, **options):
        opts = {"cafile": self.srv.cafile, "password_file": self.pwfile, "debug": "imap"}
        opts.update(options)
        return mount(self.srv.url(user=self.user), options=opts,
                     env=ifs.clean_env({"XDG_STATE_HOME": self.state_home}))


def sent(m, command):
    """Lines of inboxfs's trace where it sent `command` (e.g. "UID MOVE")."""
    pat = re.compile(r" C: \S+ %s(?: |$)" % re.escape(command))
    return [l for l in m.stderr().splitlines() if pat.search(l)]


def emls(path):
    return {n for n in os.listdir(path) if n.endswith(".eml")}
