"""The per-container controller process (what libvirt_lxc is to libvirt).

``python -m pyvirt_lxc.controller SPEC.json FD`` with the driver's end of a
socketpair on FD. It joins the container's cgroups, creates the console
pty and a new PID namespace, forks the container's init (see
:mod:`pyvirt_lxc.container_init`) and walks the driver through the start:

    controller -> driver  {"init": PID}            namespaces exist; move NICs in
    driver -> controller  {"go": true} | {"abort": "why"}
    controller -> driver  {"running": true} | {"error": "why"}

Then it drops all of its own capabilities and stays, relaying the console
between the container's pty and a client on a unix socket, until the init
exits; it reaps the init (and anything reparented to it), records why the
container stopped in the exit file and exits. The driver watches this
process through a pidfd.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import sys

from pyvirt.util import caps
from pyvirt_lxc import syscalls as sc
from pyvirt_lxc.container_init import enter_container
from pyvirt_lxc.spec import ContainerSpec

__all__ = ["EXIT_REASONS", "exit_reason", "main"]

EXIT_REASONS = ("shutdown", "crashed", "failed")
_SHUTDOWN_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGPWR, signal.SIGKILL}


def exit_reason(status: int) -> str:
    """How the container ended, from its init's wait status: a clean exit or our stop signals are a shutdown."""
    if os.WIFEXITED(status):
        return "shutdown" if os.WEXITSTATUS(status) == 0 else "crashed"
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) in _SHUTDOWN_SIGNALS:
        return "shutdown"
    return "crashed"


class _Channel:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def send(self, msg: dict[str, object]) -> None:
        self.sock.sendall(json.dumps(msg).encode() + b"\n")

    def recv(self) -> dict[str, object]:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                return {"abort": "the driver went away during start"}
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return json.loads(line)  # type: ignore[no-any-return]


def _write_exit(spec: ContainerSpec, reason: str, status: int | None, message: str = "") -> None:
    tmp = f"{spec.exit_file}.new"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"reason": reason, "status": status, "message": message}, f)
    os.replace(tmp, spec.exit_file)


def _start(spec: ContainerSpec, chan: _Channel, console_slave: int) -> int:
    """Fork the init in a new PID namespace and see it to its exec; return its pid."""
    ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
    go_r, go_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    sc.unshare(sc.CLONE_NEWPID)
    pid = os.fork()
    if pid == 0:
        for fd in (ready_r, go_w, err_r):
            os.close(fd)
        chan.sock.close()
        enter_container(spec, console_slave, ready_w, go_r, err_w)
    for fd in (ready_w, go_r, err_w):
        os.close(fd)
    ok = os.read(ready_r, 1) == b"1"
    os.close(ready_r)
    if ok:
        chan.send({"init": pid})
        reply = chan.recv()
        if "abort" in reply:
            os.close(go_w)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise RuntimeError(str(reply["abort"]))
        os.write(go_w, b"1")
    os.close(go_w)
    chunks = []
    while chunk := os.read(err_r, 4096):
        chunks.append(chunk)
    os.close(err_r)
    if chunks or not ok:
        os.waitpid(pid, 0)
        raise RuntimeError(b"".join(chunks).decode(errors="replace") or "the container's init process died")
    return pid


def _serve(spec: ContainerSpec, init_pid: int, console_master: int) -> int:
    """Relay the console until the init exits; return its wait status."""
    pidfd = os.pidfd_open(init_pid)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(spec.console_socket)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(spec.console_socket)
    os.chmod(spec.console_socket, 0o600)
    listener.listen(1)
    os.set_blocking(console_master, False)
    sel = selectors.DefaultSelector()
    sel.register(pidfd, selectors.EVENT_READ, "init")
    sel.register(listener, selectors.EVENT_READ, "listen")
    sel.register(console_master, selectors.EVENT_READ, "console")
    client: socket.socket | None = None

    def drop_client() -> None:
        nonlocal client
        if client is not None:
            sel.unregister(client)
            client.close()
            client = None

    while True:
        for key, _ in sel.select():
            if key.data == "init":
                _, status = os.waitpid(init_pid, 0)
                listener.close()
                drop_client()
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(spec.console_socket)
                return status
            if key.data == "listen":
                conn, _ = listener.accept()
                drop_client()  # the newest client takes the console over, like virsh console --force
                client = conn
                sel.register(client, selectors.EVENT_READ, "client")
            elif key.data == "console":
                try:
                    data = os.read(console_master, 65536)
                except (BlockingIOError, OSError):
                    data = b""
                if data and client is not None:
                    try:
                        client.sendall(data)
                    except OSError:
                        drop_client()
            elif key.data == "client" and client is not None:
                data = client.recv(65536)
                if not data:
                    drop_client()
                else:
                    with contextlib.suppress(OSError):
                        os.write(console_master, data)


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as f:
        spec = ContainerSpec.from_json(f.read())
    chan = _Channel(socket.socket(fileno=int(argv[2])))
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        for procs in spec.cgroup_procs:
            with open(procs, "w", encoding="ascii") as f:
                f.write(str(os.getpid()))
        master, slave = os.openpty()
        init_pid = _start(spec, chan, slave)
        os.close(slave)
    except Exception as exc:
        message = str(exc) if isinstance(exc, RuntimeError) else f"{type(exc).__name__}: {exc}"
        _write_exit(spec, "failed", None, message)
        with contextlib.suppress(OSError):
            chan.send({"error": message})
        return 3
    chan.send({"running": True})
    chan.sock.close()
    caps.clear_all_capabilities()  # nothing the relay does needs privilege
    status = _serve(spec, init_pid, master)
    _write_exit(spec, exit_reason(status), status)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
