"""Talking to qemu-ga inside the guest through its ``org.qemu.guest_agent.0`` virtio-serial channel.

The channel's host end is a unix socket the driver created and QEMU listens
on; each exchange opens a connection, resynchronises the stream with
``guest-sync`` (a restarted agent, or an earlier client that gave up, may
have left half a reply in the pipe) and sends one command. The agent
answers in JSON lines. ``guest-shutdown`` never answers: the guest goes
away, which is the answer. QEMU reports whether the guest has the port
open (VSERPORT_CHANGE), so a caller can tell "no agent running" from "agent
too slow" before trying.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import struct
import termios
import time
from typing import Any

from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import Chardev
from pyvirt.errors import ErrorCode, InternalError, InvalidArgumentError, OperationFailedError
from pyvirt.util.unix_socket import connect_unix

__all__ = ["AGENT_CHANNEL", "GuestAgent", "agent_channel", "agent_wait"]

AGENT_CHANNEL = "org.qemu.guest_agent.0"
# VIR_DOMAIN_AGENT_RESPONSE_TIMEOUT_BLOCK / _DEFAULT: a domain's agent timeout (guest-agent-timeout)
_TIMEOUT_BLOCK, _TIMEOUT_DEFAULT = -2, -1
_WAIT_TIME = 5.0  # libvirt's QEMU_AGENT_WAIT_TIME: the default wait, and the longest guest-sync waits
_BLOCKING_WAIT = 365 * 24 * 3600.0  # "block": no deadline a user would meet (a socket needs a finite one)


def agent_wait(response_timeout: int) -> float:
    """Seconds a command waits for the agent under a domain's agent timeout (qemuAgentSend's reading of it)."""
    if response_timeout == _TIMEOUT_BLOCK:
        return _BLOCKING_WAIT
    if response_timeout == _TIMEOUT_DEFAULT:
        return _WAIT_TIME
    return float(response_timeout)


def agent_channel(dom: Domain) -> Chardev | None:
    """The guest-agent channel of a domain, if it has one."""
    for ch in dom.devices.channels if dom.devices is not None else []:
        if ch.target_type == "virtio" and ch.target_name == AGENT_CHANNEL and ch.type == "unix":
            return ch
    return None


def _unread(sock: socket.socket) -> int:
    """Bytes we sent that the peer has not read yet (SIOCOUTQ)."""
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]  # type: ignore[no-any-return]


def _unresponsive(detail: str) -> OperationFailedError:
    return OperationFailedError(ErrorCode.AGENT_UNRESPONSIVE, detail)


class GuestAgent:
    def __init__(self, dom: Domain, connected: bool, response_timeout: int = _TIMEOUT_DEFAULT) -> None:
        """``response_timeout``: the domain's agent timeout (guest-agent-timeout's seconds, or -2 block, -1
        default), what commands without a ``timeout`` of their own wait."""
        channel = agent_channel(dom)
        if channel is None:
            raise InvalidArgumentError(ErrorCode.ARGUMENT_UNSUPPORTED, "QEMU guest agent is not configured")
        if not connected:
            raise _unresponsive("QEMU guest agent is not connected")
        path = channel.sources[0].path if channel.sources else None
        if not path:
            raise _unresponsive("QEMU guest agent is not connected")
        self.path = path
        self.response_timeout = response_timeout

    def _exchange(self, sock: socket.socket, message: dict[str, Any], want: Any, timeout: float) -> Any:
        sock.sendall(json.dumps(message).encode() + b"\n")
        deadline = time.monotonic() + timeout
        if want is None:
            # nothing comes back: wait until QEMU has read it all, or closing now could lose it
            while _unread(sock) and time.monotonic() < deadline:
                time.sleep(0.01)
            return None
        buf = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _unresponsive("Guest agent not available for now")
            sock.settimeout(left)
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                continue
            if not chunk:
                raise _unresponsive("Guest agent disappeared while executing command")
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                try:
                    reply = json.loads(line.strip(b"\xff").decode() or "null")
                except ValueError:
                    continue  # the tail of something older: guest-sync is how we find our place
                if isinstance(reply, dict) and want(reply):
                    return reply

    def execute(self, command: str, arguments: dict[str, Any] | None = None, timeout: float | None = None,
                reply: bool = True, report_unsupported: bool = True) -> Any:  # fmt: skip
        """Run one agent command; ``reply=False`` for those the guest does not answer (guest-shutdown).

        ``timeout``: seconds, else the domain's agent timeout; guest-sync waits no longer than libvirt's 5
        seconds (qemuAgentGuestSync). ``report_unsupported=False``: an agent without the command (its
        CommandNotFound or CommandDisabled error) answers None, as qemuAgentCheckError's -2.
        """
        if timeout is None:
            timeout = agent_wait(self.response_timeout)
            sync_wait = min(_WAIT_TIME, timeout)
        else:
            sync_wait = timeout
        sync_id = int.from_bytes(os.urandom(4), "big") >> 1
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            try:
                connect_unix(sock, self.path)
            except OSError as exc:
                raise _unresponsive(f"cannot connect to the agent channel: {exc.strerror}") from exc
            sock.settimeout(sync_wait)
            self._exchange(sock, {"execute": "guest-sync", "arguments": {"id": sync_id}},
                           lambda r: r.get("return") == sync_id, sync_wait)  # fmt: skip
            message: dict[str, Any] = {"execute": command}
            if arguments:
                message["arguments"] = arguments
            if not reply:
                self._exchange(sock, message, None, timeout)
                return None
            answer = self._exchange(sock, message, lambda r: "return" in r or "error" in r, timeout)
        if "error" in answer:
            if not report_unsupported and answer["error"].get("class") in ("CommandNotFound", "CommandDisabled"):
                return None
            desc = answer["error"].get("desc", "unknown error")
            raise InternalError(ErrorCode.INTERNAL_ERROR, f"unable to execute QEMU agent command '{command}': "
                                       f"{desc}", verbatim=False)  # fmt: skip
        return answer["return"]

    def shutdown(self, mode: str) -> None:
        """``powerdown`` or ``reboot``, done by the guest's own init."""
        self.execute("guest-shutdown", {"mode": mode}, reply=False)
