"""A passthrough TPM: the host's ``/dev/tpmN`` and its sysfs cancel file, opened by the driver for QEMU.

As libvirt does (qemuProcessPrepareHostBackendTPM / qemuBuildTPMOpenBackendFDs), QEMU
gets both as fds in fd sets (``-add-fd``), so it needs no access to the host's nodes.
"""

from __future__ import annotations

import os
from typing import Any

from lxml import etree

from pyvirt.conf.domain import Domain
from pyvirt.errors import ErrorCode, ErrorDomain, InternalError, SystemCallError

__all__ = ["open_tpm_passthrough", "tpm_cancel_fd_key", "tpm_cancel_path", "tpm_fd_key", "tpm_passthrough_device"]


def tpm_fd_key(index: int) -> str:
    """The fd key of the ``index``-th ``<tpm>``'s device (by position: the fds are opened before aliases exist)."""
    return f"tpm{index}-device"


def tpm_cancel_fd_key(index: int) -> str:
    return f"tpm{index}-cancel"


def tpm_passthrough_device(tpm: Any) -> str:
    """The host TPM a passthrough backend names (``<device path>``; libvirt's default ``/dev/tpm0``)."""
    node = etree.fromstring(f"<backend>{tpm.backend_content or ''}</backend>").find("device")
    return str(node.get("path")) if node is not None and node.get("path") else "/dev/tpm0"


def tpm_cancel_path(device: str) -> str:
    """The sysfs file that cancels the TPM's current command, ``/dev/null`` when the kernel has none
    (virTPMCreateCancelPath)."""
    if "/" not in device:
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"TPM device path {device} is invalid")
    name = device.rsplit("/", 1)[1]
    for prefix in ("misc/", "tpm/"):
        path = f"/sys/class/{prefix}{name}/device/cancel"
        if os.path.exists(path):
            return path
    return "/dev/null"


def open_tpm_passthrough(dom: Domain) -> dict[str, int]:
    """The fds of each passthrough TPM (device read-write, cancel file write-only), keyed for the command line;
    on a failure the ones already opened are closed."""
    opened: dict[str, int] = {}
    try:
        for index, tpm in enumerate(dom.devices.tpms if dom.devices is not None else []):
            if tpm.backend_type != "passthrough" or tpm.model == "spapr-tpm-proxy":
                continue
            device = tpm_passthrough_device(tpm)
            cancel = tpm_cancel_path(device)
            for key, path, flags, what in ((tpm_fd_key(index), device, os.O_RDWR, "Could not open TPM device"),
                                           (tpm_cancel_fd_key(index), cancel, os.O_WRONLY,
                                            "Could not open TPM device's cancel path")):  # fmt: skip
                try:
                    opened[key] = os.open(path, flags | os.O_CLOEXEC)
                except OSError as exc:
                    raise SystemCallError(exc.errno or 0, f"{what} {path}", domain=ErrorDomain.QEMU) from exc
    except BaseException:
        for fd in opened.values():
            os.close(fd)
        raise
    return opened
