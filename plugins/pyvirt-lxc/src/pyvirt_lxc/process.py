"""Starting a container's controller and watching it until the container is gone.

The driver prepares what needs the host's view (cgroups, veth pairs and
their ``<bandwidth>``), then runs the controller through ``Command`` and
answers its one question (the init's pid, so the NICs can move into its
network namespace). Any failure on the way removes everything made so far:
cgroups, veths, files, processes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import os
import select
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pyvirt.conf.domain_devices import Interface
from pyvirt.errors import Error, ErrorCode, InternalError, OperationFailedError, SystemCallError
from pyvirt.local_driver.paths import DriverPaths
from pyvirt.util.command import Command
from pyvirt_lxc.cgroups import ContainerCgroup, Limits
from pyvirt_lxc.controller import read_exit_file, write_exit_file
from pyvirt_lxc.spec import ContainerSpec
from pyvirt_lxc.veth import create_pairs, delete_host_ends, move_and_configure

__all__ = ["ContainerProcess", "hold_records", "release_records", "remove_run_files", "start_container"]

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
    # the spec file, open with a shared lock while we may still read the exit record (see release_records)
    hold: int = -1
    stop_reason: str = ""
    cleaned: threading.Event = field(default_factory=threading.Event)
    _ended: str = ""

    def exit_reason(self) -> str:
        """Why the controller ended: our own stop reason first, else what it wrote, else it died."""
        if self.stop_reason:
            return self.stop_reason
        return self._ended or read_exit_file(self.spec.exit_file)[0]

    def destroy(self, timeout: float = 5.0) -> None:
        """Record "destroyed" for every process that watches this container, then kill it.

        SIGKILL to the init takes its whole PID namespace along; the controller
        then exits by itself. The record comes first: the controller only sees
        an init killed by SIGKILL, which by itself means a crash.
        """
        self.stop_reason = "destroyed"
        self._record_destroyed()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.init_pid, signal.SIGKILL)
        if "freezer" in self.cgroup.dirs:  # a frozen task (the controller too) only dies once thawed
            with contextlib.suppress(Error, OSError):
                self.cgroup.freeze(False)
        if not self.cleaned.wait(timeout):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.controller_pid, signal.SIGKILL)

    def _record_destroyed(self) -> None:
        """Write "destroyed" as the exit record, under the records' shared lock (see :func:`hold_records`).

        A container may end by itself while it is being destroyed (its init killed by the kernel's OOM
        killer, say): its watchers then read the record and remove it. Written without the lock, the record
        could come after that removal and stay on the host for good; with it, either the records are gone
        already (nothing to write: the watchers are done) or the last to let go removes what was written.
        """
        run_dir = os.path.dirname(self.spec.exit_file)
        try:
            hold = hold_records(run_dir, self.name)
        except OSError:
            return
        try:
            with contextlib.suppress(OSError):
                write_exit_file(self.spec.exit_file, "destroyed", None)
        finally:
            release_records(run_dir, self.name, hold)

    def watch(self, on_exit: Callable[[ContainerProcess], None], stop_fd: int) -> threading.Thread:
        """Call ``on_exit`` from a thread once the controller has exited; return that thread.

        ``stop_fd`` becoming readable ends the watch without calling
        ``on_exit`` (the driver state is closing, and a later process, or a
        later connection of this one, finds the container again from its
        status file). Either way the thread closes its descriptors, so
        watching costs nothing once it is over.
        """

        def run() -> None:
            if self.pidfd not in select.select([self.pidfd, stop_fd], [], [])[0]:
                os.close(self.pidfd)
                if self.hold >= 0:
                    os.close(self.hold)
                return
            self._ended = self.exit_reason()  # first: the record stays only while someone holds it
            release_records(os.path.dirname(self.spec.exit_file), self.name, self.hold)
            self.hold = -1
            if self.command is not None:
                with contextlib.suppress(Error, ChildProcessError):
                    self.command.wait(0)
            else:  # started by an earlier connection of this process: still our child to reap
                with contextlib.suppress(ChildProcessError):
                    os.waitid(os.P_PIDFD, self.pidfd, os.WEXITED | os.WNOHANG)
            try:
                on_exit(self)
            finally:
                self.cleaned.set()
                os.close(self.pidfd)  # only now: nothing looks at it once cleaned is set

        thread = threading.Thread(target=run, name=f"lxc-watch-{self.name}", daemon=True)
        thread.start()
        return thread

    def cleanup_host(self) -> None:
        """What outlives the container on the host: cgroups, leftover veths, runtime files."""
        with contextlib.suppress(Error, OSError):
            self.cgroup.kill_all()
        self.cgroup.remove()
        with contextlib.suppress(Error, OSError):
            delete_host_ends(self.spec.nics)
        remove_run_files(os.path.dirname(self.spec.exit_file), self.name)


def remove_run_files(run_dir: str, name: str) -> None:
    """Remove a stopped container's files from the run directory but its records and status.

    The console socket, the root's stage directory and a temporary exit
    record whose writer died. The records (spec, exit record) go in
    ``release_records``, once no process needs them; the status file goes
    last: while it is there a later process redoes the whole cleanup, so a
    cleanup cut short is finished then.
    """
    base = os.path.join(run_dir, name)
    for path in (f"{base}.console", *glob.glob(f"{glob.escape(base)}.exit.*.new")):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    with contextlib.suppress(OSError):  # empty unless something still holds it
        os.rmdir(f"{base}.root")


def hold_records(run_dir: str, name: str) -> int:
    """Open the container's spec with a shared lock: its exit record stays for us until we let go.

    Every process watching a container holds one. When the controller
    exits they all want to read why (the exit record), and the first one to
    clean up must not remove the record under the others: a destroy seen by
    a watching process would become a crash.
    """
    fd = os.open(os.path.join(run_dir, f"{name}.spec"), os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
    except BaseException:
        os.close(fd)
        raise
    return fd


def release_records(run_dir: str, name: str, hold: int = -1) -> None:
    """Let go of the container's spec and exit record; the last to let go (or one holding none) removes them."""
    spec = os.path.join(run_dir, f"{name}.spec")
    if hold >= 0:
        fcntl.flock(hold, fcntl.LOCK_UN)
    else:
        try:
            hold = os.open(spec, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            hold = -1
    try:
        if hold >= 0:
            try:
                fcntl.flock(hold, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # another process still reads them; it removes them when it lets go
        _remove_records(run_dir, name)
    finally:
        if hold >= 0:
            os.close(hold)


def _remove_records(run_dir: str, name: str) -> None:
    for suffix in (".spec", ".exit"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(run_dir, f"{name}{suffix}"))


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
    spec: ContainerSpec, limits: Limits, cgroup: ContainerCgroup, paths: DriverPaths, files: list[int] | None = None,
    *, interfaces: Sequence[Interface],
) -> ContainerProcess:  # fmt: skip
    """Run the container to its init's exec; on any failure nothing of it is left.

    ``interfaces``: the live domain's NICs, one per ``spec.nics`` entry: their ``<bandwidth>`` goes on the
    host ends of the veths as each is made (a ``tc`` failure fails the start like any other step).

    ``files``: descriptors the init gets as its fds 3, 4, ... (virDomainCreateWithFiles). They stay the
    caller's: the controller gets duplicates (as libvirt passes them to libvirt_lxc's ``--passfd``), made
    here at 3 or above and distinct, so that a caller's 0-2 or one descriptor given twice still arrive.
    """
    spec_path = _spec_path(spec)
    cgroup_made = veths_made = False
    cmd: Command | None = None
    init_pid = hold = -1
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    from_ctl, to_us = os.pipe2(os.O_CLOEXEC)
    from_us, to_ctl = os.pipe2(os.O_CLOEXEC)
    passed: list[int] = []
    try:
        for fd in files or ():
            passed.append(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3))
        paths.ensure()
        remove_run_files(paths.run, spec.name)  # what an earlier run of this name may have left
        _remove_records(paths.run, spec.name)
        if not spec.root or spec.uid_map:
            os.makedirs(spec.stage_dir, exist_ok=True)
        with open(spec_path, "wb") as f:
            f.write(spec.dumps())
        hold = hold_records(paths.run, spec.name)
        listener.bind(spec.console_socket)
        os.chmod(spec.console_socket, 0o600)
        listener.listen(1)
        cgroup.create(limits)
        cgroup_made = True
        create_pairs(spec.nics, interfaces)
        veths_made = True
        logfile = paths.logfile(spec.name)
        cmd = Command([sys.executable, "-I", "-S", "-c", _CONTROLLER_MAIN, spec_path, str(from_us), str(to_us),
                       str(listener.fileno()), *(str(fd) for fd in passed)])  # fmt: skip
        cmd.pass_env_common().pass_fd(from_us).pass_fd(to_us).pass_fd(listener.fileno()).new_session()
        for fd in passed:
            cmd.pass_fd(fd)
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
                memory = cgroup.memory_procs_file()
                if memory is not None:  # the init only (it has not run yet): its processes inherit it
                    with open(memory, "w", encoding="ascii") as f:
                        f.write(str(init_pid))
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
        return ContainerProcess(spec.name, cmd.pid, init_pid, os.pidfd_open(cmd.pid), cgroup, spec, cmd, hold)
    except BaseException as exc:
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
        if hold >= 0:
            os.close(hold)
        remove_run_files(paths.run, spec.name)
        _remove_records(paths.run, spec.name)
        if isinstance(exc, OSError):  # the host refused something (a cgroup, a file): an error, not a traceback
            where = f" ({exc.filename})" if exc.filename else ""
            raise SystemCallError(exc.errno or errno.EIO, f"cannot start container '{spec.name}'{where}") from exc
        raise
    finally:
        listener.close()
        for fd in (from_ctl, to_ctl, from_us, to_us, *passed):
            if fd >= 0:
                os.close(fd)
