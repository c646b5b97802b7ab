"""Renaming an inactive QEMU domain as libvirt's qemuDomainRename does: same UUID, files under the new name.

libvirt writes the definition under the new name, points a new autostart
link at it, rewrites the snapshot and checkpoint metadata in the new name's directory and
then removes the old name's files; on a failure the old name keeps its files.
"""

from __future__ import annotations

import contextlib
import os
import shutil

from pyvirt.errors import ErrorCode, OperationInvalidError, SystemCallError, XMLError
from pyvirt_qemu.state import DomainObj, QemuState

__all__ = ["rename_domain"]


def _check(state: QemuState, obj: DomainObj, new_name: str) -> None:
    """The refusals of qemuDomainRename and virDomainObjListRename, in their order."""
    if obj.active:
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "cannot rename active domain")
    if not obj.persistent:
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "cannot rename a transient domain")
    if os.path.exists(state.paths.managed_save(obj.name)):
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain with a managed saved state can't be renamed")
    if obj.name == new_name:
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "Can't rename domain to itself")
    if new_name in state.by_name:
        raise OperationInvalidError(ErrorCode.OPERATION_INVALID, f"domain with name '{new_name}' already exists")
    if "/" in new_name:
        raise XMLError(ErrorCode.XML_ERROR, f"name {new_name} cannot contain '/'")


def _metadata_dirs(state: QemuState, name: str) -> list[str]:
    """Where the name's snapshot and checkpoint documents live (libvirt's snapshotDir and checkpointDir)."""
    return [os.path.join(state.paths.lib, kind, name) for kind in ("snapshot", "checkpoint")]


def _remove_name(state: QemuState, name: str) -> None:
    """qemuDomainNamePathsCleanup: the files a name owns (stale leftovers under a new name, or the old ones)."""
    for path in (state.paths.config_xml(name), state.paths.autostart_link(name)):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    for path in _metadata_dirs(state, name):
        shutil.rmtree(path, ignore_errors=True)


def rename_domain(state: QemuState, obj: DomainObj, new_name: str) -> None:
    """Rename ``obj`` (call with the domain's job and ``state.lock`` held); events are the caller's."""
    _check(state, obj, new_name)
    old_name = obj.name
    _remove_name(state, new_name)
    try:
        if obj.autostart:
            os.symlink(state.paths.config_xml(new_name), state.paths.autostart_link(new_name))
        for old_dir, new_dir in zip(_metadata_dirs(state, old_name), _metadata_dirs(state, new_name), strict=True):
            if os.path.isdir(old_dir):
                shutil.copytree(old_dir, new_dir)
        obj.live.name = new_name
        state.save_config(obj.live)
    except OSError as exc:
        obj.live.name = old_name
        _remove_name(state, new_name)
        raise SystemCallError(exc.errno or 0, f"cannot rename domain '{old_name}' to '{new_name}'") from exc
    except BaseException:
        obj.live.name = old_name
        _remove_name(state, new_name)
        raise
    state.by_name.pop(old_name, None)
    state.by_name[new_name] = obj
    _remove_name(state, old_name)
