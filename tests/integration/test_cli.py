"""inboxfs --version and inboxfs --check (issue 22): what a user runs first
when a mount misbehaves.

--version is compared with meson.build and with what the libraries' own
tools (or the library itself, loaded here) say; --check against real servers is in
test_servers.py (Dovecot, Cyrus, Courier) and test_profiles.py (Office
365, Gmail).  Here: a scripted server for what no real server here lacks
(IDLE, UIDPLUS) or does (a login service that is down), and the ways
--check fails."""

import ctypes
import os
import re
import subprocess
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import fakeimap  # noqa: E402
import inboxfs as ifs  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))


def _run(*argv):
    return subprocess.run(list(argv), capture_output=True, text=True, check=True).stdout


def test_version_names_what_it_runs_with(inboxfs_bin):
    r = ifs.run_inboxfs(inboxfs_bin, ["--version"])
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    with open(os.path.join(REPO, "meson.build")) as f:
        version = re.search(r"version\s*:\s*'([^']+)'", f.read()).group(1)
    assert lines[0] == "inboxfs " + version
    fuse = re.search(r"version: (\S+)", _run("fusermount3", "--version")).group(1)
    assert lines[1] == "libfuse " + fuse
    # "OpenSSL 3.0.x DATE (Library: OpenSSL 3.0.x DATE)": the library's part
    assert lines[2] == re.search(r"\(Library: (.*)\)", _run("openssl", "version")).group(1)
    curl = ctypes.CDLL("libcurl.so.4")   # the curl tool may not be installed
    curl.curl_version.restype = ctypes.c_char_p
    assert lines[3] == "libcurl " + re.match(rb"libcurl/(\S+)", curl.curl_version()).group(1).decode()
    assert lines[4] == "zlib " + zlib.ZLIB_RUNTIME_VERSION
    cjson = _run("dpkg-query", "-W", "-f=${Version}", "libcjson1")
    assert lines[5] == "cJSON " + cjson.split("-")[0]
    assert len(lines) == 6, lines
    assert ifs.run_inboxfs(inboxfs_bin, ["-V"]).stdout == r.stdout


def _fake_check(inboxfs_bin, srv, tmp_path, options=(), url=None):
    pw = ifs.write_password_file(str(tmp_path), srv.password)
    opts = ",".join(["tls=none", "password_file=" + pw] + list(options))
    return ifs.run_inboxfs(inboxfs_bin, ["--check", "-o", opts, url or srv.url()])


def test_check_says_what_inboxfs_does_without(inboxfs_bin, fake_imap, tmp_path):
    """A server with neither IDLE, UIDPLUS nor MOVE: the table says so and
    what inboxfs does instead (poll, refuse rm, copy); the options it
    depends on change the note; only CAPABILITY, LOGIN and LIST are sent;
    a hostile folder name is shown escaped."""
    srv = fake_imap([fakeimap.FakeMailbox("INBOX"), fakeimap.FakeMailbox("Orders"),
                     fakeimap.FakeMailbox("Old", attributes=["\\Noselect"]),
                     fakeimap.FakeMailbox("Bin\x1b[2J", attributes=["\\Trash"])],
                    users={"alice": "check-pw"}, capabilities=["IMAP4rev1", "AUTH=PLAIN"])
    r = _fake_check(inboxfs_bin, srv, tmp_path)
    assert r.returncode == 0, r
    rep = ifs.parse_check(r.stdout)
    assert not any(offered for offered, _ in rep["caps"].values()), rep
    assert rep["caps"]["IDLE"][1] == "new mail: NOOP every 60 s (poll_interval)"
    assert "refused (EPERM" in rep["caps"]["UIDPLUS"][1]
    assert rep["caps"]["MOVE"][1].startswith("mv: UID COPY")
    # a name's control bytes never reach the terminal
    assert rep["folders"] == 4 and rep["special"] == {"\\Trash": "Bin\\x1b[2J"}, rep
    assert "\x1b" not in r.stdout
    assert "(1 of them \\Noselect" in r.stdout
    assert {e.name for e in srv.commands()} <= {"CAPABILITY", "AUTHENTICATE", "LOGIN", "LIST",
                                                "LOGOUT"}, srv.commands()

    r = _fake_check(inboxfs_bin, srv, tmp_path, ["poll_interval=7", "expunge=unsafe"])
    rep = ifs.parse_check(r.stdout)
    assert rep["caps"]["IDLE"][1] == "new mail: NOOP every 7 s (poll_interval)"
    assert "a bare EXPUNGE" in rep["caps"]["UIDPLUS"][1], rep

    # an account of the config file, as a mount names it
    config = tmp_path / "config"
    config.write_text("[shop]\nurl = %s\ntls = none\npassword_file = %s\n"
                      % (srv.url(), tmp_path / "password"))
    r = ifs.run_inboxfs(inboxfs_bin, ["--check", "-o", "config=%s" % config, "shop"])
    assert r.returncode == 0 and ifs.parse_check(r.stdout)["folders"] == 4, r


def test_check_failures_are_one_line_and_exit_1(inboxfs_bin, fake_imap, tmp_path):
    srv = fake_imap([fakeimap.FakeMailbox("INBOX")], users={"alice": "check-pw"})
    cases = {
        "a wrong password": (["--check", "-o", "tls=none,password_file=%s"
                              % ifs.write_password_file(str(tmp_path), "wrong", name="bad"),
                              srv.url()], "inboxfs: login rejected: "),
        "a mount point": (["--check", "-o", "tls=none", srv.url(), str(tmp_path)],
                          "inboxfs: --check takes no mount point"),
        "no server": (["--check", "-o", "tls=none", "imap://alice@127.0.0.1:1"],
                      "inboxfs: cannot connect"),
    }
    for what, (argv, line) in cases.items():
        r = ifs.run_inboxfs(inboxfs_bin, argv, env=ifs.clean_env({"INBOXFS_PASSWORD": "x"}))
        assert r.returncode == 1, (what, r)
        assert r.stderr.startswith(line) and r.stderr.count("\n") == 1, (what, r)
        assert "capability" not in r.stdout, (what, r)

    def unavailable(session, tag, args):
        session.tagged(tag, "NO", "[UNAVAILABLE] Temporary authentication failure.")
        return True
    srv.hooks["AUTHENTICATE"] = unavailable
    r = _fake_check(inboxfs_bin, srv, tmp_path)
    assert r.returncode == 1, r
    assert r.stderr == ("inboxfs: the server cannot log anyone in now (a mount tries three "
                        "more times): Temporary authentication failure.\n"), r
