"""Entry point of the ``esx``, ``vpx`` and ``gsx`` drivers and their connection object.

As libvirt's ESX driver, it runs nothing on this host: every call is a
vSphere API call (pyVmomi) to the host or vCenter the URI names, and a
domain's XML is its ``.vmx`` file, downloaded from its datastore and
converted (``pyvirt_esx.vmx_to_xml``), or generated and uploaded at define.
The conversions alone (``domxml-from-native``/``domxml-to-native
vmware-vmx``) need a connection here as in libvirt; without a host they run
through ``python -m pyvirt_esx.vmx``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pyvirt.errors import Error, ErrorCode, ErrorDomain, InvalidArgumentError
from pyvirt.events import EventSink
from pyvirt.plugin import hookimpl
from pyvirt.plugin.bases import HypervisorDriver
from pyvirt.plugin.records import (
    DomainInfo,
    DomainRef,
    NodeInfo,
    SnapshotRef,
)
from pyvirt.uri import URI
from pyvirt_esx.host_objects import HostObjectHooks
from pyvirt_esx.vmomi import vmodl
from pyvirt_esx.vsphere import Session

if TYPE_CHECKING:
    from pyvirt_esx.snapshots import SnapshotTree
    from pyvirt_esx.vmx_context import VmxContext

__all__ = ["EsxConnection", "EsxDriver", "cpu_model_name", "default_hw_version"]

NATIVE_FORMAT = "vmware-vmx"
# characters a datastore file name cannot hold, written as %XX in the VMX file's name (esxUtil_EscapeDatastoreItem)
_UNSAFE_IN_FILE_NAMES = '/\\:*?"<>|'
_POWER_STATES = {"poweredOn": 1, "poweredOff": 5, "suspended": 3}  # virDomainState
_REF_PATHS = ["name", "config.uuid", "runtime.powerState"]
_INFO_PATHS = ["runtime.powerState", "config.hardware.memoryMB", "config.hardware.numCPU",
               "config.memoryAllocation.limit"]  # fmt: skip


def _esx_error(code: ErrorCode, detail: str) -> Error:
    return Error(code, detail, domain=ErrorDomain.ESX)


def default_hw_version(product_version: str) -> int:
    """The virtual hardware version libvirt writes for a host of this product version (esxVI_ProductVersion)."""
    match = re.match(r"(\d+)\.(\d+)", product_version)
    major, minor = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
    table = [((7, 0), 17), ((6, 7), 14), ((6, 5), 13), ((6, 0), 11), ((5, 5), 10), ((5, 1), 9), ((5, 0), 8),
             ((4, 0), 7)]  # fmt: skip
    for (tmajor, tminor), hw in table:
        if (major, minor) >= (tmajor, tminor):
            return hw
    return 4


def cpu_model_name(model: str) -> str:
    """libvirt's esxNodeGetInfo: double blanks, ``(R)``, ``(C)`` and ``(TM)`` dropped, then cut to 31 bytes."""
    out = model
    i = 0
    while i < len(out):
        for token in ("  ", "(R)", "(C)", "(TM)"):
            if out.startswith(token, i):
                out = out[:i] + out[i + (1 if token == "  " else len(token)) :]
                break
        else:
            i += 1
    return out.encode()[:31].decode(errors="ignore")


def _fault_text(fault: Any) -> str:
    """vSphere's own words for a fault (pyVmomi's fault objects carry them in ``msg``)."""
    return str(getattr(fault, "msg", None) or type(fault).__name__)


def _moref_id(vm: Any) -> int:
    digits = re.search(r"(\d+)$", str(vm._moId))
    return int(digits.group(1)) if digits else -1


class EsxConnection(HostObjectHooks):
    """One connection: the domain calls here, the host's storage, networks and interfaces in HostObjectHooks."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # ------------------------------------------------------------------ connection
    @hookimpl
    def connect_close(self) -> None:
        self.session.close()

    @hookimpl
    def connect_get_type(self) -> str:
        return "ESX"

    @hookimpl
    def connect_get_version(self) -> int:
        match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", self.session.about.version or "")
        if match is None:
            return 0
        major, minor, micro = (int(g or 0) for g in match.groups())
        return major * 1_000_000 + minor * 1_000 + micro

    @hookimpl
    def connect_get_hostname(self) -> str:
        return str(self.session.host.name)

    @hookimpl
    def connect_get_capabilities(self) -> str:
        from pyvirt_esx.capabilities import capabilities_xml

        return capabilities_xml(self.session)

    @hookimpl
    def node_get_info(self) -> NodeInfo:
        """esxNodeGetInfo: the host's hardware; CPUs are its cores, the model shortened to fit 31 bytes."""
        hw = self.session.host.hardware
        cpu = hw.cpuInfo
        cores, packages, threads = int(cpu.numCpuCores), int(cpu.numCpuPackages), int(cpu.numCpuThreads)
        return NodeInfo(
            model=cpu_model_name(str(self.session.host.summary.hardware.cpuModel or "")),
            memory_kib=int(hw.memorySize) // 1024,
            cpus=cores,
            mhz=int(cpu.hz) // 1_000_000,
            nodes=int(hw.numaInfo.numNodes) if hw.numaInfo is not None else 0,
            sockets=packages,
            cores=cores // packages if packages > 0 else 0,
            threads=threads // cores if cores > 0 else 0,
        )

    @hookimpl
    def connect_domain_xml_from_native(self, native_format: str, native_config: str) -> str:
        if native_format != NATIVE_FORMAT:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"Unsupported config format '{native_format}'")
        from pyvirt_esx.vmx_to_xml import vmx_to_xml

        # libvirt's esxConnectDomainXMLFromNative: a VMX given alone has no directory; bare file names go to "[?] ?"
        return vmx_to_xml(native_config, self._context("[?] ?"))

    @hookimpl
    def connect_domain_xml_to_native(self, native_format: str, xml: str) -> str:
        if native_format != NATIVE_FORMAT:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"Unsupported config format '{native_format}'")
        from pyvirt_esx.vmx_from_xml import domain_to_vmx, parse_vmware_domain

        dom, _ = parse_vmware_domain(xml)
        return domain_to_vmx(dom, default_hw_version(self.session.about.version or ""), self._context(None))

    # ------------------------------------------------------------------ file names as this host knows them
    def _context(self, vmx_directory: str | None) -> VmxContext:
        """esxParseVMXFileName/esxFormatVMXFileName: absolute paths on the host <-> ``[datastore] path``."""
        from pyvirt_esx.vmx_context import VmxContext

        stores = self.session.datastores()

        def parse(name: str, allow_missing: bool) -> str | None:
            if name.startswith("/"):
                for ds in stores:
                    for prefix in (ds.mount_path, f"/vmfs/volumes/{ds.name}"):
                        if prefix and name.startswith(prefix + "/"):
                            return f"[{ds.name}] {name[len(prefix) + 1 :]}"
                return name
            if "/" in name:
                raise _esx_error(ErrorCode.INTERNAL_ERROR,
                                 f"Found relative path '{name}' in VMX file, this is not supported")  # fmt: skip
            if vmx_directory is None:
                raise _esx_error(ErrorCode.INTERNAL_ERROR, f"Cannot place the file name '{name}' without the "
                                 "datastore directory of the VMX file")  # fmt: skip
            return f"{vmx_directory}/{name}"

        def format_name(src: str) -> str:
            match = re.match(r"^\[([^\]]+)\] *(.*)$", src, re.S)
            if match is None:
                if src.startswith("/"):
                    return src
                raise _esx_error(ErrorCode.INVALID_ARG,
                                 f"Datastore path '{src}' doesn't have expected format '[<datastore>] <path>'")  # fmt: skip
            for ds in stores:
                if ds.name == match.group(1):
                    return f"{ds.mount_path}/{match.group(2)}"
            raise _esx_error(ErrorCode.INTERNAL_ERROR, f"Could not find datastore '{match.group(1)}'")

        return VmxContext(parse_file_name=parse, format_file_name=format_name)

    # ------------------------------------------------------------------ lookups
    # One PropertyCollector call per listing and a SearchIndex lookup per UUID, as libvirt's esxVI_* lookups:
    # pyVmomi's attribute access would cost a round trip per property per VM.
    def _ref_of(self, vm: Any, props: dict[str, Any]) -> DomainRef:
        running = props.get("runtime.powerState") != "poweredOff"
        return DomainRef(str(props["name"]), str(props["config.uuid"]), _moref_id(vm) if running else -1)

    def _listing(self) -> list[tuple[Any, dict[str, Any]]]:
        """(VM, its name, UUID and power state) for every VM with a configuration (a VM being created has none)."""
        return [(vm, p) for vm, p in self.session.vm_table(_REF_PATHS) if p.get("config.uuid")]

    def _ref(self, vm: Any) -> DomainRef:
        return self._ref_of(vm, self.session.properties(vm, _REF_PATHS))

    def _vm_properties(self, dom: DomainRef, paths: list[str]) -> tuple[Any, dict[str, Any]]:
        """The VM of ``dom`` and its properties ``paths``; one call when this connection has already seen the VM.

        A VM's managed object id stays its own while it is registered (ESX
        does not reuse them), so the id a listing found is asked directly; a VM
        unregistered since then is looked up again by UUID, as always.
        """
        known = self.session.known_vm(dom.uuid)
        if known is not None:
            try:
                props = self.session.properties(known, paths)
            except vmodl.fault.ManagedObjectNotFound:
                props = {}
            if props:
                return known, props
            self.session.forget_vm(dom.uuid)
        vm = self._vm(dom)
        return vm, self.session.properties(vm, paths)

    def _vm(self, dom: DomainRef) -> Any:
        vm = self.session.find_vm(dom.uuid)
        if vm is None:
            raise _esx_error(ErrorCode.NO_DOMAIN, f"Could not find domain with UUID '{dom.uuid}'")
        return vm

    @hookimpl
    def domain_list_all(self) -> list[DomainRef]:
        return [self._ref_of(vm, p) for vm, p in self._listing()]

    @hookimpl
    def domain_lookup_by_name(self, name: str) -> DomainRef:
        for vm, props in self._listing():
            if props.get("name") == name:
                return self._ref_of(vm, props)
        raise _esx_error(ErrorCode.NO_DOMAIN, f"Could not find domain with name '{name}'")

    @hookimpl
    def domain_lookup_by_uuid(self, uuid: str) -> DomainRef:
        vm = self.session.find_vm(uuid)
        if vm is None:
            raise _esx_error(ErrorCode.NO_DOMAIN, f"Could not find domain with UUID '{uuid}'")
        return self._ref(vm)

    @hookimpl
    def domain_lookup_by_id(self, id: int) -> DomainRef:
        for vm, props in self._listing():
            if props.get("runtime.powerState") != "poweredOff" and _moref_id(vm) == id:
                return self._ref_of(vm, props)
        raise _esx_error(ErrorCode.NO_DOMAIN, f"Could not find domain with ID {id}")

    # ------------------------------------------------------------------ state and XML
    @hookimpl
    def domain_get_info(self, dom: DomainRef) -> DomainInfo:
        """esxDomainGetInfo: the configured size is the maximum, the memory limit (if any) the current memory."""
        from pyvirt_esx import hardware

        _, props = self._vm_properties(dom, _INFO_PATHS)
        max_kib = int(props["config.hardware.memoryMB"]) * 1024
        return DomainInfo(_POWER_STATES.get(str(props.get("runtime.powerState")), 0), max_kib,
                          hardware.current_memory_kib(max_kib, props.get("config.memoryAllocation.limit")),
                          int(props["config.hardware.numCPU"]), 0)  # fmt: skip

    @hookimpl
    def domain_set_memory(self, dom: DomainRef, memory_kib: int, flags: int) -> None:
        from pyvirt_esx import hardware

        hardware.set_memory(self.session, self._vm(dom), memory_kib, flags)

    @hookimpl
    def domain_set_vcpus(self, dom: DomainRef, count: int, flags: int) -> None:
        from pyvirt_esx import hardware

        hardware.set_vcpus(self.session, self._vm(dom), count, flags)

    @hookimpl
    def domain_get_state(self, dom: DomainRef) -> tuple[int, int]:
        state = self._vm_properties(dom, ["runtime.powerState"])[1].get("runtime.powerState")
        return _POWER_STATES.get(str(state), 0), 0

    @hookimpl
    def domain_get_os_type(self, dom: DomainRef) -> str:
        """Every VM on these hosts is a full virtual machine: libvirt's esxDomainGetOSType answers without asking."""
        return "hvm"

    @hookimpl
    def domain_get_flags(self, dom: DomainRef) -> dict[str, bool]:
        """A registered VM is always persistent; autostart is the host's auto-start manager's setting for it."""
        vm, props = self._vm_properties(dom, ["runtime.powerState", "rootSnapshot", "config.uuid"])
        return {
            "persistent": True,
            "active": props.get("runtime.powerState") != "poweredOff",
            "autostart": self._autostart(vm),
            "managed_save": False,  # no managed save on these hosts (libvirt's driver has none either)
            "has_snapshot": bool(props.get("rootSnapshot")),
            "updated": False,
        }

    def _autostart(self, vm: Any) -> bool:
        session = self.session
        manager = session.properties(session.host, ["configManager.autoStartManager"]).get(
            "configManager.autoStartManager"
        )
        try:
            config = session.properties(manager, ["config"]).get("config") if manager is not None else None
        except vmodl.fault.ManagedObjectNotFound:
            return False  # a host without an auto-start manager (vcsim 0.24 has none) starts nothing by itself
        if config is None or config.defaults is None or not config.defaults.enabled:
            return False
        return any(info.key == vm and info.startAction == "powerOn" for info in config.powerInfo or [])

    @staticmethod
    def _split_datastore_path(path: str) -> tuple[str, str]:
        match = re.match(r"^\[([^\]]+)\] *(.*)$", path, re.S)
        if match is None:
            raise _esx_error(ErrorCode.INVALID_ARG,
                             f"Datastore path '{path}' doesn't have expected format '[<datastore>] <path>'")  # fmt: skip
        return match.group(1), match.group(2)

    @hookimpl
    def domain_get_xml_desc(self, dom: DomainRef, flags: int) -> str:
        from pyvirt.conf.domain import VIR_DOMAIN_XML_SECURE, format_domain
        from pyvirt_esx.vmx_context import VmxContext
        from pyvirt_esx.vmx_to_xml import vmx_to_domain, with_vmware_metadata

        vm = self._vm(dom)
        vmx_path = str(vm.config.files.vmPathName)
        datastore, path = self._split_datastore_path(vmx_path)
        directory = path.rsplit("/", 1)[0] if "/" in path else ""
        data = self.session.download(datastore, path)
        model = vmx_to_domain(data, self._context(f"[{datastore}] {directory}".rstrip()))
        # the host's own name and UUID for the VM are the ones every lookup uses
        model.name, model.uuid = str(vm.name), str(vm.config.uuid)
        running = vm.runtime.powerState != "poweredOff"
        xml = format_domain(model, flags & VIR_DOMAIN_XML_SECURE, domain_id=_moref_id(vm) if running else -1)
        # esxDomainGetXMLDesc ends it with the datacenter and the VM's managed object id, in libvirt's namespace
        where = VmxContext(datacenter_path=str(self.session.datacenter.name), moref=str(vm._moId))
        return with_vmware_metadata(xml, where)

    # ------------------------------------------------------------------ definitions
    @hookimpl
    def domain_define_xml(self, xml: str, flags: int) -> DomainRef:
        from pyvirt_esx.vmx_file import escape_hex
        from pyvirt_esx.vmx_from_xml import domain_to_vmx, parse_vmware_domain

        dom, _ = parse_vmware_domain(xml)
        for _, props in self._listing():
            if props["config.uuid"] == dom.uuid or props.get("name") == dom.name:
                raise _esx_error(ErrorCode.OPERATION_INVALID,
                                 "Domain already exists, editing existing domains is not supported yet")  # fmt: skip
        assert dom.devices is not None
        source = next((d.source_file for d in dom.devices.disks
                       if d.device == "disk" and (d.type or "file") == "file" and d.source_file), None)  # fmt: skip
        if source is None:
            raise _esx_error(ErrorCode.INTERNAL_ERROR, "Domain XML doesn't contain any file-based harddisks, cannot "
                             "deduce datastore and path for VMX file")  # fmt: skip
        datastore, disk_path = self._split_datastore_path(source)
        directory = disk_path.rsplit("/", 1)[0] if "/" in disk_path else ""
        if not directory:
            raise _esx_error(ErrorCode.INTERNAL_ERROR, "Cannot deduce the directory of the VMX file from "
                             f"'{source}'")  # fmt: skip
        vmx = domain_to_vmx(dom, default_hw_version(self.session.about.version or ""), self._context(None))
        file_name = f"{directory}/{escape_hex(dom.name or '', '%', _UNSAFE_IN_FILE_NAMES)}.vmx"
        self.session.upload(datastore, file_name, vmx.encode())
        datastore_path = f"[{datastore}] {file_name}"
        try:
            host = self.session.host
            task = self.session.vm_folder.RegisterVM_Task(
                path=datastore_path, name=dom.name, asTemplate=False, pool=host.parent.resourcePool, host=host
            )
            vm = self.session.wait(task, "Could not define domain")
        except (Error, vmodl.MethodFault) as err:
            self.session.delete_file(datastore_path)  # what the define uploaded does not outlive it
            if isinstance(err, Error):
                raise
            raise _esx_error(ErrorCode.OPERATION_FAILED, f"Could not define domain: {_fault_text(err)}") from None
        return self._ref(vm)

    @hookimpl
    def domain_undefine(self, dom: DomainRef, flags: int) -> None:
        vm = self._vm(dom)
        if vm.runtime.powerState != "poweredOff":
            raise _esx_error(ErrorCode.OPERATION_INVALID, "Domain is not suspended or powered off")
        vm.UnregisterVM()

    # ------------------------------------------------------------------ power
    def _power(self, dom: DomainRef, allowed: tuple[str, ...], refusal: str, action: str) -> None:
        vm = self._vm(dom)
        if vm.runtime.powerState not in allowed:
            raise _esx_error(ErrorCode.OPERATION_INVALID, refusal)
        try:
            if action == "on":
                self.session.wait(vm.PowerOnVM_Task(), "Could not start domain")
            elif action == "off":
                self.session.wait(vm.PowerOffVM_Task(), "Could not destroy domain")
            elif action == "suspend":
                self.session.wait(vm.SuspendVM_Task(), "Could not suspend domain")
            elif action == "reset":
                self.session.wait(vm.ResetVM_Task(), "Could not reset domain")
            elif action == "shutdown":
                vm.ShutdownGuest()
            elif action == "reboot":
                vm.RebootGuest()
        except vmodl.MethodFault as err:
            raise _esx_error(ErrorCode.OPERATION_FAILED, f"Could not {action} domain: {_fault_text(err)}") from None

    @hookimpl
    def domain_create(self, dom: DomainRef, flags: int) -> None:
        self._power(dom, ("poweredOff",), "Domain is not powered off", "on")

    @hookimpl
    def domain_destroy(self, dom: DomainRef, flags: int) -> None:
        self._power(dom, ("poweredOn", "suspended"), "Domain is not powered on", "off")

    @hookimpl
    def domain_shutdown(self, dom: DomainRef, flags: int) -> None:
        self._power(dom, ("poweredOn",), "Domain is not powered on", "shutdown")

    @hookimpl
    def domain_reboot(self, dom: DomainRef, flags: int) -> None:
        self._power(dom, ("poweredOn",), "Domain is not powered on", "reboot")

    @hookimpl
    def domain_suspend(self, dom: DomainRef) -> None:
        self._power(dom, ("poweredOn",), "Domain is not powered on", "suspend")

    @hookimpl
    def domain_resume(self, dom: DomainRef) -> None:
        self._power(dom, ("suspended",), "Domain is not suspended", "on")

    # ------------------------------------------------------------------ snapshots
    def _snapshots(self, dom: DomainRef) -> SnapshotTree:
        from pyvirt_esx.snapshots import SnapshotTree

        return SnapshotTree(self.session, self._vm(dom))

    @hookimpl
    def snapshot_create_xml(self, dom: DomainRef, xml: str, flags: int) -> SnapshotRef:
        return SnapshotRef(dom, self._snapshots(dom).create(xml, flags))

    @hookimpl
    def snapshot_list_names(self, dom: DomainRef, flags: int) -> list[str]:
        return self._snapshots(dom).names(flags)

    @hookimpl
    def snapshot_lookup_by_name(self, dom: DomainRef, name: str) -> SnapshotRef:
        self._snapshots(dom).find(name)
        return SnapshotRef(dom, name)

    @hookimpl
    def snapshot_current(self, dom: DomainRef) -> SnapshotRef:
        return SnapshotRef(dom, self._snapshots(dom).current_name())

    @hookimpl
    def snapshot_get_xml_desc(self, snap: SnapshotRef, flags: int) -> str:
        return self._snapshots(snap.domain).xml(snap.name, snap.domain.uuid)

    @hookimpl
    def snapshot_get_parent(self, snap: SnapshotRef) -> SnapshotRef:
        return SnapshotRef(snap.domain, self._snapshots(snap.domain).parent_name(snap.name))

    @hookimpl
    def snapshot_revert(self, snap: SnapshotRef, flags: int) -> None:
        self._snapshots(snap.domain).revert(snap.name, flags)

    @hookimpl
    def snapshot_delete(self, snap: SnapshotRef, flags: int) -> None:
        self._snapshots(snap.domain).delete(snap.name, flags)


class EsxDriver(HypervisorDriver):
    """The object behind the ``esx``, ``vpx`` and ``gsx`` entry points (one driver, as in libvirt)."""

    pyvirt_contract = "1.11"  # 1.11: volume_create_xml_from, volume_wipe
    name = "esx"

    @hookimpl
    def connect_open(self, uri: URI, read_only: bool, events: EventSink) -> Any:
        if uri.driver not in ("esx", "vpx", "gsx"):
            return None
        return EsxConnection(Session(uri))
