"""virsh screenshot and set-user-password on QEMU guests: libvirt 9.0's qemuDomainScreenshot and
qemuDomainSetUserPassword (src/qemu/qemu_driver.c).

A screenshot is QMP ``screendump`` into a file of the guest's private
directory; the caller gets that file as a stream, in PNG when QEMU's
``screendump`` can write PNG (libvirt asks QEMU's QMP schema, as it does when
it probes ``screenshot-format-png``), else QEMU's default, PPM. The file is
read and unlinked before the hook returns and the picture handed over through
a pipe, so no file is left behind whatever the client does. A password is set by the guest
agent's ``guest-set-user-password``, the password base64-encoded as libvirt
sends it.
"""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
from typing import TYPE_CHECKING, Any

from pyvirt.errors import ErrorCode, NotSupportedError, OperationInvalidError, SystemCallError
from pyvirt.flags import DomainSetUserPasswordFlags
from pyvirt.local_driver.domain_jobs import Job
from pyvirt.plugin import hookimpl
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import DomainRef
from pyvirt.util.stream_pipe import readable_pipe
from pyvirt_qemu.connection_base import QemuConnectionBase
from pyvirt_qemu.guest_agent import GuestAgent
from pyvirt_qemu.master_key import guest_private_dir
from pyvirt_qemu.qmp_checked import execute_checked

if TYPE_CHECKING:
    from pyvirt.conf.domain import Domain
    from pyvirt_qemu.monitor import Monitor
    from pyvirt_qemu.process import QemuProcess

__all__ = ["ScreenshotHooks"]

_PNG, _PPM = "image/png", "image/x-portable-pixmap"


def screendump_schema(monitor: Monitor) -> tuple[bool, bool]:
    """libvirt's QMP schema probes ``screendump/arg-type/device`` (QEMU_CAPS_SCREENDUMP_DEVICE) and
    ``screendump/arg-type/format/^png`` (QEMU_CAPS_SCREENSHOT_FORMAT_PNG): may a head be named, may PNG be asked."""
    schema = {entry.get("name"): entry for entry in monitor.execute("query-qmp-schema")}
    command = schema.get("screendump") or {}
    members = {m.get("name"): m for m in (schema.get(command.get("arg-type")) or {}).get("members", [])}
    fmt = schema.get((members.get("format") or {}).get("type")) or {}
    values = fmt.get("values") or [m.get("name") for m in fmt.get("members", [])]
    return "device" in members, "png" in values


def _video_alias(live: Domain, screen: int) -> tuple[str | None, int]:
    """The video device showing ``screen`` (heads counted across the videos in order) and its head there."""
    for video in live.devices.videos if live.devices is not None else []:
        heads = video.model_heads or 1
        if screen < heads:
            return (video.alias.name if video.alias is not None else None), screen
        screen -= heads
    raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "no such screen ID")


def take_screenshot(proc: QemuProcess, live: Domain, private_dir: str, screen: int) -> tuple[str, int]:
    """qemuDomainScreenshot once the job is held: the checks in libvirt's order, then the dump, read back."""
    if live.devices is None or not live.devices.videos:
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "no screens to take screenshot from")
    can_name_head, can_png = screendump_schema(proc.monitor)
    args: dict[str, Any] = {}
    if screen:
        if not can_name_head:
            raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED, "qemu does not allow specifying screen ID")
        alias, head = _video_alias(live, screen)
        if alias is not None:
            args["device"] = alias
        args["head"] = head
    if can_png:
        args["format"] = "png"
    template = os.path.join(private_dir, "qemu.screendump.XXXXXX")
    try:
        fd, path = tempfile.mkstemp(prefix="qemu.screendump.", dir=private_dir)
    except OSError as exc:
        raise SystemCallError(exc.errno or 0, f'g_mkstemp("{template}") failed') from None
    try:
        os.fchown(fd, os.stat(private_dir).st_uid, os.stat(private_dir).st_gid)  # QEMU (its user) writes it
        execute_checked(proc, "screendump", {"filename": path, **args})
        with open(path, "rb") as dumped:
            picture = dumped.read()
    finally:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    return (_PNG if can_png else _PPM), readable_pipe(picture, thread_name="pyvirt-qemu-screenshot")


class ScreenshotHooks(QemuConnectionBase):
    """Mixed into the QEMU connection; its state and checks come from QemuConnectionBase."""

    @hookimpl
    def domain_screenshot(self, dom: DomainRef, screen: int, flags: int) -> tuple[str, int]:
        """qemuDomainScreenshot: the dump's MIME type and a descriptor reading it (pyvirtd streams it)."""
        check_flags(flags, 0, "qemuDomainScreenshot")
        obj = self.state.find(dom)
        with obj.job.holding(Job.QUERY):
            proc = self._still_running(obj)
            with obj.lock:
                live = obj.live.model_copy(deep=True)
            return take_screenshot(proc, live, guest_private_dir(self.state.paths.lib, obj.name), screen)

    @hookimpl
    def domain_set_user_password(self, dom: DomainRef, user: str, password: str, flags: int) -> None:
        """qemuDomainSetUserPassword: guest-set-user-password, ``crypted`` when the password is already hashed."""
        encrypted = DomainSetUserPasswordFlags.ENCRYPTED
        check_flags(flags, encrypted, "qemuDomainSetUserPassword")
        # libvirt takes an agent job here, which no domain job excludes; pyvirt's agent calls serialise on the
        # agent itself, as the other agent commands (guest_agent_cmds.py) do
        obj = self.state.find(dom)
        self._still_running(obj)
        GuestAgent(obj.live, obj.agent_open, obj.agent_timeout).execute("guest-set-user-password", {
                "crypted": bool(flags & encrypted), "username": user,
                "password": base64.b64encode(password.encode()).decode("ascii"),
            })  # fmt: skip
