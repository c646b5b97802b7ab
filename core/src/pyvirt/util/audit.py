"""Audit records for guests, sent to the kernel over NETLINK_AUDIT.

Every record uses libvirt's type numbers (VIRT_CONTROL 2500, VIRT_RESOURCE
2501, VIRT_MACHINE_ID 2502) and libvirt's field layout and value encoding, so
``ausearch -m VIRT_RESOURCE`` and tools written for libvirt read pyvirt's
records unchanged. The text is what libaudit's ``audit_log_user_message``
would send: the message, then ``exe=… hostname=? addr=? terminal=? res=…``.

pyroute2 has no NETLINK_AUDIT support, and libaudit's Python binding is not
installable from PyPI, so the two netlink messages we need (AUDIT_GET to
learn whether auditing is on, and the user record itself) are packed here
with ``struct``.

Levels (libvirt's ``audit_level``): 0 off; 1 send when the kernel audits
(default); 2 required: opening or sending fails loudly.
"""

from __future__ import annotations

import enum
import logging
import os
import socket
import stat
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from pyvirt.errors import ErrorCode, ErrorDomain, OperationFailedError, SystemCallError

__all__ = [
    "AuditGuest",
    "AuditLevel",
    "AuditReader",
    "AuditRecordType",
    "Auditor",
    "encode_value",
    "read_audit_status",
]

log = logging.getLogger("pyvirt.audit")

NETLINK_AUDIT = 9
AUDIT_GET = 1000
AUDIT_NLGRP_READLOG = 1
_NLM_F_REQUEST = 0x1
_NLM_F_ACK = 0x4
_NLMSG_ERROR = 0x2
_NLMSG_HDR = struct.Struct("=IHHII")


class AuditRecordType(enum.IntEnum):
    """libvirt's record kinds and the kernel's message type numbers for them."""

    VIRT_CONTROL = 2500
    VIRT_RESOURCE = 2501
    VIRT_MACHINE_ID = 2502


class AuditLevel(enum.IntEnum):
    OFF = 0
    IF_AVAILABLE = 1
    REQUIRED = 2


def encode_value(key: str, value: str | None) -> str:
    """``key="value"``, or ``key=HEX`` when the value has quotes, spaces or controls.

    This is libaudit's ``audit_encode_nv_string`` rule, which ausearch decodes.
    """
    if value is None:
        value = "?"
    raw = value.encode()
    if any(b == 0x22 or b < 0x21 or b > 0x7E for b in raw):
        return f"{key}={raw.hex().upper()}"
    return f'{key}="{value}"'


@dataclass(frozen=True)
class AuditGuest:
    """What every guest record names: virt type (kvm, qemu, lxc, …), name, uuid, pid."""

    virt: str
    name: str
    uuid: str
    pid: int = -1


@dataclass(frozen=True)
class AuditStatus:
    enabled: int
    failure: int
    pid: int
    backlog_limit: int
    lost: int
    backlog: int


def _nl_request(sock: socket.socket, msg_type: int, payload: bytes, seq: int, ack: bool = True) -> None:
    flags = _NLM_F_REQUEST | (_NLM_F_ACK if ack else 0)
    header = _NLMSG_HDR.pack(_NLMSG_HDR.size + len(payload), msg_type, flags, seq, 0)
    sock.send(header + payload)


def _nl_replies(sock: socket.socket, seq: int) -> Iterator[tuple[int, bytes]]:
    """Yield (type, payload) replies to ``seq`` until the ack (or error) arrives.

    The kernel may queue a data reply after the ack (audit replies come from
    a kernel thread), so requests that want data ask for no ack and stop at
    the reply themselves.
    """
    while True:
        data = sock.recv(65536)
        offset = 0
        while offset + _NLMSG_HDR.size <= len(data):
            length, mtype, _flags, rseq, _pid = _NLMSG_HDR.unpack_from(data, offset)
            payload = data[offset + _NLMSG_HDR.size : offset + length]
            offset += (length + 3) & ~3
            if rseq != seq:
                continue
            if mtype == _NLMSG_ERROR:
                (err,) = struct.unpack_from("=i", payload)
                if err:
                    raise OSError(-err, os.strerror(-err))
                return
            yield mtype, payload


def _open_socket() -> socket.socket:
    return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_AUDIT)


def read_audit_status() -> AuditStatus:
    """Ask the kernel (AUDIT_GET) whether it audits; needs CAP_AUDIT_CONTROL."""
    with _open_socket() as sock:
        _nl_request(sock, AUDIT_GET, b"", 1, ack=False)
        for mtype, payload in _nl_replies(sock, 1):
            if mtype == AUDIT_GET:
                mask, enabled, failure, pid, _rate, backlog_limit, lost, backlog = struct.unpack_from("=8I", payload)
                del mask
                return AuditStatus(enabled, failure, pid, backlog_limit, lost, backlog)
    raise OperationFailedError(ErrorCode.OPERATION_FAILED, "the kernel did not answer AUDIT_GET")


def _exe_field() -> str:
    try:
        return encode_value("exe", os.readlink("/proc/self/exe"))
    except OSError:
        return 'exe="?"'


def device_rdev(path: str) -> str | None:
    """``MAJ:MIN`` in upper-case hex for a character/block device, else None."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        return f"{os.major(st.st_rdev):02X}:{os.minor(st.st_rdev):02X}"
    return None


class Auditor:
    """Sends guest audit records; one per driver, shared by its guests.

    Opening never fails at level 1: when the kernel has no audit support,
    auditing is off, or we lack CAP_AUDIT_WRITE, records are only mirrored
    to the log (when ``mirror_to_log``) and ``active`` is False.
    """

    def __init__(self, level: AuditLevel = AuditLevel.IF_AVAILABLE, *, mirror_to_log: bool = False) -> None:
        self.level = level
        self.mirror_to_log = mirror_to_log
        self.active = False
        self.reason = "auditing disabled by configuration"
        self._sock: socket.socket | None = None
        self._seq = 0
        self._lock = threading.Lock()
        self._exe = _exe_field()
        if level == AuditLevel.OFF:
            return
        try:
            sock = _open_socket()
        except OSError as exc:
            self._unavailable(f"cannot open NETLINK_AUDIT socket: {exc.strerror}", exc.errno)
            return
        try:
            enabled = read_audit_status().enabled
        except OSError as exc:
            # Without CAP_AUDIT_CONTROL we cannot ask; sending will tell us.
            enabled = 1 if exc.errno == 1 else 0
        if not enabled:
            sock.close()
            self._unavailable("the kernel's audit subsystem is disabled (enable it with 'auditctl -e 1')", 0)
            return
        self._sock = sock
        self.active = True
        self.reason = "auditing to the kernel"

    def _unavailable(self, why: str, err: int | None) -> None:
        self.reason = why
        if self.level == AuditLevel.REQUIRED:
            if err:
                raise SystemCallError(err, "Unable to initialize audit layer", domain=ErrorDomain.AUDIT)
            raise OperationFailedError(
                ErrorCode.OPERATION_FAILED, f"Unable to initialize audit layer: {why}", domain=ErrorDomain.AUDIT
            )
        log.debug("audit unavailable: %s", why)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self.active = False

    def __enter__(self) -> Auditor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, rtype: AuditRecordType, success: bool, message: str) -> None:
        """Send one record (libaudit's trailer added); honour the level on failure."""
        if self.level == AuditLevel.OFF:
            return
        text = f"{message} {self._exe} hostname=? addr=? terminal=? res={'success' if success else 'failed'}"
        if self.mirror_to_log:
            log.info("audit type=%s %s", rtype.name, text)
        if self._sock is None:
            return
        with self._lock:
            self._seq += 1
            seq = self._seq
            try:
                _nl_request(self._sock, int(rtype), text.encode() + b"\0", seq)
                for _ in _nl_replies(self._sock, seq):
                    pass
            except OSError as exc:
                if self.level == AuditLevel.REQUIRED:
                    raise SystemCallError(exc.errno or 0, "cannot send audit record", domain=ErrorDomain.AUDIT) from exc
                log.warning("cannot send audit record: %s", exc)

    # ------------------------------------------------------------------ helpers
    def _resource(self, g: AuditGuest, success: bool, resrc: str, reason: str, rest: str) -> None:
        self.send(
            AuditRecordType.VIRT_RESOURCE,
            success,
            f"virt={g.virt} resrc={resrc} reason={reason} {encode_value('vm', g.name)} uuid={g.uuid} {rest}",
        )

    def _device_change(self, g: AuditGuest, kind: str, old: str | None, new: str | None, reason: str, ok: bool) -> None:
        if old is None and new is None:
            return
        rest = f"{encode_value('old-' + kind, old)} {encode_value('new-' + kind, new)}"
        self._resource(g, ok, kind, reason, rest)

    def lifecycle(self, g: AuditGuest, op: str, reason: str, success: bool = True) -> None:
        """``op=start|stop`` with libvirt's reasons (booted, restored, shutdown, destroyed, crashed…)."""
        self.send(
            AuditRecordType.VIRT_CONTROL,
            success,
            f"virt={g.virt} op={op} reason={reason} {encode_value('vm', g.name)} uuid={g.uuid} vm-pid={g.pid}",
        )

    def start(self, g: AuditGuest, reason: str, success: bool = True) -> None:
        self.lifecycle(g, "start", reason, success)

    def stop(self, g: AuditGuest, reason: str) -> None:
        self.lifecycle(g, "stop", reason, True)

    def init(self, g: AuditGuest, init_pid: int, pid_ns_inode: int) -> None:
        """A container's init is running (LXC): its pid and pid-namespace inode."""
        self.send(
            AuditRecordType.VIRT_CONTROL,
            True,
            f"virt={g.virt} op=init {encode_value('vm', g.name)} uuid={g.uuid} vm-pid={g.pid} "
            f"init-pid={init_pid} pid-ns={pid_ns_inode}",
        )

    def disk(self, g: AuditGuest, old: str | None, new: str | None, reason: str, success: bool = True) -> None:
        self._device_change(g, "disk", old, new, reason, success)

    def fs(self, g: AuditGuest, old: str | None, new: str | None, reason: str, success: bool = True) -> None:
        self._device_change(g, "fs", old, new, reason, success)

    def chardev(self, g: AuditGuest, old: str | None, new: str | None, reason: str, success: bool = True) -> None:
        self._device_change(g, "chardev", old, new, reason, success)

    def rng(self, g: AuditGuest, old: str | None, new: str | None, reason: str, success: bool = True) -> None:
        self._device_change(g, "rng", old, new, reason, success)

    def net(self, g: AuditGuest, old_mac: str | None, new_mac: str | None, reason: str, success: bool = True) -> None:
        self._device_change(g, "net", old_mac, new_mac, reason, success)

    def net_device_open(self, g: AuditGuest, mac: str, device: str, success: bool = True) -> None:
        """An fd on ``device`` (/dev/net/tun, /dev/vhost-net, /dev/tapN) was opened for a NIC."""
        self._resource(
            g,
            success,
            "net",
            "open",
            f"net={mac} {encode_value('path', device)} rdev={device_rdev(device) or '?'}",
        )

    def hostdev(self, g: AuditGuest, bus: str, address: str, reason: str, success: bool = True) -> None:
        """Subsystem passthrough (``bus`` pci/usb/scsi/scsi_host/mdev, libvirt's address text)."""
        self._resource(g, success, "dev", reason, f"bus={bus} {encode_value('device', address)}")

    def hostdev_caps(self, g: AuditGuest, kind: str, path: str, reason: str, success: bool = True) -> None:
        """Capabilities-mode hostdev (LXC): ``kind`` is ``disk`` (storage) or ``chardev`` (misc)."""
        self._resource(g, success, "hostdev", reason, encode_value(kind, path))

    def cgroup(self, g: AuditGuest, controller_path: str | None, reason: str, extra: str, success: bool = True) -> None:
        """Device ACL change; ``reason`` allow|deny, ``extra`` from the two helpers below or ``all``."""
        self._resource(g, success, "cgroup", reason, f"{encode_value('cgroup', controller_path)} class={extra}")

    def cgroup_major(
        self,
        g: AuditGuest,
        controller_path: str | None,
        reason: str,
        major: int,
        name: str,
        perms: str,
        success: bool = True,
    ) -> None:
        self.cgroup(g, controller_path, reason, f"major category={name} maj={major:02X} acl={perms}", success)

    def cgroup_path(
        self, g: AuditGuest, controller_path: str | None, reason: str, path: str, perms: str, success: bool = True
    ) -> None:
        extra = f"path {encode_value('path', path)} rdev={device_rdev(path) or '?'} acl={perms}"
        self.cgroup(g, controller_path, reason, extra, success)

    def security_label(
        self, g: AuditGuest, model: str | None, label: str | None, imagelabel: str | None, success: bool = True
    ) -> None:
        self.send(
            AuditRecordType.VIRT_MACHINE_ID,
            success,
            f"virt={g.virt} {encode_value('vm', g.name)} uuid={g.uuid} "
            f"vm-ctx={label or '?'} img-ctx={imagelabel or '?'} model={model or '?'}",
        )

    def memory(self, g: AuditGuest, old_kib: int, new_kib: int, reason: str, success: bool = True) -> None:
        self._resource(g, success, "mem", reason, f"old-mem={old_kib} new-mem={new_kib}")

    def vcpu(self, g: AuditGuest, old: int, new: int, reason: str, success: bool = True) -> None:
        self._resource(g, success, "vcpu", reason, f"old-vcpu={old} new-vcpu={new}")


class AuditReader:
    """Receives every audit record the kernel emits (multicast group READLOG).

    Needs CAP_AUDIT_READ; works without auditd running. Used by tests and by
    ``pyvirsh host-validate`` to prove records really reach the kernel.
    """

    def __init__(self) -> None:
        self._sock = _open_socket()
        self._sock.bind((0, 1 << (AUDIT_NLGRP_READLOG - 1)))

    def records(self, timeout: float) -> Iterator[tuple[int, str]]:
        """(type, text) for each record until ``timeout`` seconds pass with none."""
        self._sock.settimeout(timeout)
        while True:
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                return
            offset = 0
            while offset + _NLMSG_HDR.size <= len(data):
                length, mtype, *_ = _NLMSG_HDR.unpack_from(data, offset)
                payload = data[offset + _NLMSG_HDR.size : offset + length]
                offset += (length + 3) & ~3
                yield mtype, payload.rstrip(b"\0").decode(errors="replace")

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> AuditReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
