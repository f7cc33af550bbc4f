"""The Debian package (issue 22), built and installed the way the README
says: packaging/build-deb.sh builds it from a copy of the tree (the tree
stays as it was), `apt-get install ./inboxfs_*.deb` installs it, and the
packaged /usr/bin/inboxfs works where users reach it: --version, --check
against a private Dovecot, a mount through an fstab line (mount(8) ->
mount.fuse3 -> inboxfs; a private fstab given with mount -T, so
/etc/fstab is never touched), and the systemd user unit passes
`systemd-analyze verify`.  `apt-get purge` must leave none of its files.

Skipped when dpkg-buildpackage or debhelper is missing (tests/install-deps.sh
installs both), when not root, when an inboxfs package is installed
already (the test would replace it), and in the sanitizer configuration
of tests/run.sh (ASAN_OPTIONS set): the package does not contain the
binary under test, so building it once per run is enough.  lintian, when
installed, runs inside build-deb.sh and fails the build on an error.
"""

import os
import re
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import inboxfs as ifs  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
PACKAGED = "/usr/bin/inboxfs"
UNIT = "/usr/lib/systemd/user/inboxfs@.service"
APT = ["apt-get", "-y", "-q", "-o", "DPkg::Lock::Timeout=120"]


def _why_skip():
    if not shutil.which("dpkg-buildpackage") or not shutil.which("dh"):
        return "dpkg-buildpackage or debhelper missing (tests/install-deps.sh installs them)"
    if os.geteuid() != 0:
        return "installs a package: needs root"
    if os.environ.get("ASAN_OPTIONS"):
        return "the package is built and installed once per run, in the plain configuration"
    st = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "inboxfs"],
                        capture_output=True, text=True).stdout
    if "installed" in st.split():
        return "an inboxfs package is installed on this machine: the test would replace it"
    return None


pytestmark = pytest.mark.skipif(_why_skip() is not None, reason=str(_why_skip()))


def _git_status():
    if not os.path.isdir(os.path.join(REPO, ".git")) and \
            not os.path.isfile(os.path.join(REPO, ".git")):
        return None
    return subprocess.run(["git", "-C", REPO, "status", "--porcelain"], capture_output=True,
                          text=True, check=True).stdout


def _run(argv, timeout=120, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)


def _installed_files():
    out = _run(["dpkg", "-L", "inboxfs"]).stdout.split("\n")
    return [p for p in out if p and os.path.isfile(p)]


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    """Build the package once; returns the path of inboxfs_VERSION_ARCH.deb."""
    out = tmp_path_factory.mktemp("deb")
    before = _git_status()
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck")
    r = _run(["bash", os.path.join(REPO, "packaging", "build-deb.sh"), str(out)],
             timeout=600, env=env)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    if shutil.which("lintian"):
        assert "build-deb.sh: lintian" in r.stdout, r.stdout
    assert _git_status() == before, "the package build changed the source tree"
    debs = [p for p in os.listdir(out) if re.match(r"inboxfs_.*\.deb$", p)]
    assert len(debs) == 1, os.listdir(out)
    return os.path.join(out, debs[0])


@pytest.fixture(scope="module")
def installed(deb):
    """The package installed with apt-get; purged at the end, and then
    none of its files may be left."""
    r = _run(APT + ["install", deb], timeout=300, env=dict(os.environ,
                                                          DEBIAN_FRONTEND="noninteractive"))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    files = _installed_files()
    try:
        yield files
    finally:
        r = _run(APT + ["purge", "inboxfs"], timeout=300,
                 env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    left = [p for p in files if os.path.lexists(p)]
    assert not left, left
    assert not os.path.exists("/usr/share/doc/inboxfs")


def test_the_package_holds_what_the_readme_says(installed):
    for path in (PACKAGED, UNIT, "/usr/share/man/man1/inboxfs.1.gz",
                 "/usr/share/doc/inboxfs/copyright",
                 "/usr/share/doc/inboxfs/examples/process-new-mail.sh",
                 "/usr/share/doc/inboxfs/examples/config.office365"):
        assert path in installed, (path, installed)
    depends = _run(["dpkg-query", "-W", "-f=${Depends}", "inboxfs"]).stdout
    for lib in ("fuse3", "libfuse3-3", "libssl3", "libcurl4", "libcjson1", "libgmime-3.0-0"):
        assert re.search(r"(^|, )%s\b" % lib, depends), depends
    r = _run([PACKAGED, "--version"])
    with open(os.path.join(REPO, "meson.build")) as f:
        version = re.search(r"version\s*:\s*'([^']+)'", f.read()).group(1)
    assert r.returncode == 0 and r.stdout.startswith("inboxfs %s\nlibfuse " % version), r


def test_packaged_check_and_fstab_mount(installed, dovecot, tmp_path):
    """inboxfs --check, then the README's fstab line (an account of a
    config file) mounted with mount(8) as root: mount.fuse3 finds the
    packaged binary; ls shows the folders; umount ends the daemon."""
    for first in ("/usr/local/sbin/inboxfs", "/usr/local/bin/inboxfs"):
        if os.path.lexists(first):
            pytest.skip("%s comes before %s in mount.fuse3's PATH" % (first, PACKAGED))
    pw = ifs.write_password_file(str(tmp_path), dovecot.password)
    config = tmp_path / "config"
    config.write_text("[work]\nurl = %s\ncafile = %s\npassword_file = %s\n"
                      % (dovecot.url(), dovecot.cafile, pw))
    env = ifs.clean_env({"HOME": str(tmp_path)})
    r = _run([PACKAGED, "--check", "-o", "config=%s" % config, "work"], env=env)
    assert r.returncode == 0 and "result:           a mount would work" in r.stdout, r

    mnt = tmp_path / "mail"
    mnt.mkdir()
    fstab = tmp_path / "fstab"
    fstab.write_text("work  %s  fuse.inboxfs  noauto,user,_netdev,config=%s  0 0\n"
                     % (mnt, config))
    r = _run(["mount", "-T", str(fstab), str(mnt)], env=env, timeout=30 * ifs.timeout_scale())
    try:
        assert r.returncode == 0, r
        assert ifs.is_mounted(str(mnt)), ifs.mount_entries()
        assert ifs.find_processes(PACKAGED, str(mnt)), "not the packaged binary"
        assert "INBOX" in os.listdir(mnt)
    finally:
        if ifs.is_mounted(str(mnt)):
            r = _run(["umount", str(mnt)])
            assert r.returncode == 0, r
    assert ifs.wait_until(lambda: not ifs.find_processes(PACKAGED, str(mnt)),
                          10 * ifs.timeout_scale()), "inboxfs still runs after umount"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_packaged_unit_verifies(installed, tmp_path):
    """The user unit as installed: systemd-analyze finds the command
    (ExecStart=inboxfs, in /usr/bin) and the man page it names."""
    rt = tmp_path / "runtime"
    rt.mkdir(mode=0o700)
    r = _run(["systemd-analyze", "--user", "verify", UNIT],
             env=dict(os.environ, XDG_RUNTIME_DIR=str(rt)))
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), r
