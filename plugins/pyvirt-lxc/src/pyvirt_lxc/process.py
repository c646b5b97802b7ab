"""Starting a container's controller and watching it until the container is gone.

The driver prepares what needs the host's view (cgroups, veth pairs), then
runs the controller through ``Command`` and answers its one question (the
init's pid, so the NICs can move into its network namespace). Any failure
on the way removes everything made so far: cgroups, veths, files, processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pyvirt.errors import Error, ErrorCode, InternalError, OperationFailedError
from pyvirt.local_driver.paths import DriverPaths
from pyvirt.util.command import Command
from pyvirt_lxc.cgroups import ContainerCgroup, Limits
from pyvirt_lxc.spec import ContainerSpec
from pyvirt_lxc.veth import create_pairs, delete_host_ends, move_and_configure

__all__ = ["ContainerProcess", "start_container"]

START_TIMEOUT = 30.0


@dataclass
class ContainerProcess:
    name: str
    controller_pid: int
    init_pid: int
    pidfd: int
    cgroup: ContainerCgroup
    spec: ContainerSpec
    command: Command | None = None  # None when another process started it (reconnected)
    stop_reason: str = ""
    cleaned: threading.Event = field(default_factory=threading.Event)

    def alive(self) -> bool:
        import select

        return not self.cleaned.is_set() and not select.select([self.pidfd], [], [], 0)[0]

    def exit_reason(self) -> str:
        """Why the controller ended: our own stop reason first, else what it wrote, else it died."""
        if self.stop_reason:
            return self.stop_reason
        try:
            with open(self.spec.exit_file, encoding="utf-8") as f:
                return str(json.load(f).get("reason", "crashed"))
        except (OSError, ValueError):
            return "crashed"

    def kill(self, timeout: float = 5.0) -> None:
        """SIGKILL the init (its whole PID namespace goes with it); the controller then exits by itself."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.init_pid, signal.SIGKILL)
        if "freezer" in self.cgroup.dirs:  # a frozen task (the controller too) only dies once thawed
            with contextlib.suppress(Error, OSError):
                self.cgroup.freeze(False)
        if not self.cleaned.wait(timeout):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.controller_pid, signal.SIGKILL)

    def watch(self, on_exit: Callable[[ContainerProcess], None]) -> None:
        def run() -> None:
            import select

            select.select([self.pidfd], [], [])
            if self.command is not None:
                with contextlib.suppress(Error, ChildProcessError):
                    self.command.wait(0)
            try:
                on_exit(self)
            finally:
                self.cleaned.set()
                os.close(self.pidfd)  # only now: nothing looks at it once cleaned is set

        threading.Thread(target=run, name=f"lxc-watch-{self.name}", daemon=True).start()

    def cleanup_host(self) -> None:
        """What outlives the container on the host: cgroups, leftover veths, runtime files."""
        with contextlib.suppress(Error, OSError):
            self.cgroup.kill_all()
        self.cgroup.remove()
        with contextlib.suppress(Error, OSError):
            delete_host_ends(self.spec.nics)
        for path in (self.spec.console_socket, self.spec.exit_file, _spec_path(self.spec)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        with contextlib.suppress(OSError):
            os.rmdir(self.spec.stage_dir)


def _spec_path(spec: ContainerSpec) -> str:
    return spec.exit_file.removesuffix(".exit") + ".spec.json"


class _Conversation:
    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buf = sock, b""

    def recv(self, deadline: float) -> dict[str, object]:
        while b"\n" not in self.buf:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(4096)
            except TimeoutError:
                raise OperationFailedError(
                    ErrorCode.OPERATION_TIMEOUT, "the container controller did not answer in time"
                ) from None
            if not chunk:
                return {"error": "the container controller exited during start"}
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return json.loads(line)  # type: ignore[no-any-return]

    def send(self, msg: dict[str, object]) -> None:
        self.sock.sendall(json.dumps(msg).encode() + b"\n")


def _log_tail(path: str, limit: int = 2000) -> str:
    with contextlib.suppress(OSError), open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - limit))
        return f.read().decode(errors="replace").strip()
    return ""


def start_container(
    spec: ContainerSpec, limits: Limits, cgroup: ContainerCgroup, paths: DriverPaths
) -> ContainerProcess:
    """Run the container to its init's exec; on any failure nothing of it is left."""
    paths.ensure()
    for stale in (spec.exit_file, spec.console_socket):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(stale)
    if not spec.root:
        os.makedirs(spec.stage_dir, exist_ok=True)
    spec_path = _spec_path(spec)
    with open(spec_path, "w", encoding="utf-8") as f:
        f.write(spec.to_json())
    cgroup_made = veths_made = False
    cmd: Command | None = None
    init_pid = -1
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        cgroup.create(limits)
        cgroup_made = True
        create_pairs(spec.nics)
        veths_made = True
        logfile = paths.logfile(spec.name)
        cmd = Command([sys.executable, "-m", "pyvirt_lxc.controller", spec_path, str(theirs.fileno())])
        cmd.pass_env_common().pass_fd(theirs.fileno()).new_session()
        cmd.set_stdin(os.devnull).set_stdout(logfile, append=True).set_stderr(logfile, append=True)
        cmd.run_async()
        theirs.close()
        talk = _Conversation(ours)
        deadline = time.monotonic() + START_TIMEOUT
        msg = talk.recv(deadline)
        if "init" in msg:
            init_pid = int(str(msg["init"]))
            try:
                move_and_configure(spec.nics, init_pid)
            except Exception as exc:
                talk.send({"abort": str(exc)})
                raise
            talk.send({"go": True})
            msg = talk.recv(deadline)
        if "error" in msg:
            detail = str(msg["error"]) or _log_tail(logfile)
            raise InternalError(ErrorCode.INTERNAL_ERROR, f"guest failed to start: {detail}", verbatim=False)
        assert cmd.pid is not None
        return ContainerProcess(spec.name, cmd.pid, init_pid, os.pidfd_open(cmd.pid), cgroup, spec, cmd)
    except BaseException:
        if init_pid > 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(init_pid, signal.SIGKILL)
        if cmd is not None and cmd.pid is not None:
            with contextlib.suppress(Error):
                cmd.abort(grace=2.0)
        if cgroup_made:
            with contextlib.suppress(Error, OSError):
                cgroup.kill_all()
            cgroup.remove()
        if veths_made:
            with contextlib.suppress(Error, OSError):
                delete_host_ends(spec.nics)
        for path in (spec_path, spec.exit_file, spec.console_socket):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        with contextlib.suppress(OSError):
            os.rmdir(spec.stage_dir)
        raise
    finally:
        ours.close()
        with contextlib.suppress(OSError):
            theirs.close()
