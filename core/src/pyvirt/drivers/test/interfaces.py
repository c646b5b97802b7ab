"""Host interface changes of the test driver: libvirt 9.0's testInterfaceDefineXML, Undefine, Create,
Destroy and the change transaction (testInterfaceChangeBegin/Commit/Rollback).

The transaction is libvirt's: begin saves a copy of every interface's
definition (virInterfaceObjListClone, which formats and re-parses each),
commit drops it, rollback puts the copy in place. The copy keeps
definitions only, so after a rollback every interface is inactive, as on
libvirt's test driver; scripts that check ``iface-list --all`` after
``iface-rollback`` see the same here.
"""

from __future__ import annotations

import pyvirt.errors as _errors
from pyvirt.drivers.test.marker import hookimpl
from pyvirt.drivers.test.state import InterfaceObj, TestState
from pyvirt.errors import ErrorCode, ErrorDomain
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import InterfaceRef

__all__ = ["InterfaceHooks"]

_VIR_INTERFACE_DEFINE_VALIDATE = 1


def _invalid(detail: str | None = None) -> _errors.OperationInvalidError:
    return _errors.OperationInvalidError(ErrorCode.OPERATION_INVALID, detail)


class InterfaceHooks:
    """Mixed into the test connection; ``self.state`` comes from it."""

    state: TestState

    def _iface(self, name: str) -> InterfaceObj:
        """testInterfaceObjFindByName."""
        obj = self.state.interfaces.get(name)
        if obj is None:
            raise _errors.NotFoundError(
                ErrorCode.NO_INTERFACE, f"no interface with matching name '{name}'", domain=ErrorDomain.INTERFACE
            )
        return obj

    @hookimpl
    def interface_define_xml(self, xml: str, flags: int) -> InterfaceRef:
        """testInterfaceDefineXML: a new interface is inactive; one of the same name gets the new definition and
        keeps its state (virInterfaceObjListAssignDef)."""
        from pyvirt.conf.interface import parse_interface

        check_flags(flags, _VIR_INTERFACE_DEFINE_VALIDATE, "testInterfaceDefineXML")
        if flags & _VIR_INTERFACE_DEFINE_VALIDATE:
            from pyvirt.conf.schema import validate  # lxml's RelaxNG only when asked for

            validate(xml, "interface")
        defn = parse_interface(xml)
        name = defn.name or ""
        with self.state.lock:
            interfaces = self.state.interfaces
            obj = interfaces.get(name)
            if obj is None:
                obj = interfaces[name] = InterfaceObj(defn, active=False)
            else:
                obj.defn = defn
            return InterfaceRef(name, obj.mac)

    @hookimpl
    def interface_undefine(self, iface: InterfaceRef) -> None:
        """testInterfaceUndefine: gone, whatever its state."""
        with self.state.lock:
            self._iface(iface.name)
            del self.state.interfaces[iface.name]

    @hookimpl
    def interface_create(self, iface: InterfaceRef, flags: int) -> None:
        """testInterfaceCreate: an active interface is refused with libvirt's bare "not valid"."""
        check_flags(flags, 0, "testInterfaceCreate")
        with self.state.lock:
            obj = self._iface(iface.name)
            if obj.active:
                raise _invalid()
            obj.active = True

    @hookimpl
    def interface_destroy(self, iface: InterfaceRef, flags: int) -> None:
        """testInterfaceDestroy: an inactive interface is refused with libvirt's bare "not valid"."""
        check_flags(flags, 0, "testInterfaceDestroy")
        with self.state.lock:
            obj = self._iface(iface.name)
            if not obj.active:
                raise _invalid()
            obj.active = False

    @hookimpl
    def interface_change_begin(self, flags: int) -> None:
        check_flags(flags, 0, "testInterfaceChangeBegin")
        with self.state.lock:
            if self.state.interface_backup is not None:
                raise _invalid("there is another transaction running.")
            self.state.interface_backup = {
                name: obj.defn.model_copy(deep=True) for name, obj in self.state.interfaces.items()
            }

    @hookimpl
    def interface_change_commit(self, flags: int) -> None:
        check_flags(flags, 0, "testInterfaceChangeCommit")
        with self.state.lock:
            if self.state.interface_backup is None:
                raise _invalid("no transaction running, nothing to be committed.")
            self.state.interface_backup = None

    @hookimpl
    def interface_change_rollback(self, flags: int) -> None:
        check_flags(flags, 0, "testInterfaceChangeRollback")
        with self.state.lock:
            backup = self.state.interface_backup
            if backup is None:
                raise _invalid("no transaction running, nothing to rollback.")
            interfaces = self.state.interfaces
            interfaces.clear()
            interfaces.update((name, InterfaceObj(defn, active=False)) for name, defn in backup.items())
            self.state.interface_backup = None
