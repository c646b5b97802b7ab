"""No password in the auth file: pyvirsh asks on the terminal as virsh does; a program that cannot be asked fails.

pyvirsh runs under a pseudo-terminal of its own (its controlling
terminal, where a password is read with echo off), as a user would type.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from vcsim import PASSWORD, Simulator

import pyvirt
from pyvirt.errors import Error, ErrorCode

PYVIRSH = str(Path(sys.executable).with_name("pyvirsh"))


@pytest.fixture
def no_auth_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An environment in which no auth file answers and no session is kept yet."""
    empty = tmp_path / "auth.conf"
    empty.write_text("")
    monkeypatch.setenv("LIBVIRT_AUTH_FILE", str(empty))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return dict(os.environ)


def read_until(fd: int, wanted: bytes, seen: bytearray, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while wanted not in seen:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise AssertionError(f"waited for {wanted!r}; the terminal showed {bytes(seen)!r}")
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the other side closed
            chunk = b""
        if not chunk:
            raise AssertionError(f"pyvirsh ended before {wanted!r}; the terminal showed {bytes(seen)!r}")
        seen += chunk


def wait_for_echo_off(fd: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while termios.tcgetattr(fd)[3] & termios.ECHO:
        if time.monotonic() > deadline:
            raise AssertionError("the password prompt never turned the terminal's echo off")
        time.sleep(0.01)


def run_on_terminal(argv: list[str], env: dict[str, str], typed: bytes, user: bytes | None = None) -> tuple[int, str]:
    """Run ``argv`` on a new pseudo-terminal, type ``typed`` at the password prompt; (exit status, screen).

    With ``user``, that is typed first, at the user name prompt.
    """
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
                            close_fds=True)  # fmt: skip
    os.close(slave)
    seen = bytearray()
    try:
        if user is not None:
            read_until(master, b"]: ", seen)
            os.write(master, user + b"\n")
        read_until(master, b"'s password for ", seen)
        read_until(master, b": ", seen)
        wait_for_echo_off(master)  # as a user types after the prompt: typed earlier, getpass's flush drops it
        os.write(master, typed + b"\n")
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            if not ready:
                break
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        return proc.wait(timeout=60), seen.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_pyvirsh_asks_for_the_password_like_virsh(esx_sim: Simulator, no_auth_file: dict[str, str]) -> None:
    status, screen = run_on_terminal([PYVIRSH, "-c", esx_sim.uri(), "list", "--all"], no_auth_file,
                                     PASSWORD.encode())  # fmt: skip
    assert status == 0, screen
    assert f"Enter root's password for {esx_sim.host}: " in screen
    assert "ha-host_VM0" in screen
    assert PASSWORD not in screen  # typed with echo off


def test_a_wrong_password_typed_is_refused_by_the_host(esx_sim: Simulator, no_auth_file: dict[str, str]) -> None:
    status, screen = run_on_terminal([PYVIRSH, "-c", esx_sim.uri(), "list", "--all"], no_auth_file, b"nope")
    assert status == 1 and "InvalidLogin" in screen, screen


def test_a_program_without_a_prompt_gets_libvirts_error(esx_sim: Simulator, no_auth_file: dict[str, str]) -> None:
    with pytest.raises(Error) as err:
        pyvirt.open(esx_sim.uri())
    assert err.value.code == ErrorCode.INVALID_ARG
    assert "Missing authentication credentials" in err.value.message


def test_pyvirsh_without_a_terminal_reads_nothing_and_fails(esx_sim: Simulator, no_auth_file: dict[str, str]) -> None:
    """No terminal and nothing on stdin: the empty password is the host's to refuse (libvirt's default callback)."""
    result = subprocess.run([PYVIRSH, "-c", esx_sim.uri(), "list"], stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, timeout=120, env=no_auth_file, start_new_session=True, check=False)  # fmt: skip
    assert result.returncode == 1
    assert f"Enter root's password for {esx_sim.host}: " in result.stdout


def test_no_user_anywhere_asks_for_one_too(esx_sim: Simulator, no_auth_file: dict[str, str]) -> None:
    uri = esx_sim.uri().replace("root@", "")
    status, screen = run_on_terminal([PYVIRSH, "-c", uri, "list", "--all"], no_auth_file, PASSWORD.encode(), b"root")
    assert status == 0, screen
    assert f"Enter username for {esx_sim.host} [root]: root" in screen  # a user name is echoed
    assert f"Enter root's password for {esx_sim.host}: " in screen and "ha-host_VM0" in screen
