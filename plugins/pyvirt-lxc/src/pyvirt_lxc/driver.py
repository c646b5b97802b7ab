"""Entry point of the ``lxc`` driver and its connection object (hooks delegate to state/process)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
from typing import Any

from pyvirt.conf.domain import Domain, format_domain, parse_domain
from pyvirt.domain_state import DomainState, PausedReason, RunningReason
from pyvirt.errors import (
    ErrorCode,
    ErrorDomain,
    InvalidArgumentError,
    OperationFailedError,
    OperationInvalidError,
    XMLError,
)
from pyvirt.events import Defined, DomainEvent, EventSink, Resumed, Started, Suspended
from pyvirt.flags import (
    DomainConsoleFlags,
    DomainCreateFlags,
    DomainDefineFlags,
    DomainRebootFlags,
    DomainShutdownFlags,
    DomainXMLFlags,
)
from pyvirt.local_driver.domain_jobs import Job
from pyvirt.local_driver.host_memory import HostMemoryHooks
from pyvirt.local_driver.interface_addresses import interface_addresses
from pyvirt.local_driver.network_nics import resolve_network_nics
from pyvirt.local_driver.paths import paths_for_uri
from pyvirt.plugin import hookimpl
from pyvirt.plugin.bases import HypervisorDriver
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import DomainInfo, DomainRef, InterfaceAddresses, NodeInfo, SecurityLabel
from pyvirt.security.stack import load_security_stack
from pyvirt.uri import URI
from pyvirt.util.host_topology import node_info
from pyvirt_lxc.autostart import LxcStateHooks
from pyvirt_lxc.cgroups import ContainerCgroup
from pyvirt_lxc.container_config import apply_defaults, build_spec, limits_of
from pyvirt_lxc.driver_config import load_lxc_settings
from pyvirt_lxc.host_validate import LxcHostChecks
from pyvirt_lxc.namespaces import NamespaceHooks
from pyvirt_lxc.process import start_container
from pyvirt_lxc.state import DomainObj, LxcState

__all__ = ["LxcConnection", "LxcDriver"]

_states: dict[str, LxcState] = {}
_states_lock = threading.Lock()


def _check_name(dom: Domain) -> None:
    """libvirt's LXC driver refuses a newline in a container's name, with libvirt's words.

    The name becomes the cgroup directories, the run files and the
    hostname; cgroupfs refuses a newline (EINVAL) only once half of the
    start is done. libvirt checks at define (``lxcDomainDefineXMLFlags``);
    ``create`` checks the same, before anything exists.
    """
    if "\n" in (dom.name or ""):
        raise XMLError(ErrorCode.XML_DETAIL, "invalid char in name: \n", domain=ErrorDomain.XML)


class LxcConnection(HostMemoryHooks, NamespaceHooks):
    host_memory_function_prefix = "lxc"  # lxcNodeAllocPages, in its flag error

    def __init__(self, uri: URI, state: LxcState, events: EventSink, key: str) -> None:
        self.uri = uri
        self.state = state
        self.events = events
        self._key = key
        state.sinks.append(events)

    # ------------------------------------------------------------------ connection
    @hookimpl
    def connect_close(self) -> None:
        with _states_lock:
            self.state.sinks.remove(self.events)
            self.state.refs -= 1
            last = self.state.refs == 0
            if last:
                _states.pop(self._key, None)
        if last:
            self.state.close()  # containers keep running: their controllers own them

    @hookimpl
    def connect_get_type(self) -> str:
        return "LXC"

    @hookimpl
    def connect_get_version(self) -> int:
        """The kernel's version, as libvirt's LXC driver reports it (major * 1,000,000 + minor * 1,000 + micro)."""
        parts = [int("".join(c for c in p if c.isdigit()) or 0) for p in os.uname().release.split("-")[0].split(".")]
        major, minor, micro = [*parts, 0, 0, 0][:3]
        return major * 1_000_000 + minor * 1_000 + micro

    @hookimpl
    def connect_get_hostname(self) -> str:
        return socket.gethostname()

    @hookimpl
    def node_get_info(self) -> NodeInfo:
        return node_info()

    @hookimpl
    def connect_domain_xml_from_native(self, native_format: str, native_config: str) -> str:
        if native_format != "lxc-tools":
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"unsupported config type {native_format}")
        from pyvirt_lxc.native_config import lxc_config_to_xml

        return lxc_config_to_xml(native_config)

    # ------------------------------------------------------------------ lookups
    @hookimpl
    def domain_list_all(self) -> list[DomainRef]:
        return self.state.list_all()

    @hookimpl
    def domain_lookup_by_name(self, name: str) -> DomainRef:
        return self.state.lookup_by_name(name)

    @hookimpl
    def domain_lookup_by_uuid(self, uuid: str) -> DomainRef:
        return self.state.lookup_by_uuid(uuid)

    @hookimpl
    def domain_lookup_by_id(self, id: int) -> DomainRef:
        return self.state.lookup_by_id(id)

    # ------------------------------------------------------------------ definitions
    @hookimpl
    def domain_define_xml(self, xml: str, flags: int) -> DomainRef:
        check_flags(flags, DomainDefineFlags.VALIDATE, "lxcDomainDefineXMLFlags")
        dom = apply_defaults(parse_domain(xml))
        _check_name(dom)
        with self.state.lock:
            # no job, as in libvirt; the data lock orders it with a start or a stop swapping definitions
            existing = self.state.domains.get(dom.uuid or "")
            with existing.lock if existing is not None else contextlib.nullcontext():
                obj, added = self.state.add_definition(dom, live=False)
                obj.persistent = True
                self.state.save_config(dom)
        self.state.emit(obj, DomainEvent.DEFINED, Defined.ADDED if added else Defined.UPDATED)
        return obj.ref()

    @hookimpl
    def domain_undefine(self, dom: DomainRef, flags: int) -> None:
        check_flags(flags, 0, "lxcDomainUndefineFlags")
        obj = self.state.find(dom)
        with obj.job.holding(Job.MODIFY), self.state.lock:
            self.state.forget_definition(obj)

    # ------------------------------------------------------------------ lifecycle
    def _start(self, obj: DomainObj, reason: str = "booted", files: list[int] | None = None) -> None:
        """Start the container; the caller holds its modify job (libvirt's LXC driver starts within one).

        ``files``: the caller's descriptors, which become the init's fds 3, 4, ... (still the caller's).
        """
        if obj.active:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "Domain is already running")
        st = self.state
        live: Domain = obj.live.model_copy(deep=True)
        resolve_network_nics(live, self.uri)  # a NIC on a virtual network joins its bridge
        cgroup = ContainerCgroup(obj.name)
        spec = build_spec(live, st.paths, cgroup.controller_procs_files(), st.securebits_lock, self._init_pid_of)
        for live_nic, nic_spec in zip(live.devices.interfaces if live.devices else [], spec.nics, strict=True):
            live_nic.target_dev = nic_spec.host_dev  # the live XML names each host-side veth, as libvirt's does
        g = st.audit_guest(obj, -1)
        st.security.gen_label(live)
        try:
            spec.exec_attrs = st.security.process_exec_attrs(live)
            st.security.set_all_label(live)
            try:
                proc = start_container(spec, limits_of(live), cgroup, st.paths, files or [],
                                       interfaces=live.devices.interfaces if live.devices else [])  # fmt: skip
            except BaseException:
                with contextlib.suppress(Exception):
                    st.security.restore_all_label(live)
                raise
        except BaseException:
            with contextlib.suppress(Exception):
                st.security.release_label(live)
            st.auditor.start(g, reason, False)
            raise
        st.security.hand_over_labels(live, proc.controller_pid)  # the controller keeps the labels, not this process
        with obj.lock:
            obj.config = (obj.config or obj.live) if obj.persistent else None  # (create: add_definition kept it)
            # the id is the controller's pid, as libvirt's virLXCProcessStart sets it (vm->def->id = vm->pid):
            # virDomainLxcEnterCGroup finds the container's cgroups through /proc/ID/cgroup
            obj.live, obj.process, obj.id = live, proc, proc.controller_pid
            obj.state, obj.reason = DomainState.RUNNING, RunningReason.BOOTED
        g = st.audit_guest(obj, proc.controller_pid)  # like libvirt: the vm pid is the controller's
        for fs in live.devices.filesystems if live.devices is not None else []:
            st.auditor.fs(g, None, fs.source_dir, "start", True)
        for nic in spec.nics:
            st.auditor.net(g, None, nic.mac, "start", True)
        if live.memory is not None:
            st.auditor.memory(g, 0, live.memory.kib, "start", True)
        st.auditor.vcpu(g, 0, live.vcpu.count or 1 if live.vcpu is not None else 1, "start", True)
        st.auditor.start(g, reason, True)
        with contextlib.suppress(OSError):
            st.auditor.init(g, proc.init_pid, os.stat(f"/proc/{proc.init_pid}/ns/pid").st_ino)
        st.save_status(obj)
        st.watch(obj, proc)
        st.emit(obj, DomainEvent.STARTED, Started.BOOTED)

    def _init_pid_of(self, name: str) -> int:
        """The init of another running container of this driver (``<lxc:sharenet type='name'>``)."""
        other = self.state.by_name.get(name)
        if other is None or other.process is None:
            raise OperationFailedError(
                ErrorCode.OPERATION_FAILED, f"no running container named '{name}' to share a namespace with"
            )
        return other.process.init_pid

    @hookimpl
    def domain_create_xml(self, xml: str, flags: int) -> DomainRef:
        return self.domain_create_xml_with_files(xml, [], flags)

    @hookimpl
    def domain_create_xml_with_files(self, xml: str, files: list[int], flags: int) -> DomainRef:
        check_flags(
            flags,
            DomainCreateFlags.START_AUTODESTROY | DomainCreateFlags.START_BYPASS_CACHE,
            "lxcDomainCreateXMLWithFiles",
        )
        dom = apply_defaults(parse_domain(xml))
        _check_name(dom)
        with self.state.lock:
            obj, added = self.state.add_definition(dom, live=True)
        try:
            with obj.job.holding(Job.MODIFY):
                self._start(obj, files=files)
        except BaseException:
            self.state.undo_add_definition(obj, added)
            raise
        return obj.ref()

    @hookimpl
    def domain_create(self, dom: DomainRef, flags: int) -> None:
        self.domain_create_with_files(dom, [], flags)

    @hookimpl
    def domain_create_with_files(self, dom: DomainRef, files: list[int], flags: int) -> None:
        check_flags(
            flags,
            DomainCreateFlags.START_AUTODESTROY | DomainCreateFlags.START_BYPASS_CACHE,
            "lxcDomainCreateWithFiles",
        )
        obj = self.state.find(dom)
        with obj.job.holding(Job.MODIFY):
            self._start(obj, files=files)

    def _running(self, dom: DomainRef) -> DomainObj:
        obj = self.state.find(dom)
        if not obj.active or obj.process is None:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not running", domain=ErrorDomain.DOMAIN)
        return obj

    @hookimpl
    def domain_destroy(self, dom: DomainRef, flags: int) -> None:
        check_flags(flags, 0, "lxcDomainDestroyFlags")
        obj = self.state.find(dom)
        with obj.job.holding(Job.DESTROY):
            obj = self._running(dom)
            proc = obj.process
            assert proc is not None
            obj.reboot_pending = False
            proc.destroy()
            proc.cleaned.wait(30)

    def _signal_init(self, obj: DomainObj, sig: int) -> None:
        assert obj.process is not None
        try:
            os.kill(obj.process.init_pid, sig)
        except ProcessLookupError:
            pass
        except OSError as exc:
            raise OperationFailedError(
                ErrorCode.SYSTEM_ERROR, f"Unable to send {signal.Signals(sig).name} to init pid {obj.process.init_pid}"
            ) from exc

    @hookimpl
    def domain_shutdown(self, dom: DomainRef, flags: int) -> None:
        """VIR_DOMAIN_SHUTDOWN_DEFAULT and _SIGNAL: SIGTERM to the init (no /dev/initctl support)."""
        check_flags(flags, DomainShutdownFlags.INITCTL, "lxcDomainShutdownFlags")
        obj = self.state.find(dom)
        with obj.job.holding(Job.MODIFY):
            self._signal_init(self._running(dom), signal.SIGTERM)

    @hookimpl
    def domain_reboot(self, dom: DomainRef, flags: int) -> None:
        """The init is stopped (SIGTERM) and the container started again once it has gone."""
        check_flags(flags, DomainRebootFlags.INITCTL, "lxcDomainReboot")
        obj = self.state.find(dom)
        with obj.job.holding(Job.MODIFY):
            obj = self._running(dom)
            obj.reboot_pending = True
            self._signal_init(obj, signal.SIGTERM)

    def _restart(self, obj: DomainObj) -> None:
        with contextlib.suppress(Exception), obj.job.holding(Job.MODIFY):
            self._start(obj, reason="reboot")

    @hookimpl
    def domain_suspend(self, dom: DomainRef) -> None:
        obj = self.state.find(dom)
        with obj.job.holding(Job.MODIFY):  # the freezer may take its time: no lock is held meanwhile
            obj = self._running(dom)
            assert obj.process is not None
            if obj.state == DomainState.PAUSED:
                return
            obj.process.cgroup.freeze(True)
            with obj.lock:
                if obj.process is None:  # it ended while the freezer worked
                    raise OperationInvalidError(
                        ErrorCode.OPERATION_INVALID, "domain is not running", domain=ErrorDomain.DOMAIN
                    )
                obj.state, obj.reason = DomainState.PAUSED, PausedReason.USER
                self.state.save_status(obj)
        self.state.emit(obj, DomainEvent.SUSPENDED, Suspended.PAUSED)

    @hookimpl
    def domain_resume(self, dom: DomainRef) -> None:
        obj = self.state.find(dom)
        with obj.job.holding(Job.MODIFY):
            obj = self._running(dom)
            assert obj.process is not None
            if obj.state == DomainState.RUNNING:
                return
            obj.process.cgroup.freeze(False)
            with obj.lock:
                if obj.process is None:  # it ended while the freezer worked
                    raise OperationInvalidError(
                        ErrorCode.OPERATION_INVALID, "domain is not running", domain=ErrorDomain.DOMAIN
                    )
                obj.state, obj.reason = DomainState.RUNNING, RunningReason.UNPAUSED
                self.state.save_status(obj)
        self.state.emit(obj, DomainEvent.RESUMED, Resumed.UNPAUSED)

    @hookimpl
    def domain_open_console(self, dom: DomainRef, dev_name: str | None, flags: int) -> int:
        check_flags(flags, DomainConsoleFlags.FORCE | DomainConsoleFlags.SAFE, "lxcDomainOpenConsole")
        obj = self._running(dom)
        assert obj.process is not None
        if dev_name not in (None, "console0"):
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"cannot find console device '{dev_name}'")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(obj.process.spec.console_socket)
        except OSError as exc:
            sock.close()
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"cannot open the console: {exc.strerror}") from exc
        return sock.detach()

    # ------------------------------------------------------------------ queries
    @hookimpl
    def domain_get_info(self, dom: DomainRef) -> DomainInfo:
        obj = self.state.find(dom)
        d = obj.live
        max_kib = d.memory.kib if d.memory is not None else 0
        if obj.process is None:
            return DomainInfo(obj.state, max_kib, 0, d.vcpu.count or 1 if d.vcpu else 1, 0)
        cg = obj.process.cgroup
        vcpus = d.vcpu.count or 1 if d.vcpu else 1
        return DomainInfo(obj.state, max_kib, cg.memory_usage_kib(), vcpus, cg.cpu_time_ns())

    @hookimpl
    def domain_interface_addresses(self, dom: DomainRef, source: int, flags: int) -> list[InterfaceAddresses]:
        """Leases and the ARP table, as libvirt's LXC driver answers; a container has no guest agent."""
        check_flags(flags, 0, "lxcDomainInterfaceAddresses")
        obj = self.state.find(dom)
        if not obj.active:
            raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not running", domain=ErrorDomain.DOMAIN)
        return interface_addresses(obj.live, source, self.uri)

    @hookimpl
    def domain_get_state(self, dom: DomainRef) -> tuple[int, int]:
        obj = self.state.find(dom)
        return (obj.state, obj.reason)

    @hookimpl
    def domain_get_xml_desc(self, dom: DomainRef, flags: int) -> str:
        check_flags(
            flags,
            DomainXMLFlags.SECURE | DomainXMLFlags.INACTIVE | DomainXMLFlags.UPDATE_CPU | DomainXMLFlags.MIGRATABLE,
            "lxcDomainGetXMLDesc",
        )
        obj = self.state.find(dom)
        defn = obj.persistent_def() if flags & DomainXMLFlags.INACTIVE else obj.live
        return format_domain(defn, flags, domain_id=obj.id)

    @hookimpl
    def domain_get_flags(self, dom: DomainRef) -> dict[str, bool]:
        obj = self.state.find(dom)
        return {"persistent": obj.persistent, "active": obj.active, "autostart": obj.autostart,
                "managed_save": False, "has_snapshot": False, "updated": obj.config is not None}  # fmt: skip

    @hookimpl
    def domain_set_autostart(self, dom: DomainRef, autostart: bool) -> None:
        self.state.set_autostart(self.state.find(dom), autostart)

    @hookimpl
    def domain_get_security_label(self, dom: DomainRef) -> list[SecurityLabel]:
        obj = self.state.find(dom)
        if obj.process is None:
            return [SecurityLabel("", False)]
        return self.state.security.process_labels(obj.live, obj.process.init_pid)


class LxcDriver(LxcStateHooks, LxcHostChecks, HypervisorDriver):
    """The object behind the ``lxc`` entry point."""

    # 1.10: host_validate; 1.15: domain_create_with_files, domain_create_xml_with_files; 1.16: the host memory hooks,
    # domain_lxc_open_namespace
    pyvirt_contract = "1.16"
    name = "lxc"

    @hookimpl
    def connect_open(self, uri: URI, read_only: bool, events: EventSink) -> Any:
        if uri.driver != "lxc" or uri.server:
            return None
        paths = paths_for_uri(uri, "lxc", session=False)
        key = paths.config
        with _states_lock:
            state = _states.get(key)
            if state is None:
                conf = load_lxc_settings(paths.settings_file("lxc.conf"))
                security = load_security_stack(conf.security_config())
                state = LxcState(paths, security, securebits_lock=conf.securebits_lock)
                _states[key] = state
            state.refs += 1
        conn = LxcConnection(uri, state, events, key)
        state.restart_hook = conn._restart
        return conn
