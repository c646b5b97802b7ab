"""Starting a container's controller and watching it until the container is gone.

The driver prepares what needs the host's view (cgroups, veth pairs), then
runs the controller through ``Command`` and answers its one question (the
init's pid, so the NICs can move into its network namespace). Any failure
on the way removes everything made so far: cgroups, veths, files, processes.
"""

from __future__ import annotations

import contextlib
import os
import select
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
from pyvirt_lxc.controller import read_exit_file
from pyvirt_lxc.spec import ContainerSpec
from pyvirt_lxc.veth import create_pairs, delete_host_ends, move_and_configure

__all__ = ["ContainerProcess", "start_container"]

START_TIMEOUT = 30.0


def _controller_path() -> list[str]:
    """Where the controller's modules live: it runs without ``site`` (no .pth processing at every start)."""
    import prctl

    import pyvirt.util.caps
    import pyvirt_lxc

    dirs = [
        os.path.dirname(os.path.dirname(os.path.dirname(str(pyvirt.util.caps.__file__)))),  # .../pyvirt/util/caps.py
        os.path.dirname(os.path.dirname(str(pyvirt_lxc.__file__))),
        os.path.dirname(str(prctl.__file__)),  # prctl.py and _prctl.so sit in site-packages
    ]
    return list(dict.fromkeys(dirs))


# -I -S: no site, no user site, no environment; the paths go in by hand. "pyvirt_lxc.controller"
# stays in the command line, which is how a later process recognises a controller.
_CONTROLLER_MAIN = (
    f"import sys; sys.path[:0] = {_controller_path()!r}; import pyvirt_lxc.controller as c; sys.exit(c.main(sys.argv))"
)


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
        return not self.cleaned.is_set() and not select.select([self.pidfd], [], [], 0)[0]

    def exit_reason(self) -> str:
        """Why the controller ended: our own stop reason first, else what it wrote, else it died."""
        if self.stop_reason:
            return self.stop_reason
        return read_exit_file(self.spec.exit_file)[0]

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
    return spec.exit_file.removesuffix(".exit") + ".spec"


class _Conversation:
    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd, self.wfd, self.buf = rfd, wfd, b""

    def recv(self, deadline: float) -> tuple[str, str]:
        while b"\n" not in self.buf:
            if not select.select([self.rfd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise OperationFailedError(
                    ErrorCode.OPERATION_TIMEOUT, "the container controller did not answer in time"
                )
            chunk = os.read(self.rfd, 4096)
            if not chunk:
                return "error", ""
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        verb, _, rest = line.decode(errors="replace").partition(" ")
        return verb, rest

    def send(self, verb: str, rest: str = "") -> None:
        os.write(self.wfd, f"{verb} {rest}".strip().replace("\n", " ").encode() + b"\n")


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
    if not spec.root or spec.uid_map:
        os.makedirs(spec.stage_dir, exist_ok=True)
    spec_path = _spec_path(spec)
    with open(spec_path, "wb") as f:
        f.write(spec.dumps())
    cgroup_made = veths_made = False
    cmd: Command | None = None
    init_pid = -1
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(spec.console_socket)
    os.chmod(spec.console_socket, 0o600)
    listener.listen(1)
    from_ctl, to_us = os.pipe2(os.O_CLOEXEC)
    from_us, to_ctl = os.pipe2(os.O_CLOEXEC)
    try:
        cgroup.create(limits)
        cgroup_made = True
        create_pairs(spec.nics)
        veths_made = True
        logfile = paths.logfile(spec.name)
        cmd = Command([sys.executable, "-I", "-S", "-c", _CONTROLLER_MAIN, spec_path, str(from_us), str(to_us),
                       str(listener.fileno())])  # fmt: skip
        cmd.pass_env_common().pass_fd(from_us).pass_fd(to_us).pass_fd(listener.fileno()).new_session()
        cmd.set_stdin(os.devnull).set_stdout(logfile, append=True).set_stderr(logfile, append=True)
        cmd.run_async()
        os.close(from_us)
        os.close(to_us)
        from_us = to_us = -1
        talk = _Conversation(from_ctl, to_ctl)
        deadline = time.monotonic() + START_TIMEOUT
        # Done here, while the controller's interpreter starts: the first move of a process into a
        # v1 cgroup waits for an RCU grace period (10-20 ms), which would otherwise add to every start.
        assert cmd.pid is not None
        try:
            for procs in spec.cgroup_procs:
                with open(procs, "w", encoding="ascii") as f:
                    f.write(str(cmd.pid))
        except OSError as exc:
            talk.send("abort", f"cannot join cgroup: {exc}")
            raise OperationFailedError(
                ErrorCode.SYSTEM_ERROR, f"Unable to add the container controller to its cgroup: {exc}", verbatim=False
            ) from exc
        talk.send("joined")
        verb, rest = talk.recv(deadline)
        if verb == "init":
            init_pid = int(rest)
            try:
                move_and_configure(spec.nics, init_pid)
            except Exception as exc:
                talk.send("abort", str(exc))
                raise
            talk.send("go")
            verb, rest = talk.recv(deadline)
        if verb != "running":
            detail = rest or read_exit_file(spec.exit_file)[1] or _log_tail(logfile)
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
        listener.close()
        for fd in (from_ctl, to_ctl, from_us, to_us):
            if fd >= 0:
                os.close(fd)
