"""``+ssh``'s two ends kept light: ``pyvirt-ssh-helper`` (virt-ssh-helper's command line and messages, a
relay that ends cleanly, a small start) and the client's launch of ssh (no subprocess, reaped children).

Every ``qemu+ssh://`` command starts the helper once on the far host, so
what it imports before it relays is paid by every remote ``list``. The
console script pip installed is what runs there, so that is what these
tests run. Debian's ``/usr/bin/virt-ssh-helper`` (libvirt 9.0) is the
reference for the command line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.daemon.sockets import daemon_paths
from pyvirt.remote.client import default_socket
from pyvirt.remote.ssh_helper import socket_for

HELPER = Path(sys.executable).parent / "pyvirt-ssh-helper"
VIRT_SSH_HELPER = "/usr/bin/virt-ssh-helper"
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"LC_ALL": "C"}


def run(argv: list[str], stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(argv, input=stdin, capture_output=True, timeout=60, env=ENV, check=False)


def imported(stderr: bytes) -> set[str]:
    lines = stderr.decode().splitlines()
    return {line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:")}


@pytest.fixture(scope="module")
def pyvirtd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateDaemon]:
    with PrivateDaemon(tmp_path_factory.mktemp("pyvirtd")) as daemon:
        yield daemon


def _fake_ssh(pyvirtd: PrivateDaemon, tmp_path: Path) -> str:
    """A ``+ssh`` URI whose "ssh" runs the far command right here, with this daemon's helper in its PATH."""
    far_bin = tmp_path / "bin"
    far_bin.mkdir(exist_ok=True)
    (far_bin / "pyvirt-ssh-helper").write_text(f'#!/bin/sh\nexec {HELPER} --root {pyvirtd.root} "$@"\n')
    ssh = tmp_path / "ssh"
    ssh.write_text(f'#!/bin/sh\nfor last; do :; done\nPATH={far_bin}:$PATH exec sh -c "$last"\n')
    for program in (far_bin / "pyvirt-ssh-helper", ssh):
        program.chmod(0o755)
    return f"test+ssh://localhost/default?command={ssh}&proxy=native"


def test_relaying_to_a_daemon_imports_next_to_nothing(pyvirtd: PrivateDaemon) -> None:
    """From start to the relay's end, the helper loads only its own modules, ``_socket`` and ``select``.

    What the old helper paid before relaying a byte, each a few milliseconds
    of every remote command: argparse (and re, gettext behind it), socket.py
    with its enums, ``pyvirt.errors`` (enum), the URI parser and its config.
    """
    base = imported(run([sys.executable, "-X", "importtime", "-c", "pass"]).stderr)
    done = run([sys.executable, "-X", "importtime", str(HELPER), "--root", str(pyvirtd.root), "test:///default"])
    # stdin was empty: the helper half-closed the socket, the daemon closed, the relay ended well
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    extra = imported(done.stderr) - base
    assert "pyvirt.remote.ssh_helper" in extra
    assert extra <= {"__future__", "pyvirt", "pyvirt.remote", "pyvirt.remote.ssh_helper", "_socket", "select"}, extra


def test_the_relay_carries_a_whole_rpc_conversation(pyvirtd: PrivateDaemon, tmp_path: Path) -> None:
    """A ``+ssh`` client whose "ssh" runs the far command right here: the client, the helper and pyvirtd talk."""
    import pyvirt

    with pyvirt.open(_fake_ssh(pyvirtd, tmp_path)) as conn:
        assert [d.name for d in conn.list_all_domains()] == ["test"]
        assert conn.lookup_domain_by_name("test").info().state


@pytest.mark.parametrize(
    "argv",
    [[], ["-x", "qemu:///system"], ["--bogus"], ["a", "b"], ["-V"], ["--version"], ["-rV"], ["--help"], ["-h"]],
    ids=lambda argv: " ".join(argv) or "no-argument",
)
def test_command_line_answers_as_virt_ssh_helper_does(argv: list[str]) -> None:
    """Same stream, same text and same exit status as libvirt's helper (names and versions aside)."""
    if not os.access(VIRT_SSH_HELPER, os.X_OK):
        pytest.skip("libvirt's virt-ssh-helper is not installed")
    ours, theirs = run([str(HELPER), *argv]), run([VIRT_SSH_HELPER, *argv])
    assert ours.returncode == theirs.returncode

    def same(text: bytes) -> str:
        out = text.decode().replace("  --root=DIR         The pyvirtd started with --root DIR\n", "")
        out = out.replace("pyvirt-ssh-helper", "virt-ssh-helper").replace("(pyvirt) ", "(libvirt) ")
        return out.replace("[OPTION…]", "[OPTION?]")  # GLib's ellipsis under LC_ALL=C

    version = "(libvirt) " in theirs.stdout.decode()
    if version:  # the version number is each program's own
        assert ours.stdout.decode().startswith("pyvirt-ssh-helper (pyvirt) ")  # C echoes argv[0]: here a full path
        assert theirs.stdout.decode().startswith(f"{VIRT_SSH_HELPER} (libvirt) ")
    else:
        assert same(ours.stdout) == theirs.stdout.decode()
    assert same(ours.stderr) == theirs.stderr.decode()


def test_uri_refusals_are_virt_ssh_helpers() -> None:
    cases = {
        "qemu+ssh://host/system": "pyvirt-ssh-helper: unexpected URI transport 'qemu+ssh://host/system'\n",
        "qemu://host/system": "pyvirt-ssh-helper: unexpected URI transport 'qemu://host/system'\n",
        "qemu+bogus:///system": "pyvirt-ssh-helper: cannot parse URI transport 'qemu+bogus:///system': invalid "
        "argument: remote_open: transport in URL not recognised (should be tls|unix|ssh|ext|tcp|libssh2|libssh)\n",
    }
    for uri, message in cases.items():
        done = run([str(HELPER), uri])
        assert (done.returncode, done.stderr.decode()) == (1, message)


def test_no_daemon_is_virt_ssh_helpers_connect_error(tmp_path: Path) -> None:
    done = run([str(HELPER), "-r", "--root", str(tmp_path), "qemu:///system"])
    sock = tmp_path / "run" / "pyvirt" / "pyvirt-sock-ro"
    want = f"pyvirt-ssh-helper: cannot connect to '{sock}': Failed to connect socket to '{sock}': "
    assert (done.returncode, done.stderr.decode()) == (1, want + "No such file or directory\n")


@pytest.mark.parametrize("read_only", [False, True])
def test_socket_paths_are_the_daemons_and_the_clients(tmp_path: Path, read_only: bool) -> None:
    """The helper writes the paths out instead of importing them: they must stay the ones pyvirtd serves."""
    paths = daemon_paths(root=str(tmp_path))
    want = paths.ro_socket if read_only else paths.rw_socket
    assert socket_for("qemu:///system", read_only, str(tmp_path)) == want
    assert socket_for("test+unix:///default?x=1", read_only, str(tmp_path)) == want
    assert socket_for("qemu:///system", read_only, None) == default_socket(read_only, session=False)


def test_pyvirsh_over_ssh_imports_none_of_the_costly_standard_modules(pyvirtd: PrivateDaemon, tmp_path: Path) -> None:
    """The client's end of +ssh adds only its own module and signal to a local list's imports: not subprocess
    (locale, re, threading, selectors behind it), socket.py, or shlex."""
    pyvirsh = Path(sys.executable).parent / "pyvirsh"
    done = run([sys.executable, "-X", "importtime", str(pyvirsh), "-c", _fake_ssh(pyvirtd, tmp_path), "list", "--all"])
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert b" test " in done.stdout
    modules = imported(done.stderr)
    assert "pyvirt.remote.ssh" in modules
    assert not {"subprocess", "socket", "selectors", "re", "shlex", "threading", "locale"} & modules


def test_a_command_that_outlives_its_stdin_is_killed_and_reaped() -> None:
    from pyvirt.remote.ssh import _reap, _spawn

    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    try:
        pid = _spawn(["sleep", "60"], null, null)
    finally:
        os.close(null)
    started = time.monotonic()
    _reap(pid, 0.2)
    assert time.monotonic() - started < 5
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped: no zombie left for a late PID 1
