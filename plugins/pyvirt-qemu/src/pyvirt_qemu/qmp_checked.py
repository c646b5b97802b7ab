"""A QMP command whose refusal reads as libvirt's qemuMonitorJSONCheckError writes it.

libvirt reports a command QEMU refused as an internal error naming the
command and quoting QEMU's ``desc``: "unable to execute QEMU command
'qom-set': ...". Scripts match on that text; :meth:`Monitor.execute` words
its failures its own way, so the calls that must match libvirt's output
byte for byte go through here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyvirt.errors import ErrorCode, ErrorDomain, InternalError

if TYPE_CHECKING:
    from pyvirt_qemu.process import QemuProcess

__all__ = ["execute_checked"]


def execute_checked(proc: QemuProcess, command: str, arguments: dict[str, Any] | None = None) -> Any:
    """QEMU's ``return`` for the command, or libvirt's INTERNAL_ERROR with QEMU's reason."""
    message: dict[str, Any] = {"execute": command}
    if arguments is not None:
        message["arguments"] = arguments
    reply = proc.monitor.execute_message(message)
    error = reply.get("error")
    if error is not None:
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"unable to execute QEMU command '{command}': {error.get('desc')}",
                            domain=ErrorDomain.QEMU)  # fmt: skip
    return reply.get("return")
