"""libvirt's checks of a disk's source, made before the QEMU driver says what it cannot do with it yet.

A definition libvirt would refuse gets libvirt's refusal (its error code and first line), not "not supported
yet": a secret of the wrong kind for the protocol (qemuDomainValidateStorageSource's neighbour in
domain_validate.c), encryption of an image format QEMU cannot decrypt or by an engine this QEMU lacks, a TLS
host name on something other than NBD (qemuDomainValidateStorageSource).
"""

from __future__ import annotations

from pyvirt.conf.domain_devices import Disk
from pyvirt.errors import ErrorCode, NotSupportedError
from pyvirt_qemu.emulator_caps import EmulatorCaps

__all__ = ["check_disk_source"]

# virSecretUsageType's names
_SECRET_USAGES = ("none", "volume", "ceph", "iscsi", "tls", "vtpm")


def _refuse(message: str) -> NotSupportedError:
    return NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, message)


def check_disk_source(disk: Disk, caps: EmulatorCaps | None) -> None:
    """Raise libvirt's CONFIG_UNSUPPORTED for a source it refuses; return for one it would run."""
    if disk.encryption_format is not None and disk.source_encryption_format is not None:  # the parser's
        raise _refuse("an <encryption> definition already found for disk source")
    auth = disk.source_auth or disk.auth
    if disk.type == "network" and auth is not None:
        usage = auth.secret_type
        if usage not in _SECRET_USAGES:
            raise _refuse(f"unknown secret type '{usage if usage is not None else '<null>'}'")
        if (disk.source_protocol == "iscsi" and usage != "iscsi") or (
            disk.source_protocol == "rbd" and usage != "ceph"
        ):
            raise _refuse(f"invalid secret type '{usage}'")
    encryption = disk.source_encryption_format or disk.encryption_format
    content = disk.source_encryption_content or disk.encryption_content or ""
    if encryption == "luks" and "<cipher" in content:  # virDomainDiskDefValidateSourceChainOne
        raise _refuse("supplying <cipher> for domain disk definition is unnecessary")
    if encryption is not None:
        engine = disk.source_encryption_engine or disk.encryption_engine or "qemu"
        if encryption in ("default", "qcow"):
            raise _refuse("old qcow/qcow2 encryption is not supported")
        if engine == "qemu":
            if encryption == "luks2":
                raise _refuse("luks2 is currently not supported by the qemu encryption engine")
            if (disk.driver_type or "raw") not in ("qcow2", "raw"):
                raise _refuse("encryption is supported only with 'raw' and 'qcow2' image format")
        elif engine == "librbd":
            if caps is not None and not caps.probed and not caps.has_flag("rbd-encryption"):
                raise _refuse("librbd encryption is not supported by this QEMU binary")
            if disk.type != "network" and disk.source_protocol != "rbd":
                raise _refuse("librbd encryption is supported only with RBD backed disks")
    if disk.source_tls_hostname:
        if disk.type != "network" or disk.source_protocol != "nbd":
            raise _refuse("'tlsHostname' field is supported only with NBD disks")
        if caps is not None and not caps.probed and not caps.has_flag("blockdev.nbd.tls-hostname"):
            raise _refuse("'tlsHostname' field is not supported by this QEMU")
