"""Save and restore in libvirt's libxl image format, through ``xl save`` and ``xl restore``.

libvirt's libxl driver writes a 64-byte header (``"libvirt-xml\\n \\0 \\r"``,
version 2, the XML's length), the domain XML (NUL-terminated), then the
libxl migration stream (v2) ``libxl_domain_suspend`` produces. xl writes
the same stream behind its own header (``"Xen saved domain, xl format..."``,
flags, optional data holding its configuration). So a save runs
``xl save`` into a temporary file and rewrites it with libvirt's header and
XML in front of the stream; a restore builds xl's header (stream v2, no
embedded configuration) in front of the image's stream and runs
``xl restore`` with the xl.cfg generated from the image's XML. An image is
laid out as libvirt's driver lays it out (exchanging images with libvirt
itself is not tested: its libxl driver does not run here).
The temporary files sit in the driver's ``lib/save`` directory and are
removed whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import struct
from typing import BinaryIO

from pyvirt.conf.domain import format_domain
from pyvirt.domain_state import DomainState, PausedReason, RunningReason, ShutoffReason
from pyvirt.errors import (
    ErrorCode,
    InvalidArgumentError,
    OperationFailedError,
    OperationInvalidError,
    SystemCallError,
)
from pyvirt.events import DomainEvent, Started, Stopped, Suspended
from pyvirt.flags import DomainCreateFlags, DomainSaveRestoreFlags
from pyvirt.local_driver.domain_table import DomainObj
from pyvirt.local_driver.status_file import atomic_write
from pyvirt.plugin.flags import check_flags
from pyvirt_xen.labels import hand_over, label_guest, unlabel_guest
from pyvirt_xen.lifecycle import audit_start, config_path, record_stopped, watch_releases, write_status_file
from pyvirt_xen.state import XenState, parse_xen_domain
from pyvirt_xen.to_native import domain_xml_to_xl
from pyvirt_xen.xl import XlError, require_xl, run_xl

__all__ = ["LIBXL_SAVE_MAGIC", "restore", "save"]

LIBXL_SAVE_MAGIC = b"libvirt-xml\n \0 \r"
LIBXL_SAVE_VERSION = 2
# libxlSavefileHeader: magic, version, xmlLen, 10 unused words (64 bytes, host byte order)
LIBXL_HEADER = struct.Struct("=16sII40x")
# xl's save_file_header: magic, byteorder, mandatory flags, optional flags, optional data length
XL_MAGIC = b"Xen saved domain, xl format\n \0 \r"
XL_HEADER = struct.Struct("=32sIIII")
XL_BYTEORDER = 0x01020304
XL_MANDATORY_FLAG_STREAMV2 = 1 << 1
SAVE_PAUSED = DomainSaveRestoreFlags.PAUSED
SAVE_PAUSED_START = DomainCreateFlags.START_PAUSED


def _no_xml(xml: str | None) -> None:
    if xml is not None:
        raise InvalidArgumentError(ErrorCode.ARGUMENT_UNSUPPORTED, "xml modification unsupported")


def _temporary(state: XenState, name: str, what: str) -> str:
    return os.path.join(state.paths.lib, "save", f".{what}-{os.getpid()}-{name}")


def save(state: XenState, obj: DomainObj, path: str, xml: str | None, flags: int) -> None:
    """libxlDomainSaveFlags: the guest's state to ``path``; the guest stops (STOPPED SAVED)."""
    check_flags(flags, 0, "libxlDomainSaveFlags")
    _no_xml(xml)
    _save(state, obj, path)


def managed_save(state: XenState, obj: DomainObj, flags: int) -> None:
    """libxlDomainManagedSave: a persistent guest saved to the driver's own file, restored by its next start."""
    check_flags(flags, 0, "libxlDomainManagedSave")
    if obj.active and not obj.persistent:
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "cannot do managed save for transient domain")
    _save(state, obj, state.paths.managed_save(obj.name))


def has_managed_save(state: XenState, obj: DomainObj) -> bool:
    return os.path.exists(state.paths.managed_save(obj.name))


def managed_save_remove(state: XenState, obj: DomainObj, flags: int) -> None:
    """libxlDomainManagedSaveRemove: the next start boots afresh (no image is no error here; libvirt's
    driver returns -1 without an error message then, which callers cannot tell from a failure)."""
    check_flags(flags, 0, "libxlDomainManagedSaveRemove")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(state.paths.managed_save(obj.name))


def start_from_managed_save(state: XenState, obj: DomainObj, flags: int) -> bool:
    """libxlDomainStartNew's first half: a managed save image, when there is one, is restored instead of a boot.

    The image is removed once the guest runs from it (libvirt removes it as
    soon as it is read; keeping it until the restore succeeded loses nothing
    when xl fails). False when there is no image: the caller boots the guest.
    """
    check_flags(flags, SAVE_PAUSED_START, "libxlDomainCreateWithFlags")
    path = state.paths.managed_save(obj.name)
    if not os.path.exists(path):
        return False
    image, image_xml, version = _read_image(path)
    with image:
        dom = parse_xen_domain(image_xml)
        if dom.name != obj.name or dom.uuid != obj.uuid:
            raise OperationFailedError(
                ErrorCode.OPERATION_FAILED,
                f"cannot restore domain '{obj.name}' uuid {obj.uuid} from a file which belongs to domain "
                f"'{dom.name}' uuid {dom.uuid}",
            )
        with obj.lock:
            if obj.active:
                raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "Domain is already running")
            obj.config, obj.live = obj.live, dom
            _restore_into(state, obj, image, version, paused=bool(flags & SAVE_PAUSED_START))
    os.unlink(path)
    state.emit(obj, DomainEvent.STARTED, Started.RESTORED)
    if flags & SAVE_PAUSED_START:
        state.emit(obj, DomainEvent.SUSPENDED, Suspended.PAUSED)
    return True


def _save(state: XenState, obj: DomainObj, path: str) -> None:
    with obj.lock:
        if not obj.active:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not running")
        if obj.state == DomainState.PAUSED:
            raise OperationInvalidError(
                ErrorCode.OPERATION_INVALID,
                f"Domain '{obj.id}' has to be running because libxenlight will suspend it",
            )
        image_xml = format_domain(obj.live, 0, domain_id=obj.id).encode() + b"\0"
        try:
            out = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise SystemCallError(exc.errno or 0, f"Failed to create domain save file '{path}'") from exc
        tmp = _temporary(state, obj.name, "save")
        try:
            with os.fdopen(out, "wb") as image:
                image.write(LIBXL_HEADER.pack(LIBXL_SAVE_MAGIC, LIBXL_SAVE_VERSION, len(image_xml)))
                image.write(image_xml)
                # xl suspends, writes, then destroys the guest; on failure it resumes it
                run_xl("save", str(obj.id), tmp, failure=f"Failed to save domain '{obj.id}' with libxenlight")
                with open(tmp, "rb") as stream:
                    _skip_xl_header(stream, tmp)
                    shutil.copyfileobj(stream, image, 1 << 20)
                image.flush()
                os.fsync(image.fileno())
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            raise
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        record_stopped(state, obj, ShutoffReason.SAVED)
    state.emit(obj, DomainEvent.STOPPED, Stopped.SAVED)


def _skip_xl_header(stream: BinaryIO, name: str) -> None:
    head = stream.read(XL_HEADER.size)
    if len(head) != XL_HEADER.size or XL_HEADER.unpack(head)[0] != XL_MAGIC:
        raise XlError("xl wrote a save file pyvirt cannot read", name)
    _magic, _order, _mandatory, _optional, optional_len = XL_HEADER.unpack(head)
    stream.seek(optional_len, os.SEEK_CUR)


def _read_image(path: str) -> tuple[BinaryIO, str, int]:
    """libxlDomainSaveImageOpen: the open image (at the stream), its XML, its version; libvirt's errors."""
    try:
        image = open(path, "rb")  # noqa: SIM115 - returned open to the caller
    except OSError as exc:
        raise SystemCallError(exc.errno or 0, f"Failed to open domain image file '{path}'") from exc
    try:
        head = image.read(LIBXL_HEADER.size)
        if len(head) != LIBXL_HEADER.size:
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, "failed to read libxl header")
        magic, version, xml_len = LIBXL_HEADER.unpack(head)
        if magic != LIBXL_SAVE_MAGIC:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, "image magic is incorrect")
        if version > LIBXL_SAVE_VERSION:
            raise OperationFailedError(
                ErrorCode.OPERATION_FAILED, f"image version is not supported ({version} > {LIBXL_SAVE_VERSION})"
            )
        if xml_len <= 0 or xml_len > 10 * 1024 * 1024:
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"invalid XML length: {xml_len}")
        xml = image.read(xml_len)
        if len(xml) != xml_len:
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, "failed to read XML")
        return image, xml.rstrip(b"\0").decode(), version
    except BaseException:
        image.close()
        raise


def restore(state: XenState, path: str, xml: str | None, flags: int) -> DomainObj:
    """libxlDomainRestoreFlags: the guest an image holds, running (or paused) again (STARTED RESTORED)."""
    check_flags(flags, SAVE_PAUSED, "libxlDomainRestoreFlags")
    _no_xml(xml)
    image, image_xml, version = _read_image(path)
    with image:
        dom = parse_xen_domain(image_xml)
        with state.lock:  # a defined guest keeps its definition (add_definition); the image's XML runs
            obj, added = state.add_definition(dom, live=True)
        try:
            with obj.lock:
                _restore_into(state, obj, image, version, paused=bool(flags & SAVE_PAUSED))
        except BaseException:
            state.undo_add_definition(obj, added)
            raise
    state.emit(obj, DomainEvent.STARTED, Started.RESTORED)
    if flags & SAVE_PAUSED:
        state.emit(obj, DomainEvent.SUSPENDED, Suspended.PAUSED)
    return obj


def _restore_into(state: XenState, obj: DomainObj, image: BinaryIO, version: int, *, paused: bool) -> None:
    cfg = config_path(state, obj.name)
    atomic_write(cfg, domain_xml_to_xl(format_domain(obj.live, 2)).encode(), 0o600)
    tmp = _temporary(state, obj.name, "restore")
    failure = f"libxenlight failed to restore domain '{obj.name}'"
    labelled = False
    try:
        require_xl()
        label_guest(state, obj.live)
        labelled = True
        with open(tmp, "wb") as stream:
            mandatory = XL_MANDATORY_FLAG_STREAMV2 if version >= 2 else 0
            stream.write(XL_HEADER.pack(XL_MAGIC, XL_BYTEORDER, mandatory, 0, 0))
            shutil.copyfileobj(image, stream, 1 << 20)
        run_xl("restore", *(["-p"] if paused else []), cfg, tmp, failure=failure)
        domid = int(run_xl("domid", obj.name, failure=failure).strip())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(cfg)
        if labelled:
            unlabel_guest(state, obj.live)
        audit_start(state, obj, "restored", False)
        if obj.config is not None:  # not started: the definition is the domain again
            obj.live, obj.config = obj.config, None
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    hand_over(state, obj.live, cfg)
    obj.id = domid
    if paused:
        obj.state, obj.reason = DomainState.PAUSED, PausedReason.USER
    else:
        obj.state, obj.reason = DomainState.RUNNING, RunningReason.RESTORED
    write_status_file(state, obj)
    audit_start(state, obj, "restored", True)
    watch_releases(state)
