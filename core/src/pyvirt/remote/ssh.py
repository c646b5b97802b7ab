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
"""

from __future__ import annotations

import contextlib
import shlex
import socket
import subprocess
import threading

from pyvirt.errors import Error, ErrorCode, ErrorDomain, InvalidArgumentError
from pyvirt.uri import URI

__all__ = ["CommandSocket", "connect_ssh", "helper_command", "ssh_argv"]

_ERR_KEEP = 1 << 16
_REAP_WAIT = 5.0


def _truthy(value: str | None) -> bool:
    return value is not None and value not in ("", "0")


def helper_command(name: str, read_only: bool, proxy: str, netcat: str | None, socket_path: str) -> str:
    """The command the far host's shell runs: a helper that joins stdin/stdout to the daemon's socket."""
    uri = shlex.quote(name)
    ro = " -r" if read_only else ""
    nc = shlex.quote(netcat or "nc")
    # libvirt's probe for OpenBSD nc, which needs -q0 to exit at the end of stdin
    nccmd = (
        f'if {nc} -q 2>&1 | grep "requires an argument" >/dev/null 2>&1; then ARG=-q0; else ARG=; fi; '
        f"exec {nc} $ARG -U {shlex.quote(socket_path)}"
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
    return "sh -c " + shlex.quote(script)


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


class CommandSocket(socket.socket):
    """Our end of the socket pair whose other end is a command's stdin/stdout; closing it reaps the command."""

    def attach(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc = proc
        self._errout = bytearray()
        assert proc.stderr is not None
        self._err_thread = threading.Thread(target=self._collect, args=(proc.stderr,), daemon=True)
        self._err_thread.start()

    def _collect(self, stream: object) -> None:
        read = stream.read1  # type: ignore[attr-defined]
        while chunk := read(4096):
            self._errout += chunk
            del self._errout[:-_ERR_KEEP]

    def error_output(self) -> str:
        """What the command wrote on stderr (waiting briefly for it to finish writing)."""
        self._err_thread.join(2.0)
        return bytes(self._errout).decode(errors="replace").strip()

    def close(self) -> None:
        super().close()
        proc = getattr(self, "_proc", None)
        if proc is None or proc.returncode is not None:
            return
        try:
            proc.wait(_REAP_WAIT)  # ssh ends once its stdin is closed
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            with contextlib.suppress(OSError):
                proc.stderr.close()


def connect_ssh(uri: URI, read_only: bool, name: str, socket_path: str) -> socket.socket:
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
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        proc = subprocess.Popen(argv, stdin=theirs.fileno(), stdout=theirs.fileno(), stderr=subprocess.PIPE)
    except FileNotFoundError:
        ours.close()
        raise Error(
            ErrorCode.SYSTEM_ERROR,
            f"Cannot find '{argv[0]}' in path: No such file or directory (install the Debian package 'openssh-client')",
            domain=ErrorDomain.RPC,
        ) from None
    finally:
        theirs.close()
    sock = CommandSocket(socket.AF_UNIX, socket.SOCK_STREAM, fileno=ours.detach())
    sock.attach(proc)
    return sock
