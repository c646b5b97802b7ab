"""What a guest reads from its firmware: SMBIOS tables, fw_cfg entries and the VM generation ID.

- ``<os><smbios mode='sysinfo'/>`` with a ``<sysinfo type='smbios'>``: one
  ``-smbios`` per table (BIOS 0, system 1, base boards 2, chassis 3, OEM
  strings 11), fields in libvirt's order, commas doubled; libvirt's checks
  on the system UUID (it must be the domain's) and the BIOS date format;
- ``<sysinfo type='fwcfg'>``: ``-fw_cfg`` entries with a string or a file
  (what Ignition and similar provisioning tools read);
- ``<genid>``: a ``vmgenid`` device carrying the generation GUID, which a guest
  uses to notice it was restored from a snapshot or cloned.

``mode='emulate'`` leaves QEMU's own tables; ``mode='host'`` (copying the
host's tables) is refused.
"""

from __future__ import annotations

import json
import re

from pyvirt.conf.common import normalize_uuid
from pyvirt.conf.domain import Domain, Sysinfo, SysinfoEntry
from pyvirt.errors import ErrorCode, NotSupportedError, XMLError

__all__ = ["genid_args", "smbios_args", "sysinfo_fwcfg_args"]

# (SMBIOS type, the XML section's fields in the order libvirt writes them)
_BIOS = ("vendor", "version", "date", "release")
_SYSTEM = ("manufacturer", "product", "version", "serial", "uuid", "sku", "family")
_BOARD = ("manufacturer", "product", "version", "serial", "asset", "location")
_CHASSIS = ("manufacturer", "version", "serial", "asset", "sku")


def _escape(text: str) -> str:
    return text.replace(",", ",,")


def _table(kind: int, entries: list[SysinfoEntry] | None, fields: tuple[str, ...]) -> list[str]:
    values = {e.name: e.value or "" for e in entries or [] if e.name}
    unknown = set(values) - set(fields)
    if unknown:
        raise XMLError(ErrorCode.XML_ERROR, f"unknown sysinfo entry '{sorted(unknown)[0]}'")
    parts = [f"{name}={_escape(values[name])}" for name in fields if name in values]
    return ["-smbios", ",".join([f"type={kind}", *parts])] if parts else []


def _check(dom: Domain, smbios: Sysinfo) -> None:
    system = {e.name: e.value or "" for e in smbios.system or [] if e.name}
    if "uuid" in system and normalize_uuid(system["uuid"]) != dom.uuid:
        raise NotSupportedError(
            ErrorCode.CONFIG_UNSUPPORTED, "UUID mismatch between <uuid> and <sysinfo>", verbatim=True
        )
    date = next((e.value for e in smbios.bios or [] if e.name == "date"), None)
    if date is not None and not re.fullmatch(r"(0?[1-9]|1[0-2])/(0?[1-9]|[12]\d|3[01])/(\d{2}|\d{4})", date):
        raise XMLError(ErrorCode.XML_DETAIL, "Invalid BIOS 'date' format", verbatim=True)


def smbios_args(dom: Domain) -> list[str]:
    mode = dom.os.smbios_mode if dom.os is not None else None
    if mode in (None, "emulate"):
        return []
    if mode != "sysinfo":
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                f"SMBIOS mode '{mode}' is not supported by the QEMU driver yet")  # fmt: skip
    smbios = next((s for s in dom.sysinfos or [] if s.type == "smbios"), None)
    if smbios is None:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                "Domain requested SMBIOS mode 'sysinfo' but no <sysinfo type='smbios'> is defined")  # fmt: skip
    _check(dom, smbios)
    out = _table(0, smbios.bios, _BIOS) + _table(1, smbios.system, _SYSTEM)
    for board in smbios.base_boards or []:
        out += _table(2, board.entries, _BOARD)
    out += _table(3, smbios.chassis, _CHASSIS)
    if smbios.oem_strings:
        out += ["-smbios", ",".join(["type=11", *(f"value={_escape(e.value or '')}" for e in smbios.oem_strings)])]
    return out


def sysinfo_fwcfg_args(dom: Domain) -> list[str]:
    out: list[str] = []
    for info in dom.sysinfos or []:
        if info.type not in ("smbios", "fwcfg"):
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"sysinfo type '{info.type}' is not supported")
        if info.type != "fwcfg":
            continue
        for entry in info.entries or []:
            name = _escape(entry.name or "")
            if entry.file:
                out += ["-fw_cfg", f"name={name},file={_escape(entry.file)}"]
            else:
                out += ["-fw_cfg", f"name={name},string={_escape(entry.value or '')}"]
    return out


def genid_args(dom: Domain) -> list[str]:
    if not dom.genid:
        return []
    return ["-device", json.dumps({"driver": "vmgenid", "guid": dom.genid, "id": "vmgenid0"}, separators=(",", ":"))]
