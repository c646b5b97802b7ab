"""The domain XML inside a QEMU save image: read it, replace it in place (libvirt 9.0's qemuDomainSaveImage*).

save-image-dumpxml/-define and managedsave-dumpxml/-define read and rewrite
the header :mod:`pyvirt_qemu.save_image` lays out, as qemu_driver.c and
qemu_saveimage.c do:

- the image is read as a restore reads it (same checks, same words);
- a new XML equal to the stored one, with no state asked or the same one,
  changes nothing; otherwise it is parsed as a define's, checked against the
  stored one for the guest ABI the saved memory depends on
  (virDomainDefCheckABIStability, see :func:`check_abi_stability`), and
  stored formatted INACTIVE|SECURE|MIGRATABLE;
- it is written in place over the header: ``data_len`` (the XML, libvirt's
  save cookie and the 64 KiB of zeros libvirt leaves for this) stays, so
  QEMU's stream after it does not move. An XML that does not fit is refused,
  "new xml too large to fit in file", as virQEMUSaveDataWrite refuses it;
- RUNNING or PAUSED rewrites the header's was-running word: the state a
  restore (or the start from a managed save) resumes into.
"""

from __future__ import annotations

import os

from pyvirt.conf.domain import Domain, format_domain, parse_domain
from pyvirt.errors import ErrorCode, NotSupportedError, OperationFailedError, SystemCallError
from pyvirt.flags import DomainSaveRestoreFlags, DomainXMLFlags
from pyvirt_qemu.save_image import _SWAPPED, HEADER, VERSION, read_image

__all__ = ["check_abi_stability", "define_image_xml", "image_xml_desc", "replacement_definition"]


def _parse(xml: str, paths_cache: str, channel_dir: str) -> Domain:
    from pyvirt_qemu.domain_defaults import apply_defaults

    return apply_defaults(parse_domain(xml), paths_cache, channel_dir=channel_dir)


def image_xml_desc(path: str, flags: int, paths_cache: str, channel_dir: str) -> str:
    """qemuDomainSaveImageGetXMLDesc: the stored XML, parsed and formatted with ``flags`` (SECURE or not)."""
    return format_domain(_parse(read_image(path).xml, paths_cache, channel_dir), flags & DomainXMLFlags.SECURE)


def define_image_xml(path: str, xml: str, flags: int, paths_cache: str, channel_dir: str) -> None:
    """qemuDomainSaveImageDefineXML after its flag check: replace the stored XML (and the state) in place."""
    header = read_image(path)
    state: bool | None = None
    if flags & DomainSaveRestoreFlags.RUNNING:
        state = True
    elif flags & DomainSaveRestoreFlags.PAUSED:
        state = False
    if header.xml == xml and (state is None or state == header.was_running):
        return  # "no change to the XML"
    old = _parse(header.xml, paths_cache, channel_dir)
    new = _parse(xml, paths_cache, channel_dir)
    check_abi_stability(old, new)
    stored = format_domain(new, DomainXMLFlags.INACTIVE | DomainXMLFlags.SECURE | DomainXMLFlags.MIGRATABLE)
    _rewrite(path, stored, header.was_running if state is None else state)


def replacement_definition(stored: Domain, xml: str, paths_cache: str, channel_dir: str) -> Domain:
    """qemuSaveImageUpdateDef (restore --xml) and the XML check of qemuDomainSaveInternal (save --xml): the
    user's XML, parsed as a define's, replaces ``stored`` only if the guest ABI is the same."""
    new = _parse(xml, paths_cache, channel_dir)
    check_abi_stability(stored, new)
    return new


def _rewrite(path: str, xml: str, was_running: bool) -> None:
    """virQEMUSaveDataWrite over an existing image: header, XML, libvirt's cookie if the image has one, zeros
    to the old ``data_len``. The header goes back in this host's byte order, as libvirt writes it."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        raise SystemCallError(exc.errno or 0, f"cannot read domain image '{path}'") from exc
    try:
        raw = os.pread(fd, HEADER.size, 0)
        fields = HEADER.unpack(raw)
        if fields[1] > VERSION:
            fields = _SWAPPED.unpack(raw)
        magic, version, data_len, _running, compressed, cookie_offset, *unused = fields
        cookie = b""
        if version == 2 and cookie_offset:
            cookie = os.pread(fd, data_len - cookie_offset, HEADER.size + cookie_offset).split(b"\0", 1)[0] + b"\0"
        text = xml.encode() + b"\0"
        if len(text) + len(cookie) > data_len:
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, "new xml too large to fit in file")
        new_cookie_offset = len(text) if cookie else 0
        head = HEADER.pack(magic, version, data_len, int(was_running), compressed, new_cookie_offset, *unused)
        body = text + cookie
        body += b"\0" * (data_len - len(body))
        try:
            os.pwrite(fd, head + body, 0)
            os.fsync(fd)
        except OSError as exc:
            raise SystemCallError(exc.errno or 0, f"failed to write header to domain save file '{path}'") from exc
    finally:
        os.close(fd)


def _unsupported(message: str) -> NotSupportedError:
    return NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, message)


# (model field, libvirt's noun in "Target domain <noun> count %zu does not match source %zu"), in libvirt's order
_DEVICE_COUNTS = (
    ("disks", "disk"), ("controllers", "controller"), ("filesystems", "filesystem"), ("interfaces", "net card"),
    ("inputs", "input device"), ("sounds", "sound card"), ("videos", "video card"), ("hostdevs", "host device"),
    ("smartcards", "smartcard"), ("serials", "serial port"), ("parallels", "parallel port"),
    ("channels", "channel"), ("consoles", "console"), ("hubs", "hub device"), ("redirdevs", "redirected devices"),
)  # fmt: skip


def check_abi_stability(src: Domain, dst: Domain) -> None:
    """virDomainDefCheckABIStability's checks, in its order and words (CONFIG_UNSUPPORTED), for what the
    saved memory and device state depend on: virt type, UUID, name (so a guest is not renamed through the
    back door), memory, vCPUs, OS type, architecture and machine, and how many devices of each kind there
    are. libvirt also compares each device's own guest-visible properties (addresses, models, targets)
    pairwise; those are not compared here yet, so such a change is left to QEMU's refusal at the restore."""
    if src.type != dst.type:
        raise _unsupported(f"Target domain virt type {dst.type} does not match source {src.type}")
    if src.uuid != dst.uuid:
        raise _unsupported(f"Target domain uuid {dst.uuid} does not match source {src.uuid}")
    if src.name != dst.name:
        raise _unsupported(f"Target domain name '{dst.name}' does not match source '{src.name}'")
    smem, dmem = _kib(src.memory), _kib(dst.memory)
    if smem != dmem:
        raise _unsupported(f"Target domain max memory {dmem} does not match source {smem}")
    scur, dcur = _kib(src.current_memory) or smem, _kib(dst.current_memory) or dmem
    if scur != dcur:
        raise _unsupported(f"Target domain current memory {dcur} does not match source {scur}")
    smax, dmax = _vcpus(src), _vcpus(dst)
    if smax != dmax:
        raise _unsupported(f"Target domain vCPU max {dmax} does not match source {smax}")
    assert src.os is not None and dst.os is not None and src.os.type is not None and dst.os.type is not None
    if src.os.type.name != dst.os.type.name:
        raise _unsupported(f"Target domain OS type {dst.os.type.name} does not match source {src.os.type.name}")
    if src.os.type.arch != dst.os.type.arch:
        raise _unsupported(f"Target domain architecture {dst.os.type.arch} does not match source {src.os.type.arch}")
    if src.os.type.machine != dst.os.type.machine:
        raise _unsupported(
            f"Target domain machine type {dst.os.type.machine} does not match source {src.os.type.machine}"
        )
    assert src.devices is not None and dst.devices is not None
    for field, noun in _DEVICE_COUNTS:
        ns, nd = len(getattr(src.devices, field)), len(getattr(dst.devices, field))
        if ns != nd:
            raise _unsupported(f"Target domain {noun} count {nd} does not match source {ns}")


def _kib(memory: object) -> int:
    return int(getattr(memory, "kib", 0) or 0)


def _vcpus(dom: Domain) -> int:
    return int(dom.vcpu.count) if dom.vcpu is not None and dom.vcpu.count is not None else 1
