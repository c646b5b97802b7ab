"""A running guest's console: the pty xenconsoled (PV console) or the device model (serial ports) made for it.

libvirt's driver learns the pty's path from libxl at start
(``libxl_console_get_tty``), which reads it from xenstore; here it is read
from the same xenstore key when a client opens the console
(``/local/domain/ID/console/tty`` for the PV console,
``/local/domain/ID/serial/N/tty`` for serial port N). The fd handed back is
the pty's slave end in raw mode, as libvirt's console streams use it.
"""

from __future__ import annotations

import os
import tty

from pyvirt.errors import ErrorCode, InternalError, OperationFailedError
from pyvirt.local_driver.domain_table import DomainObj
from pyvirt.util.command import Command, CommandFailedError

__all__ = ["open_console"]


def _tty_key(obj: DomainObj, dev_name: str | None) -> str:
    """The xenstore key of the pty, choosing the device as libxlDomainOpenConsole does."""
    devices = obj.live.devices
    serials = devices.serials if devices is not None else []
    consoles = devices.consoles if devices is not None else []
    if dev_name is None and consoles:
        if consoles[0].target_type == "serial" and serials:
            return f"/local/domain/{obj.id}/serial/0/tty"
        return f"/local/domain/{obj.id}/console/tty"
    for index, _serial in enumerate(serials):
        if dev_name == f"serial{index}":
            return f"/local/domain/{obj.id}/serial/{index}/tty"
    raise InternalError(ErrorCode.INTERNAL_ERROR, f"cannot find character device {dev_name or '<null>'}")


def open_console(obj: DomainObj, dev_name: str | None) -> int:
    """A raw fd on the guest's console pty; the caller owns it."""
    key = _tty_key(obj, dev_name)
    cmd = Command(["xenstore-read", key]).pass_env("PATH").capture_stdout().capture_stderr()
    try:
        path = cmd.run(timeout=30).stdout.decode().strip()
    except CommandFailedError as err:
        if err.step == "exec":
            raise
        raise OperationFailedError(
            ErrorCode.OPERATION_FAILED, f"cannot find the console of domain '{obj.name}' in xenstore ({key})"
        ) from None
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        tty.setraw(fd)
    except BaseException:
        os.close(fd)
        raise
    return fd
