"""The per-container controller process (what libvirt_lxc is to libvirt).

``python -m pyvirt_lxc.controller SPEC RFD WFD CFD`` with the driver's ends
of two pipes (RFD to read from it, WFD to write to it) and the console's
listening unix socket (CFD, bound by the driver so it exists as soon as the
container runs). It joins the container's cgroups, creates the console
pty and a new PID namespace, forks the container's init (see
:mod:`pyvirt_lxc.container_init`) and walks the driver through the start,
one text line per message:

    driver -> controller  "joined"            the driver has put this process in the cgroups
    controller -> driver  "init PID"          namespaces exist; move the NICs in
    driver -> controller  "go" | "abort WHY"
    controller -> driver  "running" | "error WHY"

Then it drops all of its own capabilities and stays, relaying the console
between the container's pty and a client on a unix socket, until the init
exits; it reaps the init, records why the container stopped in the exit file
(reason, wait status, message: one per line) and exits. The driver watches
this process through a pidfd.

Its start-up is on the path of every container start, so it imports only
what it uses, and late: no json, no dataclasses, and ``socket`` (with
``selectors``) only once the container runs.
"""

from __future__ import annotations

import os
import select
import sys

from pyvirt.util import caps
from pyvirt_lxc import syscalls as sc
from pyvirt_lxc.container_init import enter_container, prepare_root, report_failure
from pyvirt_lxc.spec import ContainerSpec

__all__ = ["exit_reason", "main", "read_exit_file", "write_exit_file"]


def exit_reason(status: int) -> str:
    """How the container ended, from its init's wait status.

    A clean exit, or death by one of the signals that ask an init to stop
    (``shutdown`` sends SIGTERM), is a shutdown; a failing exit status or any
    other signal (SIGKILL from outside, the OOM killer, SIGSEGV) is a crash. A
    destroy also ends in SIGKILL, but it records "destroyed" before sending it
    (see ``write_exit_file``), so it never reaches this guess.

    libvirt 9.0's LXC driver is coarser: whatever ended the init, the state
    reason is VIR_DOMAIN_SHUTOFF_SHUTDOWN (virLXCProcessMonitorEOFNotify),
    with a "failed" event only when the controller itself died. pyvirt tells
    a crash apart, as libvirt's QEMU driver does for its guests.
    """
    import signal

    if os.WIFEXITED(status):
        return "shutdown" if os.WEXITSTATUS(status) == 0 else "crashed"
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) in {signal.SIGTERM, signal.SIGINT, signal.SIGPWR}:
        return "shutdown"
    return "crashed"


def write_exit_file(path: str, reason: str, status: int | None, message: str = "") -> bool:
    """Record why the container stopped (reason, wait status, message) unless a record is already there.

    The first record wins: a destroy writes "destroyed" before its SIGKILL,
    and the controller, which then sees only an init killed by SIGKILL, must
    not turn that into a crash for every other process that reads the file.
    The record appears whole (written aside, then hard-linked into place).
    Returns whether this record is the one kept.
    """
    tmp = f"{path}.{os.getpid()}.new"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(f"{reason}\n{'' if status is None else status}\n{message}")
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)
    return True


def read_exit_file(path: str) -> tuple[str, str]:
    """(reason, message) the controller recorded; ("crashed", "") when it left nothing (it was killed)."""
    try:
        with open(path, encoding="utf-8") as f:
            reason, _status, message = [*f.read().split("\n", 2), "", "", ""][:3]
    except OSError:
        return "crashed", ""
    return reason or "crashed", message


class _Channel:
    """The start conversation with the driver: one text line per message over two pipes."""

    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd, self.wfd = rfd, wfd
        self.buf = b""

    def send(self, verb: str, rest: str = "") -> None:
        line = f"{verb} {rest}".strip().replace("\n", " ")
        os.write(self.wfd, line.encode() + b"\n")

    def recv(self) -> tuple[str, str]:
        while b"\n" not in self.buf:
            chunk = os.read(self.rfd, 4096)
            if not chunk:
                return "abort", "the driver went away during start"
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        verb, _, rest = line.decode().partition(" ")
        return verb, rest

    def close(self) -> None:
        os.close(self.rfd)
        os.close(self.wfd)


def _fork_in_user_namespace(spec: ContainerSpec, console_slave: int, pipes: tuple[int, int, int],
                            ours: tuple[int, ...], passed: list[int]) -> int:  # fmt: skip
    """The ``<idmap>`` way: an intermediate child makes the user namespace, then forks the init.

    The PID namespace (and every other one) must belong to the new user
    namespace, or the container's root could not mount its /proc: so the
    intermediate child binds the root while it still has the host's
    privileges, enters a new user namespace, waits for this process to write
    its uid/gid maps, becomes root there, unshares the rest and forks the
    init, whose pid it reports before exiting. The init is then reparented
    here (we are a child subreaper). ``ours``: this process's descriptors, which
    the container must not inherit.
    """
    ready_w, go_r, err_w = pipes
    sync_r, sync_w = os.pipe2(os.O_CLOEXEC)  # intermediate -> controller: "u", then the init's pid
    maps_r, maps_w = os.pipe2(os.O_CLOEXEC)  # controller -> intermediate: maps written
    sc.set_child_subreaper()
    helper = os.fork()
    if helper == 0:
        try:
            for fd in (sync_r, maps_w, *ours):
                os.close(fd)
            sc.unshare(sc.CLONE_NEWNS)
            root_fd = prepare_root(spec, at_stage=True)
            sc.unshare(sc.CLONE_NEWUSER)
            os.write(sync_w, b"u")
            if os.read(maps_r, 1) != b"m":
                os._exit(125)
            os.setresgid(0, 0, 0)
            os.setresuid(0, 0, 0)
            os.setgroups([])
            flags = sc.CLONE_NEWNS | sc.CLONE_NEWPID | sc.CLONE_NEWUTS | sc.CLONE_NEWIPC
            sc.unshare(flags | (sc.CLONE_NEWNET if spec.private_net else 0))
            pid = os.fork()
            if pid == 0:
                enter_container(spec, console_slave, ready_w, go_r, err_w, root_fd, passed)
            os.write(sync_w, str(pid).encode())
            os._exit(0)
        except BaseException as exc:
            report_failure(err_w, exc)
    os.close(sync_w)
    os.close(maps_r)
    try:
        if os.read(sync_r, 1) != b"u":
            return -1
        for name, entries in (("uid_map", spec.uid_map), ("gid_map", spec.gid_map)):
            with open(f"/proc/{helper}/{name}", "w", encoding="ascii") as f:
                f.write("".join(f"{start} {target} {count}\n" for start, target, count in entries))
        os.write(maps_w, b"m")
        raw = os.read(sync_r, 32)
        return int(raw) if raw else -1
    finally:
        os.close(sync_r)
        os.close(maps_w)
        os.waitpid(helper, 0)


def _start(spec: ContainerSpec, chan: _Channel, console_slave: int, listen_fd: int, passed: list[int]) -> int:
    """Fork the init in new namespaces and see it to its exec; return its pid.

    ``passed``: the descriptors the init gets as 3, 4, ... (libvirt_lxc's ``--passfd``).
    """
    ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
    go_r, go_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    if spec.uid_map:
        pid = _fork_in_user_namespace(
            spec, console_slave, (ready_w, go_r, err_w), (ready_r, go_w, err_r, chan.rfd, chan.wfd, listen_fd), passed
        )
    else:
        sc.unshare(sc.CLONE_NEWPID)
        pid = os.fork()
        if pid == 0:
            for fd in (ready_r, go_w, err_r):
                os.close(fd)
            chan.close()
            os.close(listen_fd)
            enter_container(spec, console_slave, ready_w, go_r, err_w, passed=passed)
    for fd in (ready_w, go_r, err_w):
        os.close(fd)
    ok = pid > 0 and os.read(ready_r, 1) == b"1"
    os.close(ready_r)
    if ok:
        chan.send("init", str(pid))
        verb, rest = chan.recv()
        if verb != "go":
            os.close(go_w)
            os.kill(pid, 9)  # SIGKILL
            os.waitpid(pid, 0)
            raise RuntimeError(rest or "the driver stopped the start")
        os.write(go_w, b"1")
    os.close(go_w)
    chunks = []
    while chunk := os.read(err_r, 4096):
        chunks.append(chunk)
    os.close(err_r)
    if chunks or not ok:
        if pid > 0:
            os.waitpid(pid, 0)
        raise RuntimeError(b"".join(chunks).decode(errors="replace") or "the container's init process died")
    return pid


def _unlink(path: str) -> None:
    try:  # noqa: SIM105 - contextlib stays off the controller's start path
        os.unlink(path)
    except FileNotFoundError:
        pass


def _serve(spec: ContainerSpec, init_pid: int, console_master: int, listen_fd: int) -> int:
    """Relay the console until the init exits; return its wait status."""
    import socket

    pidfd = os.pidfd_open(init_pid)
    listener = socket.socket(fileno=listen_fd)
    os.set_blocking(console_master, False)
    poll = select.poll()
    for fd in (pidfd, listener.fileno(), console_master):
        poll.register(fd, select.POLLIN)
    client: socket.socket | None = None

    def drop_client() -> None:
        nonlocal client
        if client is not None:
            poll.unregister(client.fileno())
            client.close()
            client = None

    while True:
        for fd, _ in poll.poll():
            if fd == pidfd:
                _, status = os.waitpid(init_pid, 0)
                listener.close()
                drop_client()
                _unlink(spec.console_socket)
                return status
            if fd == listener.fileno():
                conn, _ = listener.accept()
                drop_client()  # the newest client takes the console over, like virsh console --force
                client = conn
                poll.register(client.fileno(), select.POLLIN)
            elif fd == console_master:
                try:
                    data = os.read(console_master, 65536)
                except OSError:  # EAGAIN, or EIO while nothing holds the container's end
                    data = b""
                if data and client is not None:
                    try:
                        client.sendall(data)
                    except OSError:
                        drop_client()
            elif client is not None and fd == client.fileno():
                data = client.recv(65536)
                if not data:
                    drop_client()
                else:
                    try:  # noqa: SIM105
                        os.write(console_master, data)
                    except OSError:
                        pass


def main(argv: list[str]) -> int:
    with open(argv[1], "rb") as f:
        spec = ContainerSpec.loads(f.read())
    chan = _Channel(int(argv[2]), int(argv[3]))
    listen_fd = int(argv[4])
    passed = [int(fd) for fd in argv[5:]]  # the init's 3, 4, ...: the controller lets go of them once it runs
    try:
        master, slave = os.openpty()
        verb, rest = chan.recv()  # the driver moves us into the cgroups while Python starts here
        if verb != "joined":
            raise RuntimeError(rest or "the driver stopped the start")
        try:
            init_pid = _start(spec, chan, slave, listen_fd, passed)
        finally:
            for fd in passed:
                os.close(fd)
        os.close(slave)
    except Exception as exc:
        message = str(exc) if isinstance(exc, RuntimeError) else f"{type(exc).__name__}: {exc}"
        write_exit_file(spec.exit_file, "failed", None, message)
        try:  # noqa: SIM105
            chan.send("error", message)
        except OSError:
            pass
        return 3
    caps.clear_all_capabilities()  # before "running": nothing the relay does needs privilege
    chan.send("running")
    chan.close()
    import signal

    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    status = _serve(spec, init_pid, master, listen_fd)
    write_exit_file(spec.exit_file, exit_reason(status), status)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
