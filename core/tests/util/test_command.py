"""Command runs real children: environment, fds, stdio, failures, pidfiles, handshakes."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pyvirt.errors import ErrorCode, InvalidArgumentError, OperationFailedError, SystemCallError
from pyvirt.util.command import (
    EXIT_CANCELED,
    EXIT_CANNOT_INVOKE,
    EXIT_ENOENT,
    Command,
    CommandFailedError,
)


def test_environment_is_cleared_unless_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYVIRT_SECRET", "leak")
    monkeypatch.setenv("HOME", "/home/someone")
    cmd = Command(["/usr/bin/env"]).capture_stdout().run()
    assert cmd.stdout == b""
    cmd = Command(["/usr/bin/env"]).pass_env_common().set_env("FOO", "a b").capture_stdout().run()
    lines = cmd.stdout.decode().splitlines()
    assert "LC_ALL=C" in lines and "HOME=/home/someone" in lines and "FOO=a b" in lines
    assert not any(line.startswith("PYVIRT_SECRET") for line in lines)


def test_only_passed_fds_reach_the_child(tmp_path: Path) -> None:
    keep_r, keep_w = os.pipe()
    leak_r, leak_w = os.pipe()
    os.set_inheritable(leak_r, True)  # even inheritable fds must not leak
    try:
        cmd = Command(["/bin/sleep", "30"]).pass_fd(keep_r)
        cmd.run_async()
        fds = {int(x) for x in os.listdir(f"/proc/{cmd.pid}/fd")}
        cmd.abort()
        assert fds == {0, 1, 2, keep_r}
    finally:
        for fd in (keep_r, keep_w, leak_r, leak_w):
            os.close(fd)


def test_a_pidfile_held_by_a_running_child_cannot_be_taken(tmp_path: Path) -> None:
    pidfile = str(tmp_path / "one.pid")
    first = Command(["/bin/sleep", "30"]).set_pidfile(pidfile)
    first.run_async()
    try:
        with pytest.raises(CommandFailedError) as e:
            Command(["/bin/sleep", "30"]).set_pidfile(pidfile).run_async()
        assert (e.value.step, e.value.child_errno) == ("pidfile", errno.EAGAIN)
        assert int(Path(pidfile).read_text()) == first.pid  # untouched
    finally:
        first.abort()


_NO_FD_LEAK = """
import os, sys
from pyvirt.util.command import Command, CommandFailedError
before = sorted(os.listdir("/proc/self/fd"))
cmds = []
for _ in range(10):
    Command(["/bin/cat"]).set_stdin(b"hello").capture_stdout().capture_stderr().run()
    c = Command(["/bin/sleep", "30"])
    c.run_async()
    cmds.append(c)
for c in cmds:
    c.abort()
try:
    Command(["/nonexistent/binary"]).capture_stdout().run()
except CommandFailedError:
    pass
else:
    sys.exit("a missing binary ran")
after = sorted(os.listdir("/proc/self/fd"))
sys.exit(0 if after == before else f"descriptors before {before}, after {after}")
"""


def test_no_fds_leak_parent_strict() -> None:
    # In a fresh interpreter: in the test process, threads and sockets other tests left behind open and
    # close descriptors of their own at any moment, in the middle of the count.
    done = subprocess.run([sys.executable, "-c", _NO_FD_LEAK], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


def test_stdin_bytes_stdout_and_stderr_capture() -> None:
    cmd = Command(["/bin/sh", "-c", "tr a-z A-Z; echo oops >&2"]).set_stdin(b"hello").capture_stdout().capture_stderr()
    cmd.run()
    assert cmd.stdout == b"HELLO"
    assert cmd.stderr == b"oops\n"
    assert cmd.exit_status == 0


def test_large_output_does_not_deadlock() -> None:
    data = os.urandom(1 << 20)
    cmd = Command(["/bin/cat"]).set_stdin(data).capture_stdout().run(timeout=30)
    assert cmd.stdout == data


def test_stdio_to_files(tmp_path: Path) -> None:
    src, out, err = tmp_path / "in", tmp_path / "out", tmp_path / "err"
    src.write_bytes(b"from file\n")
    Command(["/bin/sh", "-c", "cat; echo e >&2"]).set_stdin(str(src)).set_stdout(str(out)).set_stderr(str(err)).run()
    Command(["/bin/echo", "again"]).set_stdout(str(out), append=True).run()
    assert out.read_bytes() == b"from file\nagain\n"
    assert err.read_bytes() == b"e\n"


def test_nonzero_exit_is_an_error_with_stderr() -> None:
    with pytest.raises(CommandFailedError) as e:
        Command(["/bin/sh", "-c", "echo broken >&2; exit 3"]).capture_stderr().run()
    assert e.value.exit_status == 3
    assert e.value.code == ErrorCode.OPERATION_FAILED
    assert "unexpected exit status 3: broken" in e.value.message
    assert Command(["/bin/false"]).run(check=False).exit_status == 1


def test_missing_binary_reports_exec_step_enoent_and_127() -> None:
    with pytest.raises(CommandFailedError) as e:
        Command(["/no/such/emulator", "-S"]).run()
    assert (e.value.step, e.value.child_errno, e.value.exit_status) == ("exec", errno.ENOENT, EXIT_ENOENT)


def test_non_executable_reports_126(tmp_path: Path) -> None:
    f = tmp_path / "notexec"
    f.write_text("#!/bin/sh\n")
    with pytest.raises(CommandFailedError) as e:
        Command([str(f)]).run()
    assert (e.value.step, e.value.child_errno, e.value.exit_status) == ("exec", errno.EACCES, EXIT_CANNOT_INVOKE)


def test_pre_exec_failure_names_the_step_and_errno_and_exits_125(tmp_path: Path) -> None:
    # slow path (a hook forces our own fork): chdir into a missing directory
    cmd = Command(["/bin/true"]).set_cwd(str(tmp_path / "missing")).add_pre_exec_hook("noop", lambda: None)
    with pytest.raises(CommandFailedError) as e:
        cmd.run()
    assert (e.value.step, e.value.child_errno, e.value.exit_status) == ("chdir", errno.ENOENT, EXIT_CANCELED)
    # fast path gives the same answer
    with pytest.raises(CommandFailedError) as e:
        Command(["/bin/true"]).set_cwd(str(tmp_path / "missing")).run()
    assert (e.value.step, e.value.child_errno, e.value.exit_status) == ("chdir", errno.ENOENT, EXIT_CANCELED)


def test_failing_hook_is_reported_and_nothing_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    def label() -> None:
        raise OSError(errno.EPERM, "cannot set process label")

    with pytest.raises(CommandFailedError) as e:
        Command(["/bin/touch", str(marker)]).add_pre_exec_hook("security label", label).run()
    assert e.value.step == "hook security label" and e.value.child_errno == errno.EPERM
    assert not marker.exists()


def test_hooks_run_in_the_child_before_exec(tmp_path: Path) -> None:
    out = tmp_path / "hook"

    def hook() -> None:
        out.write_text(str(os.getpid()))

    cmd = Command(["/bin/sleep", "30"]).add_pre_exec_hook("write", hook)
    cmd.run_async()
    cmd.abort()
    assert out.read_text() == str(cmd.pid)


def test_umask_cwd_and_rlimits(tmp_path: Path) -> None:
    cmd = (
        Command(["/bin/bash", "-c", "umask; pwd; ulimit -n; ulimit -c; ulimit -l; ulimit -u"])
        .set_umask(0o027)
        .set_cwd(str(tmp_path))
        .set_rlimit("nofile", 256)
        .set_rlimit("core", 0)
        .set_rlimit("memlock", 65536)
        .set_rlimit("nproc", 4096)
        .capture_stdout()
        .run()
    )
    assert cmd.stdout.decode().split() == ["0027", str(tmp_path), "256", "0", "64", "4096"]
    with pytest.raises(InvalidArgumentError):
        Command(["/bin/true"]).set_rlimit("stack", 1)


def test_locked_pidfile_names_the_child(tmp_path: Path) -> None:
    import fcntl

    pidfile = tmp_path / "guest.pid"
    cmd = Command(["/bin/sleep", "30"]).set_pidfile(str(pidfile))
    cmd.run_async()
    try:
        assert int(pidfile.read_text()) == cmd.pid
        fd = os.open(pidfile, os.O_RDWR)
        try:
            with pytest.raises(OSError):
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by the child
        finally:
            os.close(fd)
    finally:
        cmd.abort()


def test_daemonize_returns_once_the_pidfile_names_the_grandchild(tmp_path: Path) -> None:
    pidfile = tmp_path / "daemon.pid"
    cmd = Command(["/bin/sleep", "30"]).set_pidfile(str(pidfile)).daemonize()
    cmd.run_async()
    pid = int(pidfile.read_text())
    try:
        assert pid == cmd.pid
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ppid, sid = int(fields[1]), int(fields[3])
        assert ppid != os.getpid()  # reparented: the intermediate child is gone
        assert sid != os.getsid(0)  # detached into its own session (setsid before the 2nd fork)
        assert cmd.is_running()
    finally:
        os.kill(pid, signal.SIGKILL)
    cmd.wait(5)  # observed through the pidfd
    assert not cmd.is_running()
    with pytest.raises(InvalidArgumentError):
        Command(["/bin/true"]).daemonize().run_async()


def test_handshake_holds_the_child_before_exec(tmp_path: Path) -> None:
    cmd = Command(["/bin/sleep", "30"]).require_handshake()
    cmd.run_async()
    try:
        cmd.wait_for_handshake(5)
        with open(f"/proc/{cmd.pid}/comm") as f:
            assert f.read().strip() != "sleep"  # still our forked Python, not exec'd
        cmd.notify_handshake()
        with open(f"/proc/{cmd.pid}/comm") as f:
            assert f.read().strip() == "sleep"
    finally:
        cmd.abort()


def test_handshake_reports_a_failure_before_the_handshake() -> None:
    def boom() -> None:
        raise OSError(errno.EIO, "label failed")

    cmd = Command(["/bin/true"]).require_handshake().add_pre_exec_hook("label", boom)
    cmd.run_async()
    with pytest.raises(CommandFailedError) as e:
        cmd.wait_for_handshake(5)
    assert e.value.step == "hook label"


def test_wait_timeout_and_abort_kill_stubborn_children() -> None:
    cmd = Command(["/bin/sh", "-c", "trap '' TERM; while :; do sleep 1; done"])
    cmd.run_async()
    with pytest.raises(OperationFailedError) as e:
        cmd.wait(0.2)
    assert e.value.code == ErrorCode.OPERATION_TIMEOUT
    t0 = time.monotonic()
    cmd.abort(grace=0.3)
    assert time.monotonic() - t0 < 3
    assert cmd.exit_status == -signal.SIGKILL
    assert not os.path.exists(f"/proc/{cmd.pid}")  # reaped, no zombie


def test_run_timeout_kills_the_child() -> None:
    cmd = Command(["/bin/sleep", "30"]).capture_stdout()
    with pytest.raises(OperationFailedError) as e:
        cmd.run(timeout=0.3)
    assert e.value.code == ErrorCode.OPERATION_TIMEOUT
    assert not os.path.exists(f"/proc/{cmd.pid}")


def test_program_is_looked_up_in_the_parents_path() -> None:
    assert Command(["true"]).run().exit_status == 0
    with pytest.raises(SystemCallError) as e:
        Command(["no-such-program-pyvirt"]).run()
    assert e.value.errno == errno.ENOENT and e.value.code == ErrorCode.SYSTEM_ERROR
    assert "Cannot find 'no-such-program-pyvirt' in path" in e.value.message


def test_args_text_matches_libvirts_layout() -> None:
    cmd = Command(
        [
            "/usr/bin/qemu-system-x86_64",
            "-name",
            "guest=QEMUGuest1,debug-threads=on",
            "-S",
            "-object",
            '{"qom-type":"secret","id":"x"}',
            "-device",
            "a b",
            "extra",
        ]
    )
    cmd.set_env("LC_ALL", "C").set_env("HOME", "/var/lib/libvirt/qemu/domain--1-QEMUGuest1")
    assert cmd.to_args_text() == (
        "LC_ALL=C \\\n"
        "HOME=/var/lib/libvirt/qemu/domain--1-QEMUGuest1 \\\n"
        "/usr/bin/qemu-system-x86_64 \\\n"
        "-name guest=QEMUGuest1,debug-threads=on \\\n"
        "-S \\\n"
        '-object \'{"qom-type":"secret","id":"x"}\' \\\n'
        "-device 'a b' \\\n"
        "extra"
    )


def test_child_exit_is_seen_through_a_pidfd() -> None:
    cmd = Command(["/bin/sleep", "0.2"])
    cmd.run_async()
    assert cmd._pidfd is not None
    t0 = time.monotonic()
    assert cmd.wait(5) == 0
    assert time.monotonic() - t0 < 1.5


def test_non_root_caller_gets_a_clear_error_not_a_half_applied_change(tmp_path: Path) -> None:
    """An unprivileged process asking for uid 0 + sys_rawio is refused before fork."""
    import glob
    import shutil
    import tempfile

    import prctl

    if os.geteuid() != 0:
        pytest.skip("needs root to create the unprivileged caller")
    system_python = "/usr/bin/python3"
    probe_version = Command([system_python, "-c", "import sys; print(sys.version_info[:2])"]).capture_stdout()
    if not os.access(system_python, os.X_OK) or probe_version.run().stdout.decode().strip() != str(
        tuple(sys.version_info[:2])
    ):
        pytest.skip("needs a world-readable /usr/bin/python3 of the same version as the test interpreter")
    # A world-readable copy of pyvirt and python-prctl that uid 65534 can import.
    world = tempfile.mkdtemp(prefix="pyvirt-unpriv-", dir="/var/tmp")
    try:
        os.chmod(world, 0o755)
        shutil.copytree(os.path.dirname(sys.modules["pyvirt"].__file__ or ""), os.path.join(world, "pyvirt"))
        site = os.path.dirname(prctl.__file__)
        for f in [prctl.__file__, *glob.glob(os.path.join(site, "_prctl*.so"))]:
            shutil.copy2(f, world)
        subprocess_chmod = Command(["/bin/chmod", "-R", "a+rX", world])
        subprocess_chmod.run()
        probe = (
            "from pyvirt.util.command import Command\n"
            "from pyvirt.errors import OperationDeniedError\n"
            "try:\n"
            "    Command(['/bin/true']).set_uid(0).set_capabilities(['sys_rawio']).run()\n"
            "except OperationDeniedError as e:\n"
            "    print(int(e.code), e.message)\n"
        )
        cmd = (
            Command([system_python, "-c", probe])
            .set_env("PYTHONPATH", world)
            .set_uid(65534)
            .set_gid(65534)
            .set_groups([])
            .capture_stdout()
            .capture_stderr()
        )
        cmd.run(check=False, timeout=30)
        out = cmd.stdout.decode()
        assert out.startswith("29 operation forbidden: cannot run '/bin/true' as requested"), cmd.stderr.decode()
        assert "setuid" in out and "sys_rawio" in out
    finally:
        shutil.rmtree(world)
