"""The guest-agent commands of virsh on QEMU guests, and the power-management and device-by-alias calls beside them.

libvirt 9.0's qemuDomainGetGuestInfo, qemuDomainGetGuestVcpus / SetGuestVcpus,
qemuDomainAuthorizedSSHKeysGet / Set, qemuDomainAgentSetResponseTimeout,
qemuDomainPMSuspendForDuration / PMWakeup and qemuDomainDetachDeviceAlias
(src/qemu/qemu_driver.c), with the agent replies read as src/qemu/qemu_agent.c
reads them. Each agent call first checks what qemuDomainAgentAvailable checks
(running, agent configured, its port open), so the errors are libvirt's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyvirt.conf.bitmap import format_bitmap, parse_bitmap
from pyvirt.errors import (
    ErrorCode,
    ErrorDomain,
    InternalError,
    InvalidArgumentError,
    NotSupportedError,
    OperationInvalidError,
    XMLError,
)
from pyvirt.flags import DomainAuthorizedSSHKeysSetFlags, DomainDeviceModifyFlags
from pyvirt.local_driver.domain_jobs import Job
from pyvirt.local_driver.interface_addresses import agent_addresses
from pyvirt.plugin import hookimpl
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import DomainRef
from pyvirt.plugin.typed_params import TypedParam, TypedParamType, typed_param
from pyvirt_qemu.connection_base import QemuConnectionBase
from pyvirt_qemu.guest_agent import GuestAgent

if TYPE_CHECKING:
    from pyvirt.conf.domain import Domain

__all__ = ["GuestAgentHooks"]

# virDomainGuestInfoTypes
_USERS, _OS, _TIMEZONE, _HOSTNAME, _FILESYSTEM, _DISKS, _INTERFACES = 1, 2, 4, 8, 16, 32, 64
_SUPPORTED_TYPES = 127  # qemuDomainGetGuestInfoSupportedTypes: all seven
_GUEST_VCPU_MAX_ID = 4096  # QEMU_GUEST_VCPU_MAX_ID
_TIMEOUT_MIN = -2  # VIR_DOMAIN_QEMU_AGENT_COMMAND_MIN (= ..._BLOCK)
# virNodeSuspendTarget -> qemuAgentSuspendMode's command
_SUSPEND_COMMANDS = {0: "guest-suspend-ram", 1: "guest-suspend-disk", 2: "guest-suspend-hybrid"}
_TARGET_MEM, _TARGET_DISK, _TARGET_HYBRID = 0, 1, 2
_OS_FIELDS = (("id", "os.id"), ("name", "os.name"), ("pretty-name", "os.pretty-name"), ("version", "os.version"),
              ("version-id", "os.version-id"), ("machine", "os.machine"), ("variant", "os.variant"),
              ("variant-id", "os.variant-id"), ("kernel-release", "os.kernel-release"),
              ("kernel-version", "os.kernel-version"))  # fmt: skip


def _cpu_map(text: str) -> set[int]:
    """virBitmapParse(cpumap, QEMU_GUEST_VCPU_MAX_ID), which reports INVALID_ARG."""
    try:
        return parse_bitmap(text, limit=_GUEST_VCPU_MAX_ID)
    except XMLError as exc:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"Failed to parse bitmap '{text}'") from exc


def _s(field: str, value: str) -> TypedParam:
    return typed_param(field, TypedParamType.STRING, value)


def _u(field: str, value: int, kind: TypedParamType = TypedParamType.UINT) -> TypedParam:
    return typed_param(field, kind, value)


def _missing(command: str, what: str) -> InternalError:
    return InternalError(ErrorCode.INTERNAL_ERROR, f"'{what}' missing in reply of {command}")


def _vcpus(agent: GuestAgent) -> list[tuple[int, bool, bool]]:
    """qemuAgentGetVCPUs: (logical id, online, can-offline) of each vCPU the guest reports."""
    reply = agent.execute("guest-get-vcpus")
    if not isinstance(reply, list):
        raise InternalError(ErrorCode.INTERNAL_ERROR, "guest-get-vcpus reply was missing return data")
    out = []
    for entry in reply:
        for key in ("logical-id", "online", "can-offline"):
            if key not in entry:
                raise _missing("guest-get-vcpus", key)
        out.append((int(entry["logical-id"]), bool(entry["online"]), bool(entry["can-offline"])))
    return out


def _users(reply: Any) -> list[TypedParam]:
    """qemuAgentGetUsers: login times in milliseconds; ``domain`` only from Windows guests."""
    if not isinstance(reply, list):
        raise InternalError(ErrorCode.INTERNAL_ERROR, "guest-get-users reply was missing return data")
    out = [_u("user.count", len(reply))]
    for i, entry in enumerate(reply):
        if not isinstance(entry.get("user"), str):
            raise _missing("guest-get-users", "user")
        out.append(_s(f"user.{i}.name", entry["user"]))
        if isinstance(entry.get("domain"), str):
            out.append(_s(f"user.{i}.domain", entry["domain"]))
        if not isinstance(entry.get("login-time"), int | float):
            raise _missing("guest-get-users", "login-time")
        out.append(_u(f"user.{i}.login-time", int(entry["login-time"] * 1000), TypedParamType.ULLONG))
    return out


def _os_info(reply: Any) -> list[TypedParam]:
    if not isinstance(reply, dict):
        raise InternalError(ErrorCode.INTERNAL_ERROR, "guest-get-osinfo reply was missing return data")
    return [_s(param, reply[key]) for key, param in _OS_FIELDS if isinstance(reply.get(key), str)]


def _timezone(reply: Any) -> list[TypedParam]:
    if not isinstance(reply, dict):
        raise InternalError(ErrorCode.INTERNAL_ERROR, "guest-get-timezone reply was missing return data")
    out = [_s("timezone.name", reply["zone"])] if isinstance(reply.get("zone"), str) else []
    if not isinstance(reply.get("offset"), int):
        raise _missing("guest-get-timezone", "offset")
    return [*out, _u("timezone.offset", reply["offset"], TypedParamType.INT)]


def _disk_target(dom: Domain, address: dict[str, Any]) -> str | None:
    """virDomainDiskByAddress for the PCI disks an agent reports (virtio-blk): the disk at that PCI address."""
    pci = address.get("pci-controller")
    if not isinstance(pci, dict) or dom.devices is None:
        return None
    for disk in dom.devices.disks:
        a = disk.address.attrs if disk.address is not None else {}
        if a.get("type") != "pci":
            continue
        if tuple(int(a.get(k, "0"), 0) for k in ("domain", "bus", "slot", "function")) == tuple(
            pci.get(k) for k in ("domain", "bus", "slot", "function")
        ):
            return disk.target_dev
    return None


def _filesystems(reply: Any, dom: Domain) -> list[TypedParam]:
    """qemuAgentGetFSInfo + qemuAgentFSInfoFormatParams: in mount order (the agent lists them reversed)."""
    if not isinstance(reply, list):
        raise InternalError(ErrorCode.INTERNAL_ERROR, "guest-get-fsinfo reply was missing return data")
    out = [_u("fs.count", len(reply))]
    for i, fs in enumerate(reversed(reply)):
        for key in ("name", "mountpoint", "type"):
            if not isinstance(fs.get(key), str):
                raise _missing("guest-get-fsinfo", key)
        out += [_s(f"fs.{i}.name", fs["name"]), _s(f"fs.{i}.mountpoint", fs["mountpoint"]),
                _s(f"fs.{i}.fstype", fs["type"])]  # fmt: skip
        for key in ("total-bytes", "used-bytes"):  # older agents do not report usage
            if isinstance(fs.get(key), int):
                out.append(_u(f"fs.{i}.{key}", fs[key], TypedParamType.ULLONG))
        disks = fs.get("disk") or []
        out.append(_u(f"fs.{i}.disk.count", len(disks)))
        for j, disk in enumerate(disks):
            target = _disk_target(dom, disk)
            if target:
                out.append(_s(f"fs.{i}.disk.{j}.alias", target))
            if isinstance(disk.get("serial"), str):
                out.append(_s(f"fs.{i}.disk.{j}.serial", disk["serial"]))
            if isinstance(disk.get("dev"), str):
                out.append(_s(f"fs.{i}.disk.{j}.device", disk["dev"]))
    return out


def _disks(reply: Any, dom: Domain) -> list[TypedParam]:
    """qemuAgentGetDisks + qemuAgentDiskInfoFormatParams."""
    if not isinstance(reply, list):
        raise InternalError(ErrorCode.INTERNAL_ERROR, "qemu agent didn't return an array of disks")
    out = [_u("disk.count", len(reply))]
    for i, disk in enumerate(reply):
        if not isinstance(disk.get("name"), str):
            raise _missing("guest-get-disks", "name")
        if not isinstance(disk.get("partition"), bool):
            raise _missing("guest-get-disks", "partition")
        out += [_s(f"disk.{i}.name", disk["name"]), typed_param(f"disk.{i}.partition", TypedParamType.BOOLEAN,
                                                                disk["partition"])]  # fmt: skip
        deps = disk.get("dependencies") or []
        if deps:
            out.append(_u(f"disk.{i}.dependency.count", len(deps)))
            out += [_s(f"disk.{i}.dependency.{j}.name", str(d)) for j, d in enumerate(deps)]
        address = disk.get("address")
        if isinstance(address, dict):
            if isinstance(address.get("serial"), str):
                out.append(_s(f"disk.{i}.serial", address["serial"]))
            target = _disk_target(dom, address)
            if target:
                out.append(_s(f"disk.{i}.alias", target))
        if isinstance(disk.get("alias"), str):
            out.append(_s(f"disk.{i}.guest_alias", disk["alias"]))
    return out


def _interfaces(reply: Any) -> list[TypedParam]:
    """qemuAgentGetInterfaces + virDomainInterfaceFormatParams."""
    ifaces = agent_addresses(reply)
    out = [_u("if.count", len(ifaces))]
    for i, iface in enumerate(ifaces):
        out += [_s(f"if.{i}.name", iface.name), _s(f"if.{i}.hwaddr", iface.hwaddr),
                _u(f"if.{i}.addr.count", len(iface.addrs))]  # fmt: skip
        for j, (kind, addr, prefix) in enumerate(iface.addrs):
            out += [_s(f"if.{i}.addr.{j}.type", kind), _s(f"if.{i}.addr.{j}.addr", addr),
                    _u(f"if.{i}.addr.{j}.prefix", prefix)]  # fmt: skip
    return out


def _device_by_alias(dom: Domain, alias: str) -> tuple[str, Any] | None:
    """virDomainDefFindDevice: the kind (the devices' list name) and device whose ``<alias name>`` is ``alias``."""
    devices = dom.devices
    if devices is None:
        return None
    for kind, value in vars(devices).items():
        for dev in value if isinstance(value, list) else []:
            found = getattr(dev, "alias", None)
            if found is not None and getattr(found, "name", None) == alias:
                return kind, dev
    return None


class GuestAgentHooks(QemuConnectionBase):
    """Mixed into the QEMU connection, whose ``state`` it reads and whose device detach it reuses."""

    if TYPE_CHECKING:  # the connection's own

        def domain_detach_device(self, dom: DomainRef, xml: str, flags: int) -> None: ...

    @hookimpl
    def domain_get_guest_info(self, dom: DomainRef, types: int, flags: int) -> list[TypedParam]:
        """qemuDomainGetGuestInfo: with no types asked, kinds the agent lacks are skipped, else they fail."""
        check_flags(flags, 0, "qemuDomainGetGuestInfo")
        if types & ~_SUPPORTED_TYPES:  # qemuDomainGetGuestInfoCheckSupport
            raise InvalidArgumentError(ErrorCode.INVALID_ARG,
                                       f"unsupported guest information types '0x{types & ~_SUPPORTED_TYPES:x}'")  # fmt: skip
        wanted = types or _SUPPORTED_TYPES
        report = types != 0
        obj = self.state.find(dom)
        agent = self._agent(obj)

        def ask(command: str) -> Any:
            return agent.execute(command, report_unsupported=report)

        params: list[TypedParam] = []
        if wanted & _USERS and (reply := ask("guest-get-users")) is not None:
            params += _users(reply)
        if wanted & _OS and (reply := ask("guest-get-osinfo")) is not None:
            params += _os_info(reply)
        if wanted & _TIMEZONE and (reply := ask("guest-get-timezone")) is not None:
            params += _timezone(reply)
        if wanted & _HOSTNAME and (reply := ask("guest-get-host-name")) is not None:
            if not isinstance(reply, dict) or not isinstance(reply.get("host-name"), str):
                raise InternalError(ErrorCode.INTERNAL_ERROR, "'host-name' missing in guest-get-host-name reply")
            params.append(_s("hostname", reply["host-name"]))
        fsinfo = ask("guest-get-fsinfo") if wanted & _FILESYSTEM else None
        disks = ask("guest-get-disks") if wanted & _DISKS else None
        ifaces = ask("guest-network-get-interfaces") if wanted & _INTERFACES else None
        if fsinfo or disks:  # matched against the running definition, which a query job reads
            with obj.job.holding(Job.QUERY):
                if not obj.active:
                    raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not running",
                                                domain=ErrorDomain.DOMAIN)  # fmt: skip
                if fsinfo:
                    params += _filesystems(fsinfo, obj.live)
                if disks:
                    params += _disks(disks, obj.live)
        if ifaces:
            params += _interfaces(ifaces)
        return params

    @hookimpl
    def domain_get_guest_vcpus(self, dom: DomainRef, flags: int) -> list[TypedParam]:
        """qemuDomainGetGuestVcpus + qemuDomainGetGuestVcpusParams: three cpu lists."""
        check_flags(flags, 0, "qemuDomainGetGuestVcpus")
        info = _vcpus(self._agent(self.state.find(dom)))
        for vcpu_id, _online, _offlinable in info:
            if vcpu_id >= _GUEST_VCPU_MAX_ID:
                raise InternalError(ErrorCode.INTERNAL_ERROR,
                                    f"vcpu id '{vcpu_id}' reported by guest agent is out of range")  # fmt: skip
        return [
            _s("vcpus", format_bitmap({i for i, _, _ in info})),
            _s("online", format_bitmap({i for i, online, _ in info if online})),
            _s("offlinable", format_bitmap({i for i, _, offlinable in info if offlinable})),
        ]

    @hookimpl
    def domain_set_guest_vcpus(self, dom: DomainRef, cpumap: str, state: int, flags: int) -> None:
        """qemuDomainSetGuestVcpus: every vCPU asked must exist in the guest (and be offlinable to go offline);
        guest-set-vcpus is repeated for those the guest did not change yet (qemuAgentSetVCPUs)."""
        check_flags(flags, 0, "qemuDomainSetGuestVcpus")
        if state not in (0, 1):
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, "unsupported state value", verbatim=False)
        wanted = _cpu_map(cpumap)
        obj = self.state.find(dom)
        agent = self._agent(obj)
        info = _vcpus(agent)
        modify: list[int] = []
        for vcpu_id, _online, offlinable in info:
            if vcpu_id not in wanted:
                continue
            if not state and not offlinable:
                raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED, f"vCPU '{vcpu_id}' is not offlinable")
            modify.append(vcpu_id)
            wanted.discard(vcpu_id)
        if wanted:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"guest is missing vCPUs '{format_bitmap(wanted)}'")
        agent = self._agent(obj)
        while modify:
            done = agent.execute("guest-set-vcpus", {"vcpus": [{"logical-id": i, "online": bool(state)}
                                                               for i in modify]})  # fmt: skip
            if not isinstance(done, int) or done <= 0 or done > len(modify):
                raise InternalError(ErrorCode.INTERNAL_ERROR, "guest agent returned malformed or invalid return value")
            modify = modify[done:]

    @hookimpl
    def domain_authorized_ssh_keys_get(self, dom: DomainRef, user: str, flags: int) -> list[str]:
        """qemuDomainAuthorizedSSHKeysGet: guest-ssh-get-authorized-keys."""
        check_flags(flags, 0, "qemuDomainAuthorizedSSHKeysGet")
        reply = self._agent(self.state.find(dom)).execute("guest-ssh-get-authorized-keys", {"username": user})
        keys = reply.get("keys") if isinstance(reply, dict) else None
        if not isinstance(keys, list):
            raise InternalError(ErrorCode.INTERNAL_ERROR, "qemu agent didn't return an array of keys")
        return [str(k) for k in keys]

    @hookimpl
    def domain_authorized_ssh_keys_set(self, dom: DomainRef, user: str, keys: list[str], flags: int) -> None:
        """qemuDomainAuthorizedSSHKeysSet: remove the keys, or add them (to an emptied file without APPEND)."""
        ssh = DomainAuthorizedSSHKeysSetFlags
        check_flags(flags, ssh.APPEND | ssh.REMOVE, "qemuDomainAuthorizedSSHKeysSet")
        agent = self._agent(self.state.find(dom))
        if flags & ssh.REMOVE:
            agent.execute("guest-ssh-remove-authorized-keys", {"username": user, "keys": list(keys)})
        else:
            agent.execute("guest-ssh-add-authorized-keys",
                          {"username": user, "keys": list(keys), "reset": not flags & ssh.APPEND})  # fmt: skip

    @hookimpl
    def domain_agent_set_response_timeout(self, dom: DomainRef, timeout: int, flags: int) -> None:
        """qemuDomainAgentSetResponseTimeout: kept for the domain (with or without an agent now) and saved in
        its status file as libvirt's <agentTimeout>, so a restarted daemon keeps it."""
        check_flags(flags, 0, "qemuDomainAgentSetResponseTimeout")
        if timeout < _TIMEOUT_MIN:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG,
                                       f"guest agent timeout '{timeout}' is less than the minimum '{_TIMEOUT_MIN}'")  # fmt: skip
        obj = self.state.find(dom)
        with obj.lock:
            obj.agent_timeout = timeout
        self.state.save_status(obj)

    @hookimpl
    def domain_pm_suspend_for_duration(self, dom: DomainRef, target: int, duration: int, flags: int) -> None:
        """qemuDomainPMSuspendForDuration: the agent, QEMU's wakeup support, the definition's <pm>, then the
        agent's guest-suspend-* (which the guest does not answer: it goes to sleep)."""
        check_flags(flags, 0, "qemuDomainPMSuspendForDuration")
        if duration:
            raise InvalidArgumentError(ErrorCode.ARGUMENT_UNSUPPORTED, "Duration not supported. Use 0 for now")
        if target not in _SUSPEND_COMMANDS:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"Unknown suspend target: {target % 2**32}")
        obj = self.state.find(dom)
        agent = self._agent(obj)
        with obj.job.holding(Job.QUERY):  # qemuDomainQueryWakeupSuspendSupport
            proc = obj.process
            if not obj.active or proc is None:
                raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not running",
                                            domain=ErrorDomain.DOMAIN)  # fmt: skip
            machine = proc.monitor.execute("query-current-machine")
        if not (isinstance(machine, dict) and machine.get("wakeup-suspend-support")):
            raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED, "Domain does not have suspend support")
        s3, s4 = obj.live.pm_suspend_to_mem, obj.live.pm_suspend_to_disk
        if s3 is False and target in (_TARGET_MEM, _TARGET_HYBRID):
            raise InternalError(ErrorCode.INTERNAL_ERROR, "S3 state is disabled for this domain")
        if s4 is False and target == _TARGET_DISK:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "S4 state is disabled for this domain")
        agent.execute(_SUSPEND_COMMANDS[target], reply=False)

    @hookimpl
    def domain_pm_wakeup(self, dom: DomainRef, flags: int) -> None:
        """qemuDomainPMWakeup: QMP system_wakeup in a modify job."""
        check_flags(flags, 0, "qemuDomainPMWakeup")
        obj = self.state.find(dom)
        with obj.job.holding(Job.MODIFY):
            proc = obj.process
            if not obj.active or proc is None:  # virDomainObjCheckActive
                raise OperationInvalidError(ErrorCode.OPERATION_INVALID, "domain is not running")
            proc.monitor.execute("system_wakeup")

    @hookimpl
    def domain_detach_device_alias(self, dom: DomainRef, alias: str, flags: int) -> None:
        """qemuDomainDetachDeviceAlias: the persistent definition first, then the running one, each must hold a
        device with that alias (libvirt's error otherwise); the device is then detached as detach-device
        detaches it (disks and interfaces, the devices this driver unplugs)."""
        modify = DomainDeviceModifyFlags
        check_flags(flags, modify.LIVE | modify.CONFIG, "qemuDomainDetachDeviceAlias")
        obj = self.state.find(dom)
        with obj.lock:
            live, config = self._affect(obj, flags, "transient domains do not have any persistent config")
            found = None
            for d in ([obj.persistent_def()] if config else []) + ([obj.live] if live else []):
                found = _device_by_alias(d, alias)
                if found is None:
                    raise InternalError(ErrorCode.INTERNAL_ERROR, f"no device found with alias {alias}")
        assert found is not None  # one definition at least was looked in
        kind, dev = found
        if kind == "disks":
            xml = f"<disk type='file' device='{dev.device or 'disk'}'><target dev='{dev.target_dev}'/></disk>"
        elif kind == "interfaces":
            xml = f"<interface type='user'><mac address='{dev.mac}'/></interface>"
        else:
            raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED,
                                    f"detaching the device with alias {alias} is not supported yet "
                                    "(only disks and interfaces)")  # fmt: skip
        self.domain_detach_device(dom, xml, flags)
