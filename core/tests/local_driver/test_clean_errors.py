"""Files a connection cannot read or create are libvirt's errors, never a Python traceback.

An unreadable client configuration (``~/.config/pyvirt/pyvirt.conf``), a
driver configuration (``qemu.conf``) that cannot be read, and a session
connection whose HOME cannot be written to: each fails the open with the
error libvirt gives at the same step ("Failed to open file …", "Failed to
create … dir …"), from the API and from pyvirsh (exit status 1, ``error:``
lines only).
"""

from __future__ import annotations

import contextlib
import io
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import pyvirt
from pyvirt.cli.main import main as pyvirsh_main
from pyvirt.errors import ErrorCode
from pyvirt.plugin.entry_point_index import entry_point_value
from pyvirt.remote.driver import _SPAWN_WAIT

PYVIRSH = [sys.executable, "-m", "pyvirt.cli.main"]
NOBODY = 65534


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "PYVIRT_", "LIBVIRT_", "VIRSH_"))}
    return {**env, "LC_ALL": "C", **extra}


@pytest.fixture
def world_readable_dir() -> Iterator[Path]:
    """A directory another user can reach (pytest's tmp_path is private to root)."""
    d = Path(tempfile.mkdtemp(prefix="pyvirt-home-", dir="/tmp"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _as_nobody(home: Path, argv: list[str]) -> tuple[int, str, str]:
    """pyvirsh's main() and pyvirt.open() in a child that became an ordinary user (modules already loaded)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 2
        try:
            os.close(read_fd)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            os.environ.clear()
            os.environ.update({"HOME": str(home), "LC_ALL": "C"})
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                rc = pyvirsh_main(argv)
            try:
                pyvirt.open(argv[argv.index("-c") + 1]).close()
                api = "opened"
            except pyvirt.Error as exc:
                api = f"{int(exc.code)} {exc.message}"
            os.write(write_fd, f"{rc}\0{err.getvalue()}\0{api}".encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as f:
        data = f.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the child failed"
    rc, err, api = data.split("\0")
    return int(rc), err, api


def test_an_unreadable_client_config_is_libvirts_open_error(world_readable_dir: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to become another user")
    conf = world_readable_dir / ".config" / "pyvirt" / "pyvirt.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text('uri_default = "test:///default"\n')
    conf.chmod(0)
    for d in (conf.parent, conf.parent.parent):
        d.chmod(0o755)
    rc, err, api = _as_nobody(world_readable_dir, ["-c", "test:///default", "list"])
    expected = f"Failed to open file '{conf}': Permission denied"
    assert rc == 1 and err.startswith(f"error: failed to connect to the hypervisor\nerror: {expected}\n"), err
    assert api == f"{int(ErrorCode.SYSTEM_ERROR)} {expected}"


def test_a_client_config_that_is_a_directory(tmp_path: Path) -> None:
    """Debian's virsh 9.0 with a libvirt.conf that is a directory: its open succeeds, its read fails (virFileReadAll)."""
    p = subprocess.run([*PYVIRSH, "-c", "test:///default", "list"], capture_output=True, text=True, timeout=60,
                       env=clean_env(PYVIRT_CONFIG=str(tmp_path)), check=False)  # fmt: skip
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert p.stderr.startswith(f"error: failed to connect to the hypervisor\nerror: Failed to read file '{tmp_path}': "
                               "Is a directory\n")  # fmt: skip


@pytest.mark.parametrize("scheme", ["qemu", "lxc"])
def test_a_driver_config_that_cannot_be_read(scheme: str, tmp_path: Path) -> None:
    if entry_point_value("pyvirt.hypervisor", scheme) is None:
        pytest.skip(f"the {scheme} driver is not installed")
    conf = tmp_path / "etc" / f"{scheme}.conf"
    conf.mkdir(parents=True)  # a directory where the file should be: the read fails as on an unreadable file
    uri = f"{scheme}:///embed?root={tmp_path}"
    p = subprocess.run([*PYVIRSH, "-c", uri, "list"], capture_output=True, text=True, timeout=60, env=clean_env(),
                       check=False)  # fmt: skip
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert f"error: Failed to read file '{conf}': Is a directory\n" in p.stderr  # libvirt's virFileReadAll
    with pytest.raises(pyvirt.Error) as info:
        pyvirt.open(uri)
    assert info.value.code == ErrorCode.SYSTEM_ERROR


SESSION_PROBE = """
import sys, pyvirt
try:
    pyvirt.open(sys.argv[1]).close()
    print("opened")
except pyvirt.Error as e:
    print(int(e.code), e.message)
"""


@pytest.mark.parametrize("scheme", ["qemu", "storage"])
def test_a_session_connection_with_a_read_only_home(scheme: str, tmp_path: Path) -> None:
    """HOME on a read-only mount (a private mount namespace): the driver cannot create its directories."""
    if entry_point_value("pyvirt.hypervisor", scheme) is None:
        pytest.skip(f"the {scheme} driver is not installed")
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) for a private read-only mount")
    home = tmp_path / "home"
    home.mkdir()
    uri = f"{scheme}:///session"
    script = 'mount --bind "$HOME" "$HOME" && mount -o remount,bind,ro "$HOME" "$HOME" && exec "$@"'

    def run(*cmd: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *cmd],
                              capture_output=True, text=True, timeout=60, env=clean_env(HOME=str(home)),
                              check=False)  # fmt: skip

    # In the caller's process (?mode=direct), the driver's own error:
    direct = f"{uri}?mode=direct"
    cli = run(*PYVIRSH, "-c", direct, "list" if scheme == "qemu" else "pool-list")
    config_dir = home / ".config" / "pyvirt" / scheme
    assert cli.returncode == 1 and "Traceback" not in cli.stderr, cli.stderr
    assert cli.stderr.startswith("error: failed to connect to the hypervisor\nerror: Failed to create ")
    assert f"{config_dir}: Read-only file system\n" in cli.stderr
    # Through the session daemon started on demand (the default): its start-up error, relayed at once.
    # The client waits for a socket only while some daemon is starting (a racing client's); this one
    # failed and none is: waiting out the client's whole bound would only delay the same error.
    begun = time.monotonic()
    spawned = run(*PYVIRSH, "-c", uri, "list" if scheme == "qemu" else "pool-list")
    assert time.monotonic() - begun < _SPAWN_WAIT, "the client waited for a session daemon that had failed"
    assert spawned.returncode == 1 and "Traceback" not in spawned.stderr, spawned.stderr
    assert spawned.stderr.startswith(
        "error: failed to connect to the hypervisor\nerror: Failed to start the session daemon: "
    )
    assert "Read-only file system" in spawned.stderr
    api = run(sys.executable, "-c", SESSION_PROBE, direct)
    assert api.stdout.startswith(f"{int(ErrorCode.SYSTEM_ERROR)} Failed to create "), (api.stdout, api.stderr)
    assert not (home / ".config").exists()


def _children(pid: int) -> set[int]:
    try:
        return {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except FileNotFoundError:
        return set()


def test_a_client_whose_daemon_lost_the_pid_file_waits_for_the_one_that_won(tmp_path: Path) -> None:
    """Two clients raced to start the session daemon; the loser's daemon found the pid file locked.

    The winner (played by this test, holding the pid file with its own pid,
    as a daemon that is still starting) is alive: the losing client must wait
    for its socket, not report its own daemon's "Failed to acquire pid file"
    (the check that ends a failed spawn's wait early must not end this one).
    """
    if entry_point_value("pyvirt.hypervisor", "qemu") is None:
        pytest.skip("the qemu driver is not installed")
    from pyvirt.daemon.pidfile import PidFile

    home = tmp_path / "home"
    env = clean_env(HOME=str(home))
    pid_file = home / ".cache" / "pyvirt" / "pyvirtd.pid"
    winner = PidFile(str(pid_file))
    winner.acquire()
    daemon = None
    client = subprocess.Popen([*PYVIRSH, "-c", "qemu:///session", "list"], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        spawns: set[int] = set()
        deadline = time.monotonic() + 60
        while client.poll() is None and time.monotonic() < deadline:  # until its ``pyvirtd -d`` came and went
            now = _children(client.pid)
            if spawns and not spawns & now:
                break
            spawns |= now
            time.sleep(0.02)
        time.sleep(0.3)  # a client that gave up would have printed its error and exited by now
        assert client.poll() is None, client.communicate()
        # the winner comes up: a real daemon on the session's sockets (its own pid file: the lock stays held)
        other = tmp_path / "winner.pid"
        argv = [sys.executable, "-m", "pyvirt.daemon", "--session", "--daemon", "--timeout", "30", "-p", str(other)]
        started = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert started.returncode == 0, started.stderr
        daemon = int(other.read_text())
        out, err = client.communicate(timeout=60)
        assert (client.returncode, out) == (0, " Id   Name   State\n--------------------\n\n"), err
    finally:
        winner.release()
        if client.poll() is None:
            client.kill()
            client.wait()
        if daemon is not None:
            pidfd = os.pidfd_open(daemon)  # not our child (it detached): its end seen through a pidfd
            try:
                os.kill(daemon, 15)
                select.select([pidfd], [], [], 30)
            finally:
                os.close(pidfd)
