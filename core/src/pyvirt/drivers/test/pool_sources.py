"""Storage pool source discovery on the test driver (testConnectFindStoragePoolSources).

libvirt 9.0's test driver answers two fixed documents: two LVM volume groups
for ``logical``, and one NFS export on the host the source specification names
for ``netfs``. Every other type "does not support source discovery", except
``dir``, which its ``!pool_type`` test takes for an unknown type (``dir`` is 0
in virStoragePoolType). The specification is parsed first, as
virStoragePoolDefParseSourceString does, with its errors.
"""

from __future__ import annotations

import pyvirt.errors as _errors
from pyvirt.drivers.test.marker import hookimpl
from pyvirt.errors import ErrorCode
from pyvirt.plugin.flags import check_flags

__all__ = ["PoolSourceHooks"]

# virStoragePoolType's names, in libvirt 9.0's order
_POOL_TYPES = (
    "dir", "fs", "netfs", "logical", "disk", "iscsi", "iscsi-direct", "scsi", "mpath", "rbd", "sheepdog", "gluster",
    "zfs", "vstorage",
)  # fmt: skip

_LOGICAL_SOURCES = (
    "<sources>\n"
    "  <source>\n"
    "    <device path='/dev/sda20'/>\n"
    "    <name>testvg1</name>\n"
    "    <format type='lvm2'/>\n"
    "  </source>\n"
    "  <source>\n"
    "    <device path='/dev/sda21'/>\n"
    "    <name>testvg2</name>\n"
    "    <format type='lvm2'/>\n"
    "  </source>\n"
    "</sources>\n"
)
_NETFS_SOURCES = (
    "<sources>\n"
    "  <source>\n"
    "    <host name='{host}'/>\n"
    "    <dir path='/testshare'/>\n"
    "    <format type='nfs'/>\n"
    "  </source>\n"
    "</sources>\n"
)


def _source_hosts(spec: str, pool_type: int) -> list[str]:
    """virStoragePoolDefParseSourceString's checks on a ``<source>``: the host names it gives."""
    if pool_type < 0:  # virStoragePoolOptionsForPoolType finds no backend
        raise _errors.InternalError(ErrorCode.INTERNAL_ERROR, f"missing backend for pool type {pool_type}")
    from pyvirt.conf.xmlparse import find_all, parse_xml

    root = parse_xml(spec, "source", "storage_source_specification")
    hosts = []
    for host in find_all(root, "host"):
        name = host.get("name")
        if name is None:
            raise _errors.XMLError(ErrorCode.XML_ERROR, "missing storage pool host name")
        port = host.get("port")
        if port is not None and not _c_int(port):
            raise _errors.XMLError(
                ErrorCode.XML_ERROR,
                f"Invalid value for attribute 'port' in element 'host': '{port}'. Expected integer value",
            )
        hosts.append(name)
    return hosts


def _c_int(text: str) -> bool:
    """virStrToLong_i's syntax (base 10, the whole text, a C int)."""
    body = text.lstrip(" \t\n\v\f\r")
    digits = body[1:] if body[:1] in ("+", "-") else body
    return bool(digits) and digits.isascii() and digits.isdigit() and -(2**31) <= int(body) < 2**31


class PoolSourceHooks:
    """Mixed into the test connection (it needs nothing of the connection's state)."""

    @hookimpl
    def pool_find_sources(self, type: str, src_spec: str | None, flags: int) -> str:
        check_flags(flags, 0, "testConnectFindStoragePoolSources")
        pool_type = _POOL_TYPES.index(type) if type in _POOL_TYPES else -1
        if pool_type == 0:
            raise _errors.InternalError(ErrorCode.INTERNAL_ERROR, f"unknown storage pool type {type}")
        hosts = _source_hosts(src_spec, pool_type) if src_spec is not None else None
        if type == "logical":
            return _LOGICAL_SOURCES
        if type == "netfs":
            if not hosts:  # libvirt reads hosts[0] (and crashes on a <source> without any)
                raise _errors.InvalidArgumentError(
                    ErrorCode.INVALID_ARG, "hostname must be specified for netfs sources"
                )
            return _NETFS_SOURCES.format(host=hosts[0])
        raise _errors.NotSupportedError(ErrorCode.NO_SUPPORT, f"pool type '{type}' does not support source discovery")
