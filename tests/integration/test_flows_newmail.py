"""New mail acted on the moment it is announced (issue 16), against Dovecot,
Cyrus and Courier (the `server` fixture; INBOXFS_SERVERS picks them).

The README's recipe for scripts, run as a user runs it:

    inotifywait -m -e create --format %f DIR | while read -r f; do
        grep -q '^Subject: .*invoice' DIR/"$f" && cat DIR/"$f" > OUT/"$f"; done

An IDLE watcher announces each message; the read that follows is served by
another connection (the worker, or a reader connection), to which the
message may still be news: Dovecot answers its UID FETCH with the EXISTS
and no body, Courier with nothing at all until a NOOP.  Every arrival must
be read on the first try, with the bytes an independent imaplib client
fetches: with the default options, with one connection (connections=1)
and with watch=all and a second watched folder.  Arrivals come at seeded
random intervals of 0-3 s (several in one IDLE batch, some after a pause;
INBOXFS_NEWMAIL_SEED replays a run), and another reader keeps the worker
busy during the middle third of them.

The other calls that name a message by UID face the same connection:
getfattr, setfattr, mv and rm of a message right after its IN_CREATE must
each do on the server what they say.
"""

import os
import random
import re
import signal
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import dovecot as dovecot_mod  # noqa: E402
import imapraw  # noqa: E402
import inboxfs as ifs  # noqa: E402
import mailgen  # noqa: E402
from realservers import ARRIVAL_TIMEOUT, Account, mount_path, server_folder  # noqa: E402

ARRIVALS = 20
SEED = int(os.environ.get("INBOXFS_NEWMAIL_SEED", "16"))

# The recipe, with what it did to each name kept for the test: the bytes
# read under OUT/NAME, and a line in OUT/.errors for each read that failed.
# Without -q, inotifywait says when its watch is set: the test waits for that.
READ_LOOP = r'''
dir=$1 out=$2
inotifywait -m -e create --format %f "$dir" 2>"$out/.inotifywait" |
while read -r f; do
    case $f in *.eml) ;; *) continue ;; esac
    if grep -q '^Subject: .*invoice' "$dir/$f"; then
        cat "$dir/$f" > "$out/.$f" && mv "$out/.$f" "$out/$f" || echo "cat $f" >> "$out/.errors"
    else
        echo "grep $f: exit $?" >> "$out/.errors"
    fi
done
'''

# A reader of old messages, each pass uncached (cache_mem is small): the
# worker streams a scan of INBOX, then of Bulk, while the mail arrives.
BUSY_LOOP = r'''
while :; do cat "$@" > /dev/null; done
'''

# The k-th message to arrive gets the k-th of the actions named after DIR,
# OUT and ARCHIVE; each logs "ACTION NAME exit STATUS" in OUT/log.
ACT_LOOP = r'''
dir=$1 out=$2 archive=$3
shift 3
acts=("$@") n=0
inotifywait -m -e create --format %f "$dir" 2>"$out/.inotifywait" |
while read -r f; do
    case $f in *.eml) ;; *) continue ;; esac
    act=${acts[n]} n=$((n + 1))
    case $act in
    getfattr) getfattr --only-values -n user.imap.flags "$dir/$f" > "$out/flags" ;;
    setfattr) setfattr -n user.imap.flags -v '\Seen \Flagged' "$dir/$f" ;;
    mv) mv "$dir/$f" "$archive/" ;;
    rm) rm "$dir/$f" ;;
    *) continue ;;
    esac
    echo "$act $f exit $?" >> "$out/log"
done
'''


class ShellLoop:
    """bash -c SCRIPT DIR OUT ARGS... in a session of its own: ready once
    its inotifywait watches DIR, stopped (the whole group) by stop()."""

    def __init__(self, script, watched, out, *args):
        self.out = out
        os.makedirs(out, exist_ok=True)
        self.err = open(os.path.join(out, ".stderr"), "wb")
        self.proc = subprocess.Popen(["bash", "-c", script, "loop", watched, out, *args],
                                     stdout=subprocess.DEVNULL, stderr=self.err,
                                     start_new_session=True)
        watching = ifs.wait_until(lambda: "Watches established" in self.text(".inotifywait"),
                                  10 * ifs.timeout_scale())
        if not watching:
            self.stop()
            raise AssertionError("inotifywait did not start: %r %r"
                                 % (self.text(".inotifywait"), self.text(".stderr")))

    def text(self, name):
        try:
            with open(os.path.join(self.out, name), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)  # inotifywait may outlive bash
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.err.close()


def invoice(i, rnd):
    """A message whose Subject the recipe's grep matches; bodies of a few
    hundred bytes to 20 KB."""
    line = "Invoice line %d: 1 x widget at 9.99 EUR\r\n" % i
    return mailgen.simple_message(i, subject="invoice %d" % i,
                                  body=line * rnd.randint(1, 500))


def spacing(rnd):
    """Seconds to the next arrival: none (the same IDLE batch), a moment,
    or a pause long enough for the worker and the watcher to go idle."""
    r = rnd.random()
    if r < 0.3:
        return 0.0
    if r < 0.7:
        return rnd.uniform(0.1, 0.8)
    return rnd.uniform(2.0, 3.0)


def seed_for_reading(acc):
    """100 old messages of about 8 KB in INBOX and in Bulk (what the busy
    reader reads), and an empty Orders (the second watched folder)."""
    c = acc.raw()
    try:
        body = "old mail, kept busy\r\n" * 400
        c.create(server_folder(acc.srv, "Bulk"))
        for folder in ("INBOX", server_folder(acc.srv, "Bulk")):
            c.append_many(folder, [(mailgen.simple_message(1000 + i, body=body), [],
                                    mailgen.BASE_EPOCH + i, 0) for i in range(100)])
        c.create(server_folder(acc.srv, "Orders"))
    finally:
        c.logout()


def deliver(acc, folders, rnd, busy_start):
    """ARRIVALS invoices, each APPENDed by imaplib to one of folders at the
    seeded times; busy_start() runs before the middle third, and the
    function it returns after it."""
    m = acc.imap()
    busy_stop = None
    try:
        for i in range(ARRIVALS):
            if i == ARRIVALS // 3:
                busy_stop = busy_start()
            if i == 2 * ARRIVALS // 3:
                busy_stop()
                busy_stop = None
            box = imapraw.imaplib_quote(imapraw.mutf7_encode(rnd.choice(folders)))
            typ, data = m.append(box, None, None, invoice(i, rnd))
            assert typ == "OK", (typ, data)
            time.sleep(spacing(rnd))
    finally:
        if busy_stop:
            busy_stop()
        m.logout()


def new_bodies(acc, folder, old):
    """{name: bytes} of the messages in folder other than old, fetched by
    imaplib."""
    m = acc.imap()
    try:
        uids = sorted(set(imapraw.folder_state(m, folder)) - old)
        got = imapraw.fetch_bodies(m, folder, uids) if uids else {}
    finally:
        m.logout()
    return {"%d.eml" % u: got[u] for u in uids}


def read_out(out):
    return {n: open(os.path.join(out, n), "rb").read() for n in os.listdir(out)
            if n.endswith(".eml") and not n.startswith(".")}


def diagnosis(m, loops):
    lines = [line for line in m.stderr().splitlines()
             if "no body" in line or "behind" in line or "gone" in line or "error" in line]
    return "INBOXFS_NEWMAIL_SEED=%d\n%s\ninboxfs:\n%s" % (
        SEED, "\n".join("%s: errors %r stderr %r" % (lp.out, lp.text(".errors"),
                                                      lp.text(".stderr")) for lp in loops),
        "\n".join(lines[-40:]))


VARIANTS = {
    "default": {},
    "connections1": {"connections": "1"},
    "watch_all": {"watch": "all"},
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_recipe_reads_every_arrival(server, mount, tmp_path, variant):
    """The recipe reads each of 20 arrivals on the first try, the bytes
    the server has, whichever connection serves the read."""
    acc = Account(server, tmp_path, n=0)
    seed_for_reading(acc)
    folders = ["INBOX"] + (["Orders"] if variant == "watch_all" else [])
    server_names = {f: server_folder(server, f) for f in folders}
    old = {f: set(acc.state(server_names[f])) for f in folders}
    m = acc.mount(mount, cache_mem="256K", debug="fs", **VARIANTS[variant])
    inbox = m.path("INBOX")
    olds = [os.path.join(inbox, "%d.eml" % u) for u in sorted(old["INBOX"])]
    bulk = m.path(mount_path(server, "Bulk"))
    olds += [os.path.join(bulk, n) for n in sorted(os.listdir(bulk))]
    subprocess.run(["cat", olds[0]], stdout=subprocess.DEVNULL, check=True)  # INBOX selected
    loops = [ShellLoop(READ_LOOP, m.path(mount_path(server, f)), str(tmp_path / ("out-" + f)))
             for f in folders]

    def busy_start():
        p = subprocess.Popen(["bash", "-c", BUSY_LOOP, "busy", *olds],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)

        def stop():
            os.killpg(p.pid, signal.SIGTERM)
            p.wait()
        return stop

    rnd = random.Random("%s-%s-%d" % (server.kind, variant, SEED))
    try:
        deliver(acc, [server_names[f] for f in folders], rnd, busy_start)
        want = {f: new_bodies(acc, server_names[f], old[f]) for f in folders}
        assert sum(len(w) for w in want.values()) == ARRIVALS

        def settled():
            return all(lp.text(".errors") or set(read_out(lp.out)) >= set(want[f])
                       for f, lp in zip(folders, loops))
        ifs.wait_until(settled, ARRIVAL_TIMEOUT * ifs.timeout_scale(), interval=0.1)
    finally:
        for lp in loops:
            lp.stop()
    for f, lp in zip(folders, loops):
        assert lp.text(".errors") == "", diagnosis(m, loops)
        got = read_out(lp.out)
        assert set(got) == set(want[f]), (f, sorted(got), sorted(want[f]), diagnosis(m, loops))
        for name, data in want[f].items():
            assert got[name] == data, (f, name, len(got[name]), len(data))


def act_on_arrivals(acc, m, tmp_path, acts):
    """With the worker in INBOX read-write (a setfattr on an old message),
    deliver one message per action and let ACT_LOOP do the action on it
    as soon as it is announced; returns the UIDs, the bytes delivered and
    the loop's log."""
    inbox = m.path("INBOX")
    subprocess.run(["setfattr", "-n", "user.imap.flags", "-v", "\\Answered",
                    os.path.join(inbox, "%d.eml" % min(acc.state()))], check=True)
    loop = ShellLoop(ACT_LOOP, inbox, str(tmp_path / "out"),
                     m.path(mount_path(acc.srv, "Archive")), *acts)
    uids, bodies = [], []
    c = acc.imap()
    try:
        for k in range(len(acts)):
            bodies.append(mailgen.simple_message(600 + k, subject="act %d" % k))
            typ, data = c.append("INBOX", "(\\Answered)", None, bodies[-1])
            appended = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
            assert typ == "OK" and appended, (typ, data)
            uids.append(int(appended.group(1)))
            done = ifs.wait_until(lambda: len(loop.text("log").splitlines()) > k,
                                  ARRIVAL_TIMEOUT * ifs.timeout_scale())
            assert done, (loop.text("log"), loop.text(".stderr"), m.stderr()[-3000:])
    finally:
        c.logout()
        loop.stop()
    return uids, bodies, loop


def test_calls_on_an_arrival(server, mount, tmp_path):
    """getfattr, setfattr, mv and rm of a message right after its IN_CREATE:
    each does on the server what it says, and says so to the shell."""
    acc = Account(server, tmp_path, n=2)
    m = acc.mount(mount)
    acts = ["getfattr", "setfattr", "mv", "rm"]
    uids, bodies, loop = act_on_arrivals(acc, m, tmp_path, acts)
    log = loop.text("log").splitlines()
    assert log == ["%s %d.eml exit 0" % au for au in zip(acts, uids)], (
        log, loop.text(".stderr"), m.stderr()[-3000:])
    assert loop.text("flags").split() == ["\\Answered"]
    now = acc.state()
    assert now[uids[1]][2] == {"\\Seen", "\\Flagged"}
    assert uids[2] not in now and uids[3] not in now
    moved = acc.state(acc.archive)
    assert len(moved) == 1 and acc.body(acc.archive, min(moved)) == bodies[2]


CAPS_WITHOUT_MOVE = ("IMAP4rev1 SASL-IR ID ENABLE IDLE UNSELECT CHILDREN NAMESPACE UIDPLUS "
                     "CONDSTORE QRESYNC ESEARCH LITERAL+ SPECIAL-USE")


@pytest.fixture(scope="module")
def dovecot_nomove():
    """A Dovecot that offers no MOVE: mv is UID COPY, UID STORE +\\Deleted,
    UID EXPUNGE, on a server that tells of new mail with the COPY's answer."""
    dc = dovecot_mod.Dovecot(extra_config=["imap_capability = " + CAPS_WITHOUT_MOVE])
    yield dc
    dc.stop()


def test_mv_of_an_arrival_by_copy(dovecot_nomove, mount, tmp_path):
    """mv of a message right after its IN_CREATE, by the COPY fallback: the
    message ends in Archive, never expunged from INBOX uncopied."""
    acc = Account(dovecot_nomove, tmp_path, n=2)
    m = acc.mount(mount)
    uids, bodies, loop = act_on_arrivals(acc, m, tmp_path, ["mv", "mv"])
    log = loop.text("log").splitlines()
    assert log == ["mv %d.eml exit 0" % u for u in uids], (log, m.stderr()[-3000:])
    moved = acc.state(acc.archive)
    assert sorted(acc.body(acc.archive, u) for u in moved) == sorted(bodies)
    assert not set(uids) & set(acc.state())


EXAMPLE = os.path.join(HERE, "..", "..", "examples", "on-new-mail.sh")


def watching(pgid, timeout):
    """Until a process of group pgid holds an inotify watch (what
    inotifywait -q does not say)."""
    def found():
        for pid in subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True,
                                  text=True).stdout.split():
            try:
                fds = os.listdir("/proc/%s/fdinfo" % pid)
                for fd in fds:
                    with open("/proc/%s/fdinfo/%s" % (pid, fd)) as f:
                        if "inotify wd:" in f.read():
                            return True
            except OSError:
                continue
        return False
    return ifs.wait_until(found, timeout)


def copies(d):
    return sorted(open(d / n, "rb").read() for n in os.listdir(d))


def test_example_on_new_mail(dovecot, mount, tmp_path):
    """examples/on-new-mail.sh FOLDER COMMAND runs COMMAND on each arrival:
    a grep for invoices that copies what it finds, as its header shows."""
    acc = Account(dovecot, tmp_path, n=2)
    m = acc.mount(mount)
    inbox = m.path("INBOX")
    subprocess.run(["cat", os.path.join(inbox, "%d.eml" % min(acc.state()))],
                   stdout=subprocess.DEVNULL, check=True)
    out = tmp_path / "found"
    out.mkdir()
    p = subprocess.Popen(["bash", EXAMPLE, inbox, "sh", "-c",
                          'if grep -q "^Subject: .*invoice" "$1"; then cp "$1" "$0"; fi',
                          str(out)],
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        assert watching(p.pid, 10 * ifs.timeout_scale())
        c = acc.imap()
        rnd = random.Random(SEED)
        sent = [invoice(i, rnd) for i in range(3)]
        for body in sent + [mailgen.simple_message(9, subject="not for us")]:
            assert c.append("INBOX", None, None, body)[0] == "OK"
        c.logout()
        # The copies whole: cp makes its file before it writes it.
        assert ifs.wait_until(lambda: copies(out) == sorted(sent),
                              ARRIVAL_TIMEOUT * ifs.timeout_scale()), \
            (copies(out), m.stderr()[-3000:])
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        err = p.communicate(timeout=10)[1]
    assert copies(out) == sorted(sent), err
    assert b"failed" not in err, err
