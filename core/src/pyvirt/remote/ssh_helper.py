"""``pyvirt-ssh-helper [-r] [--root DIR] URI``: the far end of ``+ssh``, joining stdin/stdout to pyvirtd's socket.

It takes libvirt's ``virt-ssh-helper`` command line, because that is what a
libvirt client runs on the far host for ``qemu+ssh://HOST/system``: libvirt
9.0's virsh asks the far shell for ``virt-ssh-helper 'qemu:///system'`` when
that program exists and falls back to ``nc -U /var/run/libvirt/libvirt-sock``,
which is libvirtd's socket, never pyvirtd's. So a pyvirt host that Debian's
virsh should reach installs this program under the name ``virt-ssh-helper``
ahead of libvirt's in the PATH sshd gives its sessions (``/usr/local/bin``);
pyvirt's own client asks for ``pyvirt-ssh-helper`` first and needs nothing.

The socket is the one pyvirtd serves for the URI: the system instance's
(``/run/pyvirt/pyvirt-sock``, ``-sock-ro`` with ``-r``), the session one
for ``/session`` (started on demand, as the local client would), or that of
``pyvirtd --root DIR`` with ``--root`` (a pyvirt extension: test hosts run
their daemon under a root of their own). A failure to connect is written to
stderr as virt-ssh-helper writes it, and the client shows it.
"""

from __future__ import annotations

import _socket
import argparse
import contextlib
import os
import select
import socket
import sys

from pyvirt.errors import Error

__all__ = ["main"]

_CHUNK = 1 << 16


def _parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Proxy stdin/stdout to pyvirtd's socket for a remote client.")
    p.add_argument("-r", "--readonly", action="store_true", help="connect to the read-only socket")
    p.add_argument("--root", metavar="DIR", help="the pyvirtd started with --root DIR")
    p.add_argument("uri", help="the connection URI the client opens (e.g. qemu:///system)")
    return p


def socket_for(uri_text: str, read_only: bool, root: str | None) -> str:
    """The pyvirtd socket that serves ``uri_text``; the session daemon is started if it is not running."""
    from pyvirt.remote.client import default_socket
    from pyvirt.uri import parse_uri

    uri = parse_uri(uri_text)
    session = uri.path == "/session"
    if root is not None:
        from pyvirt.daemon.sockets import daemon_paths

        paths = daemon_paths(root=root)
        return paths.ro_socket if read_only else paths.rw_socket
    path = default_socket(read_only, session)
    if session:
        from pyvirt.remote.driver import ensure_session_daemon

        ensure_session_daemon(path)
    return path


def proxy(sock: _socket.socket, fd_in: int = 0, fd_out: int = 1) -> None:
    """Copy both ways until the daemon closes; the client's end of input half-closes the socket."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    poller.register(fd_in, select.POLLIN)
    while True:
        for fd, _ in poller.poll():
            if fd == fd_in:
                data = os.read(fd_in, _CHUNK)
                if not data:
                    poller.unregister(fd_in)
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_WR)
                    continue
                sock.sendall(data)
            else:
                data = sock.recv(_CHUNK)
                if not data:
                    return
                view = memoryview(data)
                while view:
                    view = view[os.write(fd_out, view) :]


def main(argv: list[str] | None = None) -> int:
    prog = os.path.basename(sys.argv[0]) if argv is None else "pyvirt-ssh-helper"
    if prog in ("__main__.py", "ssh_helper.py", ""):
        prog = "pyvirt-ssh-helper"
    args = _parser(prog).parse_args(argv)
    from pyvirt.remote.client import connect_unix

    try:
        sock = connect_unix(socket_for(args.uri, args.readonly, args.root))
    except Error as e:
        print(f"{prog}: cannot connect to '{args.uri}': {e.message}", file=sys.stderr)
        return 1
    try:
        proxy(sock)
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        sock.close()
    return 0


def console_main() -> None:
    sys.exit(main())


if __name__ == "__main__":
    console_main()
