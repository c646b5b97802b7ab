"""Guest file system hooks of the test driver: libvirt 9.0's testDomainGetFSInfo, FSFreeze, FSThaw, FSTrim.

libvirt's test driver has no guest agent to ask; it answers as if the
running guest's first disk (``device='disk'``) held two ext4 file systems,
``/`` (partition 1) and ``/boot`` (partition 2), and keeps, per domain,
which of the two are frozen (testDomainObjPrivate.frozen, never reset: a
domain restarted while frozen stays frozen). Every other mount point is
refused as the agent would refuse it. Scripts that freeze before a backup
on ``test:///default`` see the same counts here.
"""

from __future__ import annotations

import pyvirt.errors as _errors
from pyvirt.drivers.test.marker import hookimpl
from pyvirt.drivers.test.state import DomainObj, TestState
from pyvirt.errors import ErrorCode, ErrorDomain
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import DomainRef, FSInfo

__all__ = ["GuestFSHooks"]

_MOUNTPOINTS = ("/", "/boot")  # the order of testDomainObjPrivate.frozen


def _not_found(mountpoint: str) -> _errors.OperationInvalidError:
    return _errors.OperationInvalidError(ErrorCode.OPERATION_INVALID, f"mount point not found: {mountpoint}")


class GuestFSHooks:
    """Mixed into the test connection; ``self.state`` comes from it."""

    state: TestState

    def _running_obj(self, dom: DomainRef) -> DomainObj:
        """testDomObjFromDomain, then virDomainObjCheckActive."""
        obj = self.state.find(dom)
        if not obj.active:
            raise _errors.OperationInvalidError(
                ErrorCode.OPERATION_INVALID, "domain is not running", domain=ErrorDomain.DOMAIN
            )
        return obj

    @hookimpl
    def domain_get_fs_info(self, dom: DomainRef, flags: int) -> list[FSInfo]:
        """testDomainGetFSInfo: ``/`` and ``/boot`` on the first disk of the running definition, else nothing."""
        check_flags(flags, 0, "testDomainGetFSInfo")
        with self.state.lock:
            live = self._running_obj(dom).live
            for disk in live.devices.disks if live.devices is not None else []:
                if (disk.device or "disk") == "disk":
                    name = disk.target_dev or ""
                    return [FSInfo("/", f"{name}1", "ext4", [name]), FSInfo("/boot", f"{name}2", "ext4", [name])]
            return []

    def _change(self, dom: DomainRef, mountpoints: list[str], frozen: bool) -> int:
        """testDomainFSFreeze / testDomainFSThaw: how many of the named (or all) changed; unknown names refused
        before anything changes."""
        with self.state.lock:
            obj = self._running_obj(dom)
            if not mountpoints:
                changed = sum(state != frozen for state in obj.frozen)
                obj.frozen = [frozen, frozen]
                return changed
            states = list(obj.frozen)
            changed = 0
            for mountpoint in mountpoints:
                if mountpoint not in _MOUNTPOINTS:
                    raise _not_found(mountpoint)
                i = _MOUNTPOINTS.index(mountpoint)
                if states[i] != frozen:
                    states[i] = frozen
                    changed += 1
            obj.frozen = states
            return changed

    @hookimpl
    def domain_fs_freeze(self, dom: DomainRef, mountpoints: list[str], flags: int) -> int:
        check_flags(flags, 0, "testDomainFSFreeze")
        return self._change(dom, mountpoints, True)

    @hookimpl
    def domain_fs_thaw(self, dom: DomainRef, mountpoints: list[str], flags: int) -> int:
        check_flags(flags, 0, "testDomainFSThaw")
        return self._change(dom, mountpoints, False)

    @hookimpl
    def domain_fs_trim(self, dom: DomainRef, mountpoint: str | None, minimum: int, flags: int) -> None:
        """testDomainFSTrim: nothing to trim; only the two known mount points (or all) are accepted."""
        check_flags(flags, 0, "testDomainFSTrim")
        with self.state.lock:
            self._running_obj(dom)
            if mountpoint is not None and mountpoint not in _MOUNTPOINTS:
                raise _not_found(mountpoint)
