"""From a domain definition to what the controller and the cgroups need, validating on the way.

libvirt's LXC rules: the domain type is ``lxc`` and the OS type ``exe``;
``<init>`` defaults to /sbin/init; ``<filesystem type='mount'>`` with target
``/`` is the root (without one the host root is shared read-only);
``<features><capabilities>`` decides which capabilities the container loses.
What this driver cannot do yet is refused by name rather than ignored.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable

from pyvirt.conf.bandwidth_params import has_floor
from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import IpAddress, Route
from pyvirt.errors import ErrorCode, NotSupportedError, OperationFailedError, XMLError
from pyvirt.local_driver.paths import DriverPaths
from pyvirt.util.caps import last_capability, parse_capability
from pyvirt_lxc.cgroups import Limits
from pyvirt_lxc.spec import ContainerSpec, MountSpec, NicSpec
from pyvirt_lxc.veth import free_veth_name

__all__ = ["DEFAULT_DROPPED", "apply_defaults", "build_spec", "capability_sets", "limits_of"]

# libvirt 9.0's default policy: these go unless the XML turns them on (sys_boot only without reboot support)
DEFAULT_DROPPED = ("sys_boot", "sys_module", "sys_time", "mknod", "audit_control", "mac_admin")
ALL_CAPS = [
    "audit_control",
    "audit_write",
    "block_suspend",
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "ipc_lock",
    "ipc_owner",
    "kill",
    "lease",
    "linux_immutable",
    "mac_admin",
    "mac_override",
    "mknod",
    "net_admin",
    "net_bind_service",
    "net_broadcast",
    "net_raw",
    "setgid",
    "setfcap",
    "setpcap",
    "setuid",
    "sys_admin",
    "sys_boot",
    "sys_chroot",
    "sys_module",
    "sys_nice",
    "sys_pacct",
    "sys_ptrace",
    "sys_rawio",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "syslog",
    "wake_alarm",
]


def apply_defaults(dom: Domain) -> Domain:
    """What libvirt's LXC driver fills in after parsing: the arch, init, NIC MACs (no console: see build_spec)."""
    if dom.type != "lxc":
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"Unknown virtualization type: {dom.type}")
    assert dom.os is not None and dom.os.type is not None
    if dom.os.type.name != "exe":
        raise NotSupportedError(
            ErrorCode.CONFIG_UNSUPPORTED, f"unsupported OS type '{dom.os.type.name}' for the LXC driver"
        )
    dom.os.type.arch = dom.os.type.arch or os.uname().machine
    if not dom.os.init:
        dom.os.init = "/sbin/init"
    if dom.devices is not None:
        for nic in dom.devices.interfaces:
            if not nic.mac:
                nic.mac = "52:54:00:{:02x}:{:02x}:{:02x}".format(*os.urandom(3))
    return dom


def capability_sets(dom: Domain, keep_reboot: bool = False) -> tuple[list[str], list[str]]:
    """(dropped, kept) capability names for the container's init, by libvirt's three policies."""
    feat = dom.features.capabilities if dom.features is not None else None
    policy = (feat.policy if feat is not None else None) or "default"
    states = feat.states if feat is not None else {}
    if policy == "deny":
        kept = [c for c in ALL_CAPS if states.get(c) is True]
    elif policy == "allow":
        kept = [c for c in ALL_CAPS if states.get(c) is not False]
    elif policy == "default":
        dropped = {c for c in DEFAULT_DROPPED if states.get(c) is not True}
        if keep_reboot and states.get("sys_boot") is not False:
            dropped.discard("sys_boot")
        dropped |= {c for c, on in states.items() if not on}
        kept = [c for c in ALL_CAPS if c not in dropped]
    else:
        raise XMLError(
            ErrorCode.XML_ERROR, f"Invalid value for attribute 'policy' in element 'capabilities': '{policy}'"
        )
    return [c for c in ALL_CAPS if c not in kept], kept


def limits_of(dom: Domain) -> Limits:
    lim = Limits()
    if dom.memory is not None:
        lim.memory_kib = dom.memory.kib
    if dom.cputune is not None:
        lim.cpu_shares = dom.cputune.shares or 0
        lim.cpu_quota = dom.cputune.quota or 0
        lim.cpu_period = dom.cputune.period or 0
    if dom.vcpu is not None and dom.vcpu.cpuset:
        lim.cpuset = dom.vcpu.cpuset
    for what, value in (("<memoryBacking>", dom.memory_backing), ("<sysinfo>", dom.sysinfos), ("<genid>", dom.genid)):
        if value:  # a virtual machine's RAM, firmware tables and generation ID: nothing a container has
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"{what} is not supported by the LXC driver")
    mt = dom.memtune
    if mt is not None:
        if mt.hard_limit is not None:
            lim.memory_kib = mt.hard_limit.kib  # libvirt sets <memory>, then the hard limit, on the same knob
        if mt.soft_limit is not None:
            lim.memory_soft_kib = mt.soft_limit.kib
        if mt.swap_hard_limit is not None:
            lim.memory_swap_kib = mt.swap_hard_limit.kib
        if mt.min_guarantee is not None:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "min_guarantee is not supported by the LXC driver")
    if dom.numatune is not None:
        if dom.numatune.memory_placement == "auto" or dom.numatune.memnodes:
            raise NotSupportedError(
                ErrorCode.CONFIG_UNSUPPORTED, "only a static <numatune><memory nodeset> is supported by this LXC driver"
            )
        lim.mems = dom.numatune.memory_nodeset or ""
    bt = dom.blkiotune
    if bt is not None:
        lim.blkio_weight = bt.weight or 0
        for dev in bt.devices or []:
            try:
                rdev = os.stat(dev.path or "").st_rdev
            except OSError as exc:
                raise OperationFailedError(
                    ErrorCode.OPERATION_FAILED, f"Unable to stat blkio device '{dev.path}': {exc.strerror}",
                    verbatim=False,
                ) from exc  # fmt: skip
            lim.blkio_devices.append(
                (
                    os.major(rdev),
                    os.minor(rdev),
                    dev.weight or 0,
                    dev.read_iops_sec or 0,
                    dev.write_iops_sec or 0,
                    dev.read_bytes_sec or 0,
                    dev.write_bytes_sec or 0,
                )
            )
    return lim


def _mounts(dom: Domain) -> tuple[str, bool, list[MountSpec]]:
    root, root_ro, mounts = "", False, []
    for fs in dom.devices.filesystems if dom.devices is not None else []:
        kind = fs.type or "mount"
        target = os.path.normpath(fs.target_dir or "")
        if not target.startswith("/"):
            raise XMLError(ErrorCode.XML_ERROR, f"filesystem target '{fs.target_dir}' must be an absolute path")
        if kind == "mount":
            if not fs.source_dir or not os.path.isdir(fs.source_dir):
                raise OperationFailedError(
                    ErrorCode.OPERATION_FAILED,
                    f"filesystem source '{fs.source_dir}' is not a directory",
                    verbatim=False,
                )
            if target == "/":
                root, root_ro = os.path.realpath(fs.source_dir), bool(fs.readonly)
            else:
                mounts.append(MountSpec("bind", target, os.path.realpath(fs.source_dir), bool(fs.readonly)))
        elif kind == "ram":
            units = (fs.source_units or "KiB").lower()
            scale = {"kib": 1, "k": 1, "mib": 1024, "m": 1024, "gib": 1024 * 1024, "g": 1024 * 1024}.get(units)
            if scale is None:
                raise XMLError(ErrorCode.XML_ERROR, f"unknown unit '{fs.source_units}' for the ram filesystem")
            mounts.append(MountSpec("ram", target, size_kib=(fs.source_usage or 0) * scale))
        else:
            raise NotSupportedError(
                ErrorCode.CONFIG_UNSUPPORTED, f"filesystem type '{kind}' is not supported by this LXC driver yet"
            )
    if root:
        if not os.access(root, os.W_OK) and not root_ro:
            raise OperationFailedError(
                ErrorCode.OPERATION_FAILED, f"the root filesystem '{root}' is not writable; add <readonly/>",
                verbatim=False,
            )  # fmt: skip
        for m in mounts:
            if m.kind == "bind" and os.path.realpath(m.source) == root:
                raise XMLError(ErrorCode.XML_ERROR, f"filesystem source '{m.source}' is the container root")
    return root, root_ro, mounts


def _addresses(ips: list[IpAddress] | None) -> list[tuple[str, int, str]]:
    out = []
    for ip in ips or []:
        default = 64 if ":" in (ip.address or "") else 24
        out.append((ip.address or "", ip.prefix if ip.prefix is not None else default, ip.peer or ""))
    return out


def _routes(routes: list[Route] | None) -> list[tuple[str, int, str]]:
    return [(r.address or "", r.prefix or 0, r.gateway or "") for r in routes or []]


def _nics(dom: Domain) -> list[NicSpec]:
    out: list[NicSpec] = []
    taken: set[str] = set()
    for i, nic in enumerate(dom.devices.interfaces if dom.devices is not None else []):
        if nic.type not in ("bridge", "ethernet", "network"):
            raise NotSupportedError(
                ErrorCode.CONFIG_UNSUPPORTED,
                f"interface type '{nic.type}' is not supported; this LXC driver does bridge, network and ethernet",
            )
        # read by the domain model for pyvirt-xen; libvirt applies them (Open vSwitch), this driver not yet
        # (<bandwidth> is applied: tc on the veth's host end, pyvirt_lxc.veth)
        for element, value in (("vlan", nic.vlan), ("virtualport", nic.virtualport)):
            if value is not None:
                raise NotSupportedError(
                    ErrorCode.CONFIG_UNSUPPORTED,
                    f"<{element}> in <domain/devices/interface> is not supported by pyvirt yet",
                )
        if nic.type == "network" and has_floor(nic.bandwidth):
            # libvirt reserves a floor in the network's QoS through a port of the network; this driver makes
            # no ports, so the guarantee would silently be missing
            raise NotSupportedError(
                ErrorCode.CONFIG_UNSUPPORTED,
                "'floor' in <domain/devices/interface/bandwidth> is not supported by pyvirt's LXC driver yet",
            )
        host = nic.target_dev or free_veth_name(taken)
        taken.add(host)
        out.append(NicSpec(host, nic.guest_dev or f"eth{i}", nic.mac or "", nic.source_bridge or "",
                           _addresses(nic.ips), _routes(nic.routes), _addresses(nic.source_ips),
                           _routes(nic.source_routes)))  # fmt: skip
    return out


def _idmap(dom: Domain) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
    """``<idmap>`` as kernel map lines, checked as libvirt and the kernel would."""
    if dom.idmap is None:
        return [], []
    maps = []
    for kind, entries in (("uid", dom.idmap.uids or []), ("gid", dom.idmap.gids or [])):
        lines = [(e.start or 0, e.target or 0, e.count or 0) for e in entries]
        if not lines:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"<idmap> needs <{kind}> entries as well")
        if not any(start == 0 and count > 0 for start, _, count in lines):
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "You must map the root user of container")
        for side in (0, 1):  # container ids, then host ids: no two ranges may overlap
            ranges = sorted((line[side], line[side] + line[2]) for line in lines)
            for (_, end), (start, _) in itertools.pairwise(ranges):
                if start < end:
                    where = "container" if side == 0 else "host"
                    raise NotSupportedError(
                        ErrorCode.CONFIG_UNSUPPORTED, f"<idmap> {kind} ranges overlap on the {where} side at {start}"
                    )
        if len(lines) > 340:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"<idmap> has more than 340 {kind} ranges")
        maps.append(lines)
    return maps[0], maps[1]


def _no_other_containers(name: str) -> int:
    raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"no running container named '{name}'", verbatim=False)


def _shares(dom: Domain, init_pid_of: Callable[[str], int]) -> list[tuple[str, str]]:
    """``<lxc:namespace>`` entries as namespace files the container's first process joins."""
    out = []
    for element, (kind, value) in sorted(dom.lxc_share.items()):
        ns = element.removeprefix("share")
        if kind == "netns":
            path = os.path.join("/run/netns", value)
        elif kind == "pid":
            path = f"/proc/{value}/ns/{ns}"
        else:  # another running container of this driver, by name
            path = f"/proc/{init_pid_of(value)}/ns/{ns}"
        if not os.path.exists(path):
            raise OperationFailedError(
                ErrorCode.OPERATION_FAILED, f"cannot share the {ns} namespace: '{path}' does not exist", verbatim=False
            )
        out.append((ns, path))
    if out and dom.idmap is not None:
        raise NotSupportedError(
            ErrorCode.CONFIG_UNSUPPORTED, "sharing host namespaces with a user namespace (<idmap>) is not supported"
        )
    if any(ns == "net" for ns, _ in out) and dom.devices is not None and dom.devices.interfaces:
        raise NotSupportedError(
            ErrorCode.CONFIG_UNSUPPORTED, "a container sharing a network namespace cannot have NICs"
        )
    return out


def build_spec(dom: Domain, paths: DriverPaths, cgroup_procs: list[str], securebits_lock: bool,
               init_pid_of: Callable[[str], int] | None = None) -> ContainerSpec:  # fmt: skip
    """The controller's instructions for this domain; raises before anything is created."""
    uid_map, gid_map = _idmap(dom)
    shares = _shares(dom, init_pid_of or _no_other_containers)
    consoles = dom.devices.consoles if dom.devices is not None else []
    if not consoles:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "At least one PTY console is required")
    if any((c.type or "pty") != "pty" for c in consoles):
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "Expected exactly one console, or only PTY consoles")
    if dom.devices is not None and dom.devices.hostdevs:
        raise NotSupportedError(
            ErrorCode.CONFIG_UNSUPPORTED, "host devices (<hostdev>) are not supported by this LXC driver yet"
        )
    for kind in ("disks", "smartcards", "serials", "parallels", "channels", "tpms", "graphics", "sounds", "videos",
                 "redirdevs", "hubs", "watchdogs", "rngs", "panics", "shmems", "memories"):  # fmt: skip
        if dom.devices is not None and getattr(dom.devices, kind):
            # a container has no such hardware; refusing beats starting without what the XML asked for
            raise NotSupportedError(
                ErrorCode.CONFIG_UNSUPPORTED, f"<{kind[:-1]}> devices are not supported by the LXC driver"
            )
    assert dom.os is not None and dom.os.init is not None
    name = dom.name or ""
    root, root_ro, mounts = _mounts(dom)
    nics = _nics(dom)
    if root and not os.path.lexists(os.path.join(root, dom.os.init.lstrip("/"))):
        raise OperationFailedError(
            ErrorCode.OPERATION_FAILED, f"cannot find init path '{dom.os.init}' relative to container root",
            verbatim=False,
        )  # fmt: skip
    dropped: list[str | int]
    dropped_names, kept = capability_sets(dom)
    dropped = list(dropped_names)
    feat = dom.features.capabilities if dom.features is not None else None
    if feat is not None and feat.policy == "deny":
        # libvirt clears every capability first: ones newer than its list (bpf, perfmon ...) go too
        keep = {parse_capability(c) for c in kept}
        dropped = [c for c in range(last_capability() + 1) if c not in keep]
    env = {"PATH": "/bin:/usr/bin:/sbin:/usr/sbin", "container": "lxc-libvirt", "container_uuid": dom.uuid or "",
           "LIBVIRT_LXC_NAME": name, "LIBVIRT_LXC_UUID": dom.uuid or ""}  # fmt: skip
    for e in dom.os.initenvs or []:
        env[e.name or ""] = e.value or ""
    privnet = bool(dom.features is not None and dom.features.privnet) and not any(ns == "net" for ns, _ in shares)
    return ContainerSpec(
        name=name, uuid=dom.uuid or "", init=[dom.os.init, *[a.value or "" for a in dom.os.initargs or []]],
        env=env, workdir=dom.os.initdir or "", uid=dom.os.inituser or "", gid=dom.os.initgroup or "",
        root=root, root_readonly=root_ro, stage_dir=os.path.join(paths.run, f"{name}.root"), hostname=name,
        private_net=bool(nics) or privnet, mounts=mounts, nics=nics, drop_caps=dropped,
        keep_caps=kept if securebits_lock else None, cgroup_procs=cgroup_procs,
        console_socket=os.path.join(paths.run, f"{name}.console"), exit_file=os.path.join(paths.run, f"{name}.exit"),
        uid_map=uid_map, gid_map=gid_map, shares=shares,
    )  # fmt: skip
