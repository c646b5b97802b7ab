"""The ``+ssh`` transport: the system ``ssh`` runs a helper on the far host, RPC goes over its stdin/stdout.

The command line is libvirt's (virNetSocketNewConnectSSH):
``ssh [-p PORT] [-l USER] [-i KEYFILE] -T -e none [-o BatchMode=yes]
[-o StrictHostKeyChecking=no] -- HOST COMMAND``, with ``?command=`` naming
the ssh program, ``?keyfile=``, ``?no_tty=1`` (BatchMode), ``?no_verify=1``
and, beyond libvirt's ssh binary transport (its libssh ones take it),
``?known_hosts=FILE`` as ``-o UserKnownHostsFile=FILE``.

What runs on the far host (virNetClientSSHHelperCommand's shape, ``?proxy=``
as in libvirt): in ``auto`` mode, ``pyvirt-ssh-helper`` if the host has it,
else ``virt-ssh-helper`` (libvirt's, or pyvirt's installed under that name
so that Debian's virsh reaches pyvirtd), else ``nc -U SOCKET``; ``?netcat=``
or ``?proxy=netcat`` forces nc, ``?proxy=native`` forces the helper. The
helper is given the URI without transport and host, and ``-r`` for a
read-only connection, as virt-ssh-helper is.

As in libvirt, ssh's end is one side of a socket pair, and what ssh (or the
far shell) writes to stderr is kept: when the connection ends before the
daemon answered, that text is the error ("End of file while reading data:
Permission denied (publickey).: Input/output error").

Every ``pyvirsh -c qemu+ssh://...`` pays this module's imports, so it uses
the interpreter's own layers: ``os.posix_spawnp`` and a pidfd instead of
subprocess (which brings locale, re, threading and selectors), ``_socket``
instead of socket.py, ``_thread`` for the stderr reader, and its own shell
quoting instead of shlex's (a regular expression).
"""

from __future__ import annotations

import _socket
import _thread
import os
import select
import signal

from pyvirt.errors import Error, ErrorCode, ErrorDomain, InvalidArgumentError
from pyvirt.uri import URI

__all__ = ["CommandSocket", "connect_ssh", "helper_command", "ssh_argv"]

_ERR_KEEP = 1 << 16
_REAP_WAIT = 5.0
_SHELL_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-")


def _quote(text: str) -> str:
    """``shlex.quote``: a word of safe characters as it is, anything else single-quoted for ``sh``."""
    if text and _SHELL_SAFE.issuperset(text):
        return text
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _truthy(value: str | None) -> bool:
    return value is not None and value not in ("", "0")


def helper_command(name: str, read_only: bool, proxy: str, netcat: str | None, socket_path: str) -> str:
    """The command the far host's shell runs: a helper that joins stdin/stdout to the daemon's socket."""
    uri = _quote(name)
    ro = " -r" if read_only else ""
    nc = _quote(netcat or "nc")
    # libvirt's probe for OpenBSD nc, which needs -q0 to exit at the end of stdin
    nccmd = (
        f'if {nc} -q 2>&1 | grep "requires an argument" >/dev/null 2>&1; then ARG=-q0; else ARG=; fi; '
        f"exec {nc} $ARG -U {_quote(socket_path)}"
    )
    helpers = (
        f"if command -v pyvirt-ssh-helper >/dev/null 2>&1; then exec pyvirt-ssh-helper{ro} {uri}; "
        f"elif command -v virt-ssh-helper >/dev/null 2>&1; then exec virt-ssh-helper{ro} {uri}; "
    )
    if proxy == "netcat" or (proxy == "auto" and netcat is not None):
        script = nccmd
    elif proxy == "native":
        script = helpers + "else echo 'no pyvirt-ssh-helper or virt-ssh-helper on this host' >&2; exit 127; fi"
    else:
        script = helpers + f"else {nccmd}; fi"
    return "sh -c " + _quote(script)


def ssh_argv(uri: URI, command: str) -> list[str]:
    """libvirt's ssh command line for ``uri``, ending with the far host's ``command``."""
    argv = [uri.param("command") or "ssh"]
    if uri.port:
        argv += ["-p", str(uri.port)]
    if uri.user:
        argv += ["-l", uri.user]
    keyfile = uri.param("keyfile")
    if keyfile:
        argv += ["-i", keyfile]
    argv += ["-T", "-e", "none"]
    if _truthy(uri.param("no_tty")):
        argv += ["-o", "BatchMode=yes"]
    if _truthy(uri.param("no_verify")):
        argv += ["-o", "StrictHostKeyChecking=no"]
    known_hosts = uri.param("known_hosts")
    if known_hosts:
        argv += ["-o", f"UserKnownHostsFile={known_hosts}"]
    argv += ["--", uri.server or "localhost", command]
    return argv


class CommandSocket(_socket.socket):
    """Our end of the socket pair whose other end is a command's stdin/stdout; closing it reaps the command."""

    _pid: int | None = None

    def attach(self, pid: int, stderr_fd: int) -> None:
        """Watch command ``pid``: a thread keeps what it writes on ``stderr_fd`` (ours to close)."""
        self._pid = pid
        self._errout = bytearray()
        self._err_done = _thread.allocate_lock()
        self._err_done.acquire()
        _thread.start_new_thread(self._collect, (stderr_fd,))

    def _collect(self, fd: int) -> None:
        try:
            while chunk := os.read(fd, 4096):
                self._errout += chunk
                del self._errout[:-_ERR_KEEP]
        except OSError:
            pass
        finally:
            os.close(fd)
            self._err_done.release()

    def error_output(self) -> str:
        """What the command wrote on stderr (waiting briefly for it to finish writing)."""
        if self._err_done.acquire(timeout=2.0):
            self._err_done.release()
        return bytes(self._errout).decode(errors="replace").strip()

    def close(self) -> None:
        super().close()
        pid, self._pid = self._pid, None
        if pid is not None:
            _reap(pid, _REAP_WAIT)  # ssh ends once its stdin is closed


def _reap(pid: int, timeout: float) -> None:
    """Wait for ``pid`` at most ``timeout`` seconds (a pidfd says when it ended), then kill it, and reap it."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:  # already reaped by someone else, or a kernel without pidfds: waitpid decides
        pidfd = -1
    if pidfd >= 0:
        try:
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
            if not poller.poll(int(timeout * 1000)):
                os.kill(pid, signal.SIGKILL)
        finally:
            os.close(pidfd)
    try:  # noqa: SIM105 - not contextlib.suppress: a short run need not import contextlib
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _spawn(argv: list[str], stdio: int, stderr: int) -> int:
    """``argv`` found in PATH and started with ``stdio`` as its stdin and stdout, ``stderr`` as its stderr,
    SIGPIPE and SIGXFSZ back to their defaults (Python ignores them; subprocess restores them too)."""
    actions = [(os.POSIX_SPAWN_DUP2, stdio, 0), (os.POSIX_SPAWN_DUP2, stdio, 1), (os.POSIX_SPAWN_DUP2, stderr, 2)]
    return os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions, setsigdef=(signal.SIGPIPE, signal.SIGXFSZ))


def connect_ssh(uri: URI, read_only: bool, name: str, socket_path: str) -> _socket.socket:
    """Start ssh with the helper command; the returned socket speaks to the far daemon."""
    proxy = uri.param("proxy") or "auto"
    if proxy not in ("auto", "netcat", "native"):
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"Unnkown proxy type '{proxy}'", domain=ErrorDomain.REMOTE)
    netcat = uri.param("netcat")
    if proxy == "native" and netcat is not None:
        raise InvalidArgumentError(
            ErrorCode.INVALID_ARG, "netcat path not valid with native proxy mode", domain=ErrorDomain.REMOTE
        )
    command = helper_command(name, read_only, proxy, netcat, uri.param("socket") or socket_path)
    argv = ssh_argv(uri, command)
    ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)  # both close-on-exec
    err_r, err_w = os.pipe()
    try:
        pid = _spawn(argv, theirs.fileno(), err_w)
    except FileNotFoundError:
        ours.close()
        os.close(err_r)
        raise Error(
            ErrorCode.SYSTEM_ERROR,
            f"Cannot find '{argv[0]}' in path: No such file or directory (install the Debian package 'openssh-client')",
            domain=ErrorDomain.RPC,
        ) from None
    finally:
        theirs.close()
        os.close(err_w)
    sock = CommandSocket(_socket.AF_UNIX, _socket.SOCK_STREAM, fileno=ours.detach())
    sock.attach(pid, err_r)
    return sock
