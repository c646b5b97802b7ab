"""``Command``: the one way pyvirt runs a child process.

Drivers describe the child (argv, environment, fds, identity, capabilities,
limits, hooks) and ``Command`` performs the fork/exec itself rather than
through ``subprocess``, because the steps between fork and exec are the
security boundary and their order matters: stdio, fd closing, umask, limits,
working dir, pidfile, pre-exec hooks (security labels), uid/gid/capabilities,
securebits, handshake, exec. ``subprocess`` runs ``preexec_fn`` *after* its
own uid change and cannot report which step failed.

Failures in the child before exec travel back over a close-on-exec status
pipe as (step, errno, message), and the child exits 125 (libvirt's
EXIT_CANCELED); a failed exec exits 127 for ENOENT and 126 otherwise. Exit is
watched through a pidfd (poll), never by polling ``waitpid`` in a loop.
"""

from __future__ import annotations

import contextlib
import errno as errno_mod
import fcntl
import json
import logging
import os
import resource
import select
import shutil
import signal
import struct
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from pyvirt.errors import (
    Error,
    ErrorCode,
    InvalidArgumentError,
    OperationDeniedError,
    OperationFailedError,
    OperationInvalidError,
    SystemCallError,
)
from pyvirt.util import caps as capsmod
from pyvirt.util.args_text import render_args_text

log = logging.getLogger("pyvirt.util.command")

__all__ = [
    "DEVNULL",
    "EXIT_CANCELED",
    "EXIT_CANNOT_INVOKE",
    "EXIT_ENOENT",
    "Command",
    "CommandFailedError",
    "ProgramNotFoundError",
]

EXIT_CANCELED = 125
EXIT_CANNOT_INVOKE = 126
EXIT_ENOENT = 127

DEVNULL = object()
"""Marker: connect a standard stream to /dev/null (the default)."""

# Environment libvirt passes through when asked for "the common set".
_COMMON_ENV = ("LD_PRELOAD", "LD_LIBRARY_PATH", "PATH", "HOME", "USER", "LOGNAME", "TMPDIR")

_RLIMITS = {
    "memlock": resource.RLIMIT_MEMLOCK,
    "nproc": resource.RLIMIT_NPROC,
    "nofile": resource.RLIMIT_NOFILE,
    "core": resource.RLIMIT_CORE,
}

Hook = Callable[[], None]


class CommandFailedError(OperationFailedError):
    """The child could not be started, or ran and failed.

    ``step`` names what failed in the child before exec (``"exec"`` for execve
    itself), ``child_errno`` is the child's errno, ``exit_status`` the status
    seen by the parent (125/126/127 for pre-exec failures).
    """

    def __init__(
        self,
        detail: str,
        *,
        step: str | None = None,
        child_errno: int = 0,
        exit_status: int | None = None,
        stderr: bytes = b"",
    ) -> None:
        self.step = step
        self.child_errno = child_errno
        self.exit_status = exit_status
        self.stderr = stderr
        super().__init__(ErrorCode.OPERATION_FAILED, detail)


class ProgramNotFoundError(CommandFailedError, SystemCallError):
    """The program to run does not exist: not in ``PATH``, or its absolute path is missing.

    libvirt's words and code (``VIR_ERR_SYSTEM_ERROR``: "Cannot find 'X' in
    path", "cannot execute binary X"), followed by the Debian package that
    provides the program (:mod:`pyvirt.util.host_programs`), because the
    usual cause is a package missing on the host, and the caller's own error
    ("cannot create volume ...") would otherwise hide which program it was.
    It is both a ``CommandFailedError`` (step ``exec``, as a failed exec
    always was) and a ``SystemCallError`` (errno ENOENT, as a failed ``PATH``
    lookup always was), so callers catching either keep working.
    ``program`` is argv[0] as given, ``package`` None when pyvirt does not
    know the program.
    """

    def __init__(self, program: str, *, in_path: bool, exit_status: int | None = None) -> None:
        from pyvirt.util.host_programs import missing_program_hint, package_of

        self.program = program
        self.package = package_of(program)
        self.errno = errno_mod.ENOENT
        self.step = "exec"
        self.child_errno = errno_mod.ENOENT
        self.exit_status = exit_status
        self.stderr = b""
        what = f"Cannot find '{program}' in path" if in_path else f"cannot execute binary {program}"
        Error.__init__(
            self, ErrorCode.SYSTEM_ERROR, f"{what}: {os.strerror(errno_mod.ENOENT)}{missing_program_hint(program)}"
        )


@dataclass
class _Stream:
    """Where one standard stream goes: /dev/null, an fd, a file, or a buffer."""

    target: object = DEVNULL  # DEVNULL | int fd | str path | "capture"/bytes
    append: bool = False


@dataclass
class Command:
    """A child process to run; build it, then ``run()`` or ``run_async()``.

    >>> out = Command(["/bin/echo", "hi"]).capture_stdout().run().stdout
    """

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    # what the builder methods set; not constructor arguments
    _pass_fds: set[int] = field(default_factory=set, init=False)
    _stdin: _Stream = field(default_factory=_Stream, init=False)
    _stdout: _Stream = field(default_factory=_Stream, init=False)
    _stderr: _Stream = field(default_factory=_Stream, init=False)
    _uid: int | None = field(default=None, init=False)
    _gid: int | None = field(default=None, init=False)
    _groups: list[int] | None = field(default=None, init=False)
    _caps: frozenset[int] | None = field(default=None, init=False)
    _clear_caps: bool = field(default=False, init=False)
    _securebits_lock: bool = field(default=False, init=False)
    _umask: int | None = field(default=None, init=False)
    _cwd: str | None = field(default=None, init=False)
    _rlimits: dict[int, int] = field(default_factory=dict, init=False)
    _pidfile: str | None = field(default=None, init=False)
    _daemonize: bool = field(default=False, init=False)
    _setsid: bool = field(default=False, init=False)
    _hooks: list[tuple[str, Hook]] = field(default_factory=list, init=False)
    _handshake: bool = field(default=False, init=False)

    # runtime state
    pid: int | None = field(default=None, init=False)
    exit_status: int | None = field(default=None, init=False)
    stdout: bytes = field(default=b"", init=False)
    stderr: bytes = field(default=b"", init=False)
    _pidfd: int | None = field(default=None, init=False)
    _status_r: int | None = field(default=None, init=False)
    _hs_from_child: int | None = field(default=None, init=False)
    _hs_to_child: int | None = field(default=None, init=False)
    _pipes: dict[str, int] = field(default_factory=dict, init=False)
    _reaped: bool = field(default=False, init=False)
    _popen: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _program: str = field(default="", init=False, repr=False)  # argv[0] resolved through PATH

    # ---------------------------------------------------------------- building
    def add_args(self, *args: str) -> Command:
        self.argv.extend(args)
        return self

    def set_env(self, name: str, value: str) -> Command:
        self.env[name] = value
        return self

    def pass_env(self, *names: str) -> Command:
        """Copy these variables from the parent's environment, when set."""
        for name in names:
            if name in os.environ:
                self.env[name] = os.environ[name]
        return self

    def pass_env_common(self) -> Command:
        """LC_ALL=C plus PATH, HOME, USER, LOGNAME, TMPDIR, LD_* from the parent."""
        self.env["LC_ALL"] = "C"
        return self.pass_env(*_COMMON_ENV)

    def inherit_env(self) -> Command:
        """Keep the whole parent environment (rarely right for a guest)."""
        self.env.update(os.environ)
        return self

    def pass_fd(self, fd: int) -> Command:
        """Keep ``fd`` open, at the same number, in the child; all others close."""
        os.fstat(fd)
        self._pass_fds.add(fd)
        return self

    def set_stdin(self, source: object) -> Command:
        """bytes to feed, a path, an fd, or DEVNULL."""
        self._stdin = _Stream(source)
        return self

    def set_stdout(self, target: object, append: bool = False) -> Command:
        """A path, an fd or DEVNULL; see ``capture_stdout`` for a buffer."""
        self._stdout = _Stream(target, append)
        return self

    def set_stderr(self, target: object, append: bool = False) -> Command:
        self._stderr = _Stream(target, append)
        return self

    def capture_stdout(self) -> Command:
        self._stdout = _Stream("capture")
        return self

    def capture_stderr(self) -> Command:
        self._stderr = _Stream("capture")
        return self

    def set_uid(self, uid: int) -> Command:
        self._uid = uid
        return self

    def set_gid(self, gid: int) -> Command:
        self._gid = gid
        return self

    def set_groups(self, groups: Iterable[int]) -> Command:
        """Supplementary groups; by default those of the uid's user (computed before fork)."""
        self._groups = list(groups)
        return self

    def set_capabilities(self, caps: Iterable[str | int]) -> Command:
        """Keep exactly these capabilities (also across a uid change); drop the rest."""
        self._caps = capsmod.parse_capabilities(caps)
        return self

    def clear_capabilities(self) -> Command:
        """Run with no capabilities at all, bounding set included."""
        self._clear_caps = True
        self._caps = frozenset()
        return self

    def lock_securebits(self) -> Command:
        self._securebits_lock = True
        return self

    def set_umask(self, mask: int) -> Command:
        self._umask = mask
        return self

    def set_cwd(self, path: str) -> Command:
        self._cwd = path
        return self

    def set_rlimit(self, name: str, value: int) -> Command:
        """``memlock``, ``nproc``, ``nofile`` or ``core``: soft and hard limit."""
        if name not in _RLIMITS:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"unknown resource limit '{name}'")
        self._rlimits[_RLIMITS[name]] = value
        return self

    def set_pidfile(self, path: str) -> Command:
        """The child writes its pid there and holds a lock on it while it lives."""
        self._pidfile = path
        return self

    def daemonize(self) -> Command:
        """Double fork + setsid; needs a pidfile, which names the grandchild."""
        self._daemonize = True
        return self

    def new_session(self) -> Command:
        self._setsid = True
        return self

    def add_pre_exec_hook(self, name: str, hook: Hook) -> Command:
        """Run ``hook`` in the child before uid/caps change (security labels)."""
        self._hooks.append((name, hook))
        return self

    def require_handshake(self) -> Command:
        """Child stops before exec until the parent calls ``notify_handshake``."""
        self._handshake = True
        return self

    # --------------------------------------------------------------- rendering
    def to_args_text(self) -> str:
        """libvirt's ``.args`` rendering: env first, one option per line."""
        return render_args_text(self.env, self.argv)

    # ---------------------------------------------------------------- running
    def run(self, timeout: float | None = None, check: bool = True) -> Command:
        """Start, feed stdin, collect output, wait; raise on failure if ``check``."""
        self.run_async()
        self._communicate(timeout)
        if check and self.exit_status != 0:
            cmdline = render_args_text({}, self.argv, one_line=True)
            err = self.stderr.decode(errors="replace").strip()
            raise CommandFailedError(
                f"Child process ({cmdline}) unexpected {self._describe_status()}" + (f": {err}" if err else ""),
                exit_status=self.exit_status,
                stderr=self.stderr,
            )
        return self

    def run_async(self) -> int:
        """Fork and exec; return once the child has exec'd (or is in its handshake)."""
        if self.pid is not None:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "command has already been started")
        if self._daemonize and not self._pidfile:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, "daemonized commands need a pidfile")
        if self._daemonize and self._handshake:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, "a daemonized command cannot handshake")
        program = self._program = self._resolve_program()
        if log.isEnabledFor(logging.DEBUG):  # libvirt's virCommandRunAsync: "About to run ..." at debug level
            import shlex

            log.debug("About to run %s", shlex.join(self.argv))
        self._check_privileges()
        groups = self._groups
        if groups is None and self._uid is not None and os.geteuid() == 0:
            groups = _groups_of_uid(self._uid, self._gid)
        child_fds, opened, parent_ends = self._open_stdio()
        status_r, status_w = os.pipe2(os.O_CLOEXEC)
        hs = None
        if self._handshake:
            a_r, a_w = os.pipe2(os.O_CLOEXEC)  # child -> parent
            b_r, b_w = os.pipe2(os.O_CLOEXEC)  # parent -> child
            hs = (a_w, b_r)
            self._hs_from_child, self._hs_to_child = a_r, b_w
        env = dict(self.env)
        if self._needs_own_fork():
            return self._spawn_simple(program, groups, child_fds, opened, parent_ends, status_r, status_w)
        try:
            pid = os.fork()
        except OSError as exc:
            for fd in (status_r, status_w, *opened, *parent_ends.values()):
                os.close(fd)
            raise SystemCallError(exc.errno or errno_mod.EAGAIN, "cannot fork child process") from exc
        if pid == 0:  # pragma: no cover - runs in the child, reported via the status pipe
            self._child(program, env, groups, child_fds, status_w, hs)
        os.close(status_w)
        for fd in opened:
            os.close(fd)
        if hs:
            os.close(hs[0])
            os.close(hs[1])
        self._pipes = parent_ends
        self._status_r = status_r
        self.pid = pid
        if self._daemonize:
            self._finish_daemonize(pid)
        else:
            self._pidfd = _pidfd_open(pid)
        if not self._handshake:
            self._read_status()
        return self.pid

    def _needs_own_fork(self) -> bool:
        """False when nothing but what CPython's C fork_exec does is asked for."""
        return not (
            self._caps is not None
            or self._securebits_lock
            or self._rlimits
            or self._pidfile
            or self._daemonize
            or self._hooks
            or self._handshake
        )

    def _spawn_simple(
        self,
        program: str,
        groups: list[int] | None,
        child_fds: dict[int, int],
        opened: list[int],
        parent_ends: dict[str, int],
        status_r: int,
        status_w: int,
    ) -> int:
        """The fast path: CPython's C fork_exec (vfork where it can) runs the steps.

        It performs the same steps in the same order as ``_child`` for this
        subset (stdio, setsid, groups/gid/uid, close fds, umask, chdir, exec)
        and reports exec/chdir failures with their errno, so behaviour is
        identical; starting a child costs a third of a Python-level fork.
        """
        os.close(status_r)
        os.close(status_w)
        try:
            self._popen = subprocess.Popen(
                self.argv,
                executable=program,
                stdin=child_fds[0],
                stdout=child_fds[1],
                stderr=child_fds[2],
                env=self.env,
                cwd=self._cwd,
                pass_fds=tuple(sorted(self._pass_fds)),
                start_new_session=self._setsid,
                umask=-1 if self._umask is None else self._umask,
                user=self._uid,
                group=self._gid,
                extra_groups=groups,
                restore_signals=True,
            )
        except OSError as exc:
            for fd in (*opened, *parent_ends.values()):
                os.close(fd)
            err = exc.errno or 0
            chdir_failed = self._cwd is not None and exc.filename == self._cwd
            step = "chdir" if chdir_failed else "exec"
            self.exit_status = (
                EXIT_CANCELED if chdir_failed else (EXIT_ENOENT if err == errno_mod.ENOENT else EXIT_CANNOT_INVOKE)
            )
            if step == "exec" and err == errno_mod.ENOENT and not os.path.exists(program):
                raise ProgramNotFoundError(program, in_path=False, exit_status=self.exit_status) from exc
            raise CommandFailedError(
                f"child process failed at step '{step}': {os.strerror(err)}",
                step=step,
                child_errno=err,
                exit_status=self.exit_status,
            ) from exc
        except subprocess.SubprocessError as exc:
            for fd in (*opened, *parent_ends.values()):
                os.close(fd)
            raise CommandFailedError(f"child process failed before exec: {exc}", step="set uid/gid") from exc
        for fd in opened:
            os.close(fd)
        self._pipes = parent_ends
        self.pid = self._popen.pid
        self._pidfd = _pidfd_open(self.pid)
        return self.pid

    def wait_for_handshake(self, timeout: float | None = None) -> None:
        """Wait until the child reached the point just before exec."""
        assert self._hs_from_child is not None and self._status_r is not None
        ready = _wait_readable([self._hs_from_child, self._status_r], timeout)
        if self._hs_from_child in ready and os.read(self._hs_from_child, 1) == b"1":
            return
        self._read_status()
        self.abort()
        raise CommandFailedError("child process exited before completing the handshake")

    def notify_handshake(self) -> None:
        """Let the child go on to exec; report its exec failure if any."""
        assert self._hs_to_child is not None
        os.write(self._hs_to_child, b"1")
        os.close(self._hs_to_child)
        self._hs_to_child = None
        if self._hs_from_child is not None:
            os.close(self._hs_from_child)
            self._hs_from_child = None
        self._read_status()

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the child to exit; return its exit status (negative: signal).

        A daemonized child is not ours to reap: its exit is seen through the
        pidfd and its status is unknown (None).
        """
        if self.pid is None:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "command has not been started")
        if self._reaped:
            return self.exit_status
        if self._pidfd is not None and not _wait_readable([self._pidfd], timeout):
            raise OperationFailedError(
                ErrorCode.OPERATION_TIMEOUT, f"child process {self.pid} still running after {timeout}s"
            )
        self._reap()
        return self.exit_status

    def abort(self, grace: float = 2.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; always reaps."""
        if self.pid is None or self._reaped:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        try:
            self.wait(grace)
        except OperationFailedError:
            os.kill(self.pid, signal.SIGKILL)
            self.wait(None)

    def is_running(self) -> bool:
        if self.pid is None or self._reaped:
            return False
        return not (self._pidfd is not None and _wait_readable([self._pidfd], 0))

    # ------------------------------------------------------------- internals
    def _resolve_program(self) -> str:
        if not self.argv:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, "no command to run")
        prog = self.argv[0]
        if "/" in prog:
            return prog
        found = shutil.which(prog)
        if not found:
            raise ProgramNotFoundError(prog, in_path=True)
        return found

    def _check_privileges(self) -> None:
        """Refuse up front what the child could only half do as non-root."""
        if self._uid is None and self._gid is None and self._caps is None and self._groups is None:
            return
        mine = capsmod.read_process_caps()
        needed: set[int] = set()
        if self._uid is not None and self._uid not in mine.uids:
            needed.add(capsmod.CAP_SETUID)
        if self._gid is not None and self._gid not in mine.gids:
            needed.add(capsmod.CAP_SETGID)
        if self._groups is not None:
            needed.add(capsmod.CAP_SETGID)
        if self._caps:
            needed |= set(self._caps)
        missing = needed - mine.permitted
        if missing:
            names = ", ".join(sorted(capsmod.capability_name(c) for c in missing))
            raise OperationDeniedError(
                ErrorCode.OPERATION_DENIED,
                f"cannot run '{self.argv[0]}' as requested: this process lacks capabilities {names}",
            )

    def _open_stdio(self) -> tuple[dict[int, int], list[int], dict[str, int]]:
        """fds for the child's 0/1/2, those of them we opened, and our ends of pipes."""
        child: dict[int, int] = {}
        parent: dict[str, int] = {}
        for num, stream in ((0, self._stdin), (1, self._stdout), (2, self._stderr)):
            t = stream.target
            if t is DEVNULL:
                child[num] = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
            elif isinstance(t, bool):
                raise InvalidArgumentError(ErrorCode.INVALID_ARG, "invalid stream target")
            elif isinstance(t, int):
                child[num] = t
                self._pass_fds.discard(t)
            elif (num == 0 and isinstance(t, bytes)) or t == "capture":
                r, w = os.pipe2(os.O_CLOEXEC)
                child[num], parent[str(num)] = (r, w) if num == 0 else (w, r)
            elif isinstance(t, str):
                if num == 0:
                    flags = os.O_RDONLY
                else:
                    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if stream.append else os.O_TRUNC)
                child[num] = os.open(t, flags | os.O_CLOEXEC, 0o600)
            else:
                raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"invalid target for fd {num}")
        given = {t for s in (self._stdin, self._stdout, self._stderr) if isinstance(t := s.target, int)}
        return child, [fd for fd in child.values() if fd not in given], parent

    def _child(
        self,
        program: str,
        env: Mapping[str, str],
        groups: list[int] | None,
        stdio: dict[int, int],
        status_w: int,
        hs: tuple[int, int] | None,
    ) -> None:  # pragma: no cover - child side, observed through tests of its effects
        step = "start"
        try:
            step = "reset signals"
            for sig in (signal.SIGPIPE, signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, [])
            if self._daemonize:
                step = "setsid"
                os.setsid()
                step = "daemonize"
                if os.fork() > 0:
                    os._exit(0)
            elif self._setsid:
                step = "setsid"
                os.setsid()
            step = "stdio"
            for num, fd in stdio.items():
                os.dup2(fd, num, inheritable=True)
            step = "close fds"
            keep = {0, 1, 2, status_w, *self._pass_fds}
            if hs:
                keep |= set(hs)
            _close_all_except(keep)
            for fd in self._pass_fds:
                os.set_inheritable(fd, True)
            if self._umask is not None:
                step = "umask"
                os.umask(self._umask)
            step = "rlimit"
            for res, value in self._rlimits.items():
                resource.setrlimit(res, (value, value))
            if self._cwd is not None:
                step = "chdir"
                os.chdir(self._cwd)
            if self._pidfile:
                step = "pidfile"
                _acquire_pidfile(self._pidfile)
                if self._daemonize:
                    os.write(status_w, b"P" + struct.pack("=q", os.getpid()))
            for name, hook in self._hooks:
                step = f"hook {name}"
                hook()
            if self._caps is not None or self._uid is not None or self._gid is not None or groups is not None:
                step = "set uid/gid/capabilities"
                capsmod.set_uid_gid_with_caps(
                    self._uid,
                    self._gid,
                    groups,
                    self._caps or (),
                    clear_existing=self._caps is not None,
                    securebits_lock=self._securebits_lock,
                )
            elif self._securebits_lock:
                step = "securebits"
                capsmod.lock_securebits()
            if hs:
                step = "handshake"
                os.write(hs[0], b"1")
                if os.read(hs[1], 1) != b"1":
                    os._exit(EXIT_CANCELED)
            step = "exec"
            try:
                os.execve(program, self.argv, dict(env))
            except OSError as exc:
                _report(status_w, step, exc.errno or 0, str(exc))
                os._exit(EXIT_ENOENT if exc.errno == errno_mod.ENOENT else EXIT_CANNOT_INVOKE)
        except BaseException as exc:
            err = getattr(exc, "errno", 0) or getattr(exc, "child_errno", 0) or 0
            try:
                _report(status_w, step, int(err), str(exc))
            finally:
                os._exit(EXIT_CANCELED)

    def _finish_daemonize(self, intermediate: int) -> None:
        """Reap the intermediate child and learn the grandchild's pid."""
        _, status = os.waitpid(intermediate, 0)
        assert self._status_r is not None
        record = _read_exact(self._status_r, 9)
        if not record.startswith(b"P"):
            self._reaped = True
            self.exit_status = os.waitstatus_to_exitcode(status)
            self._raise_child_failure(record + _read_all(self._status_r))
        (pid,) = struct.unpack("=q", record[1:])
        self.pid = pid  # not our child: its exit is seen through the pidfd only
        self._pidfd = _pidfd_open(pid)

    def _read_status(self) -> None:
        """Read the status pipe to EOF (exec closes it); raise on a child failure."""
        if self._status_r is None:
            return
        data = _read_all(self._status_r)
        os.close(self._status_r)
        self._status_r = None
        if data:
            if not self._daemonize:
                self._reap()
            self._close_pipes()
            self._raise_child_failure(data)

    def _raise_child_failure(self, data: bytes) -> NoReturn:
        info: dict[str, Any] = {"step": "?", "errno": 0, "msg": "the child died without a report"}
        if data.startswith(b"E"):
            info = json.loads(data[1:].decode())
        err = int(info["errno"])
        if info["step"] == "exec" and err == errno_mod.ENOENT and self._program and not os.path.exists(self._program):
            raise ProgramNotFoundError(self._program, in_path=False, exit_status=self.exit_status)
        detail = f"child process failed at step '{info['step']}'"
        if err:
            detail += f": {os.strerror(err)}"
        elif info["msg"]:
            detail += f": {info['msg']}"
        raise CommandFailedError(detail, step=str(info["step"]), child_errno=err, exit_status=self.exit_status)

    def _communicate(self, timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        out: dict[str, list[bytes]] = {"1": [], "2": []}
        stdin_data = self._stdin.target if isinstance(self._stdin.target, bytes) else b""
        wfd = self._pipes.pop("0", None)
        if wfd is not None:
            os.set_blocking(wfd, False)
        readers = {self._pipes[k]: k for k in ("1", "2") if k in self._pipes}
        poller = select.poll()
        for fd in readers:
            poller.register(fd, select.POLLIN)
        if wfd is not None:
            poller.register(wfd, select.POLLOUT)
        while readers or wfd is not None:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            events = poller.poll(None if left is None else left * 1000)
            if not events:
                self.abort()
                self._close_pipes()
                raise OperationFailedError(ErrorCode.OPERATION_TIMEOUT, f"child process timed out after {timeout}s")
            for fd, _ in events:
                if fd == wfd:
                    try:
                        n = os.write(wfd, stdin_data)
                    except BrokenPipeError:
                        n = len(stdin_data)
                    stdin_data = stdin_data[n:]
                    if not stdin_data:
                        poller.unregister(wfd)
                        os.close(wfd)
                        wfd = None
                    continue
                chunk = os.read(fd, 65536)
                if chunk:
                    out[readers[fd]].append(chunk)
                else:
                    poller.unregister(fd)
                    os.close(fd)
                    del readers[fd]
        self._pipes.clear()
        self.stdout, self.stderr = b"".join(out["1"]), b"".join(out["2"])
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            self.wait(left)
        except OperationFailedError:
            self.abort()
            raise

    def _reap(self) -> None:
        assert self.pid is not None
        if self._popen is not None:
            self.exit_status = self._popen.wait()
            self._reaped = True
            if self._pidfd is not None:
                os.close(self._pidfd)
                self._pidfd = None
            return
        try:
            _, status = os.waitpid(self.pid, 0)
            self.exit_status = os.waitstatus_to_exitcode(status)
        except ChildProcessError:
            self.exit_status = None  # daemonized grandchild: not ours to reap
        self._reaped = True
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

    def _close_pipes(self) -> None:
        for fd in self._pipes.values():
            os.close(fd)
        self._pipes.clear()

    def _describe_status(self) -> str:
        st = self.exit_status
        if st is None:
            return "status unknown"
        if st < 0:
            return f"fatal signal {-st}"
        return f"exit status {st}"

    def __del__(self) -> None:
        for fd in (self._pidfd, self._status_r, self._hs_from_child, self._hs_to_child, *self._pipes.values()):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)


def _report(fd: int, step: str, err: int, msg: str) -> None:  # pragma: no cover - child side
    os.write(fd, b"E" + json.dumps({"step": step, "errno": err, "msg": msg}).encode())


def _close_all_except(keep: set[int]) -> None:  # pragma: no cover - child side
    low = 3
    for fd in sorted(k for k in keep if k >= 3):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)


def _acquire_pidfile(path: str) -> None:  # pragma: no cover - child side
    """Create, lock and write the pidfile; the fd (and lock) survive exec."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    os.set_inheritable(fd, True)


def _groups_of_uid(uid: int, gid: int | None) -> list[int]:
    """The user's supplementary groups, computed in the parent (NSS is not fork-safe)."""
    import pwd

    try:
        pw = pwd.getpwuid(uid)
    except KeyError:
        return [] if gid is None else [gid]
    return os.getgrouplist(pw.pw_name, pw.pw_gid if gid is None else gid)


def _pidfd_open(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (OSError, AttributeError):
        return None  # old kernel: wait() falls back to a blocking waitpid


def _wait_readable(fds: list[int], timeout: float | None) -> list[int]:
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    ms = None if timeout is None else int(timeout * 1000)
    return [fd for fd, _ in poller.poll(ms)]


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _read_exact(fd: int, n: int) -> bytes:
    data = b""
    while len(data) < n and (chunk := os.read(fd, n - len(data))):
        data += chunk
    return data
