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
their daemon under a root of their own). Failures are written to stderr as
virt-ssh-helper writes them, with its exit codes, and the client shows them.

Every ``qemu+ssh://`` command a client runs starts this program once, so its
start-up is part of every remote command's latency (C's virt-ssh-helper
starts in a few milliseconds). The usual path, a well-formed local URI,
therefore imports nothing beyond what the interpreter has loaded already:
no argparse (its command line is four options, parsed by hand with GLib's
messages), no ``pyvirt.errors`` (enum), no socket.py (``_socket`` is
enough), no URI module. Only the unusual paths (an odd URI, the session
daemon to start) load pyvirt's URI parser, transports and daemon helpers.
A test holds the import list small.
"""

from __future__ import annotations

import _socket
import os
import select
import sys

__all__ = ["main", "proxy", "socket_for"]

_CHUNK = 1 << 16
_PROG = "pyvirt-ssh-helper"
_NOT_A_NAME = ("__main__.py", "ssh_helper.py", "", "-c")  # run as python -m or -c: no program name to echo

# GLib's GOptionContext help, as virt-ssh-helper --help prints it, plus pyvirt's --root.
_HELP = """\
Usage:
  {prog} [OPTION…] URI - libvirt socket proxy

Internal tool used to handle connections coming from remote
clients. Not intended to be called directly by the user.

Help Options:
  -h, --help         Show help options

Application Options:
  -r, --readonly     Connect read-only
  -V, --version      Display version information
  --root=DIR         The pyvirtd started with --root DIR

"""


class _UsageError(Exception):
    """A command line GLib would refuse: ``message`` for stderr, then exit status 1."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Options:
    __slots__ = ("help", "read_only", "root", "uris", "version")

    def __init__(self) -> None:
        self.help = self.read_only = self.version = False
        self.root: str | None = None
        self.uris: list[str] = []


def _parse_args(argv: list[str]) -> _Options:
    """virt-ssh-helper's options as GLib parses them: bundled short flags, ``--opt=value``, ``--`` ends options."""
    opts = _Options()
    args = iter(argv)
    for arg in args:
        if arg == "--":
            opts.uris.extend(args)
            break
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            if name in ("--help", "--readonly", "--version") and not eq:
                setattr(opts, {"--help": "help", "--readonly": "read_only", "--version": "version"}[name], True)
            elif name == "--root":
                if not eq:
                    following = next(args, None)
                    if following is None:
                        raise _UsageError(f"Missing argument for {name}")
                    value = following
                opts.root = value
            else:
                raise _UsageError(f"Unknown option {arg}")
        elif arg.startswith("-") and arg != "-":
            for flag in arg[1:]:
                if flag in "h?":
                    opts.help = True
                elif flag == "r":
                    opts.read_only = True
                elif flag == "V":
                    opts.version = True
                else:
                    raise _UsageError(f"Unknown option -{flag}")
        else:
            opts.uris.append(arg)
    return opts


def _local_uri_path(text: str) -> str | None:
    """The path of ``driver[+unix]:///path[?query]`` without a host, or None for anything else.

    What every client sends (libvirt's and pyvirt's both pass the URI with
    its transport and host stripped). Anything else goes through pyvirt's
    URI parser, for libvirt's verdict and wording.
    """
    scheme, sep, rest = text.partition("://")
    driver, _, transport = scheme.partition("+")
    if not sep or not driver.isalnum() or not driver.isascii() or transport not in ("", "unix"):
        return None
    if not rest.startswith("/") or "%" in rest:
        return None
    return rest.partition("?")[0].partition("#")[0]


def _checked_uri_path(text: str) -> str:
    """The slow path of :func:`_local_uri_path`: the URI's path, or virt-ssh-helper's refusal of it."""
    from pyvirt.errors import Error, format_message
    from pyvirt.remote.transport import transport_of
    from pyvirt.uri import parse_uri

    try:
        uri = parse_uri(text)
    except Error as e:
        raise _UsageError(f"cannot parse '{text}': {e.message}") from None
    try:
        transport = transport_of(uri)
    except Error as e:
        # libvirt's last error message, with its code's prefix ("invalid argument: ...")
        reason = e.message if e.message.startswith(format_message(e.code, None)) else format_message(e.code, e.message)
        raise _UsageError(f"cannot parse URI transport '{text}': {reason}") from None
    if transport != "unix":
        raise _UsageError(f"unexpected URI transport '{text}'")
    return uri.path


def socket_for(uri_text: str, read_only: bool, root: str | None) -> str:
    """The pyvirtd socket that serves ``uri_text``; the session daemon is started if it is not running.

    The paths are ``pyvirt.daemon.sockets.daemon_paths``' and
    ``pyvirt.remote.client.default_socket``'s, written out here so that the
    helper imports neither (a test holds them equal).
    """
    path = _local_uri_path(uri_text)
    if path is None:
        path = _checked_uri_path(uri_text)
    session = path == "/session"
    name = "pyvirt-sock-ro" if read_only and not session else "pyvirt-sock"
    if root is not None:
        return os.path.join(os.path.abspath(root), "run", "pyvirt", "pyvirt-sock-ro" if read_only else "pyvirt-sock")
    if not session:
        return "/run/pyvirt/" + name
    from pyvirt.errors import Error
    from pyvirt.remote.client import default_socket
    from pyvirt.remote.driver import ensure_session_daemon

    sock_path = default_socket(read_only, session)
    try:
        ensure_session_daemon(sock_path)
    except Error as e:
        raise _UsageError(f"cannot connect to '{sock_path}': {e.message}") from None
    return sock_path


def proxy(sock: _socket.socket, fd_in: int = 0, fd_out: int = 1) -> None:
    """Copy both ways until the daemon closes; the client's end of input half-closes the socket.

    A plain poll loop on raw descriptors: a ``list --all`` is a few small
    messages each way, so what the loop costs is its set-up, and this one
    needs no module beyond ``select`` (splice would need a pipe on one side
    and two system calls per message).
    """
    fd_sock = sock.fileno()
    poller = select.poll()
    poller.register(fd_sock, select.POLLIN)
    poller.register(fd_in, select.POLLIN)
    while True:
        for fd, _ in poller.poll():
            if fd == fd_in:
                data = os.read(fd_in, _CHUNK)
                if not data:
                    poller.unregister(fd_in)
                    try:  # noqa: SIM105 - not contextlib.suppress: the helper need not import contextlib
                        sock.shutdown(_socket.SHUT_WR)
                    except OSError:
                        pass
                    continue
                view = memoryview(data)
                while view:
                    view = view[os.write(fd_sock, view) :]
            else:
                data = os.read(fd_sock, _CHUNK)
                if not data:
                    return
                view = memoryview(data)
                while view:
                    view = view[os.write(fd_out, view) :]


def _prog_name(argv: list[str] | None) -> str:
    """The name in the helper's messages: the one it was run by. C's virt-ssh-helper echoes ``argv[0]``,
    which is the bare name when a far shell finds it in the PATH; a script's interpreter only ever sees
    the full path, so the base name is what comes closest."""
    name = os.path.basename(sys.argv[0]) if argv is None else _PROG
    return _PROG if name in _NOT_A_NAME else name


def main(argv: list[str] | None = None) -> int:
    """virt-ssh-helper's main: 0 once the daemon closed the connection, 1 on any refusal or failure."""
    prog = _prog_name(argv)
    try:
        opts = _parse_args(sys.argv[1:] if argv is None else argv)
    except _UsageError as e:
        sys.stderr.write(f"option parsing failed: {e.message}\n")
        return 1
    if opts.help:
        sys.stdout.write(_HELP.format(prog=prog))
        return 0
    if opts.version:
        from pyvirt import __version__

        sys.stdout.write(f"{prog} (pyvirt) {__version__}\n")
        return 0
    if len(opts.uris) != 1:
        sys.stderr.write(_HELP.format(prog=prog))
        return 1
    try:
        path = socket_for(opts.uris[0], opts.read_only, opts.root)
    except _UsageError as e:
        sys.stderr.write(f"{prog}: {e.message}\n")
        return 1
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        try:
            sock.connect(path)
        except OSError as exc:
            # virNetSocketNewConnectUNIX's error, under virt-ssh-helper's "cannot connect to"
            reason = f"Failed to connect socket to '{path}': {os.strerror(exc.errno or 5)}"
            sys.stderr.write(f"{prog}: cannot connect to '{path}': {reason}\n")
            return 1
        try:  # noqa: SIM105 - as in proxy
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
