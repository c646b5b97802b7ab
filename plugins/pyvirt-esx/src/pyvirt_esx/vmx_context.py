"""How file names and SCSI models are resolved, the part of the conversion that depends on where it runs.

libvirt's VMX code takes these as callbacks (``virVMXContext``): the ESX
driver maps ``/vmfs/volumes/<datastore>/<path>`` to and from libvirt's
``[datastore] path`` form by asking the host; without a host the same
mapping is done by name (``/vmfs/volumes/<name>`` is a link to the datastore
on every ESX host). A bare file name is relative to the directory of the
``.vmx`` file, so it needs to know that directory (``vmx_directory``).
"""

from __future__ import annotations

import re
import uuid as uuidmod
from collections.abc import Callable
from dataclasses import dataclass

from pyvirt.errors import ErrorCode, ErrorDomain, InternalError

__all__ = [
    "VmxContext",
    "format_mac",
    "format_vmx_uuid",
    "host_free_context",
    "parse_mac",
    "parse_uuid",
]

# (file name in the VMX, whether a missing file is acceptable) -> source path in the XML, or None when missing
ParseFileName = Callable[[str, bool], "str | None"]
# source path in the XML -> file name in the VMX
FormatFileName = Callable[[str], str]
# (disk target dev, disk source) -> SCSI controller model (XML name) of the controller the disk sits on
AutodetectScsiModel = Callable[[str, "str | None"], str]


@dataclass
class VmxContext:
    parse_file_name: ParseFileName | None = None
    format_file_name: FormatFileName | None = None
    autodetect_scsi_model: AutodetectScsiModel | None = None
    datacenter_path: str | None = None
    moref: str | None = None


_DATASTORE_PATH = re.compile(r"^\[([^\]]+)\] *(.*)$", re.S)


def host_free_context(vmx_directory: str | None = None) -> VmxContext:
    """The mapping by datastore name, for conversions that run without an ESX host (``python -m pyvirt_esx.vmx``).

    ``vmx_directory`` is the ``[datastore] directory`` the ``.vmx`` file
    lives in; without it a bare file name in the VMX cannot be placed and
    is refused.
    """

    def parse(name: str, allow_missing: bool) -> str | None:
        if name.startswith("/vmfs/volumes/"):
            datastore, _, path = name[len("/vmfs/volumes/") :].partition("/")
            if not datastore or not path:
                raise _internal(f"File name '{name}' doesn't have expected format '/vmfs/volumes/<datastore>/<path>'")
            return f"[{datastore}] {path}"
        if name.startswith("/"):
            return name
        if "/" in name:
            raise _internal(f"Found relative path '{name}' in VMX file, this is not supported")
        if vmx_directory is None:
            raise _internal(f"Cannot place the file name '{name}' without the datastore directory of the VMX file")
        return f"{vmx_directory.rstrip('/')}/{name}"

    def format_name(src: str) -> str:
        match = _DATASTORE_PATH.match(src)
        if match:
            return f"/vmfs/volumes/{match.group(1)}/{match.group(2)}"
        if src.startswith("/"):
            return src
        raise _internal(f"Could not handle file name '{src}'")

    return VmxContext(parse_file_name=parse, format_file_name=format_name)


def _internal(detail: str) -> InternalError:
    return InternalError(ErrorCode.INTERNAL_ERROR, detail, domain=ErrorDomain.VMWARE)


def parse_uuid(text: str) -> str | None:
    """virUUIDParse: 32 hex digits, '-' and ' ' allowed between pairs, blanks around; None when not a UUID."""
    digits = text.strip(" \t\n\v\f\r")
    pairs: list[str] = []
    i = 0
    while len(pairs) < 16:
        if i >= len(digits):
            return None
        if digits[i] in "- ":
            i += 1
            continue
        pair = digits[i : i + 2]
        if len(pair) != 2 or any(c not in "0123456789abcdefABCDEF" for c in pair):
            return None
        pairs.append(pair.lower())
        i += 2
    if digits[i:].strip(" \t\n\v\f\r"):
        return None
    return str(uuidmod.UUID("".join(pairs)))


def format_vmx_uuid(text: str) -> str:
    """``uuid.bios`` form: ``56 4d 9b ef ac d9 b4 e0-c8 f0 ae a8 b9 10 35 15``."""
    raw = uuidmod.UUID(text).hex
    pairs = [raw[i : i + 2] for i in range(0, 32, 2)]
    return " ".join(pairs[:8]) + "-" + " ".join(pairs[8:])


def parse_mac(text: str) -> bytes | None:
    """virMacAddrParse: six 1-2 digit hex groups separated by ':'; None when not a MAC address."""
    out = bytearray()
    pos = 0
    for i in range(6):
        if pos >= len(text) or text[pos] not in "0123456789abcdefABCDEF":
            return None
        end = pos
        while end < len(text) and text[end] in "0123456789abcdefABCDEF":
            end += 1
        if end - pos > 2:
            return None
        out.append(int(text[pos:end], 16))
        if i == 5:
            return bytes(out) if end >= len(text) or text[end] <= " " else None
        if end >= len(text) or text[end] != ":":
            return None
        pos = end + 1
    return None


def format_mac(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)
