"""The host's virtual switches as networks, their port groups as ``<portgroup>``s (libvirt's esx_network_driver.c).

A network is a vSwitch, always active, persistent and autostarted; its UUID
is the MD5 sum of the switch's key. The XML carries what the switch has:
``<forward mode='bridge'>`` with the physical NICs it uplinks to (none: no
``<forward>``), its traffic shaping as ``<bandwidth>`` (vSphere's bits per
second and bytes as libvirt's kilobytes per second and kilobytes, the same
both ways), and one ``<portgroup>`` per port group with its own shaping.
``net-define`` creates a new vSwitch (128 ports) and its port groups;
``net-undefine`` removes them, refused while a port is not a VM's.

pyvirt's network model (``pyvirt.conf.network``) refuses ``<portgroup>`` and
``<bandwidth>``, which are the substance here, so this module reads and
writes that small subset itself, in libvirt's element order and layout.
"""

from __future__ import annotations

import hashlib
import uuid as uuid_module
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree

from pyvirt.conf.xmlparse import parse_xml
from pyvirt.errors import ErrorCode, ErrorDomain, XMLError, make_error
from pyvirt.flags import NetworkDefineFlags
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import NetworkRef
from pyvirt_esx.vmomi import vim as _vim
from pyvirt_esx.vmomi import vmodl
from pyvirt_esx.vsphere import Session, esx_error, fault_text

__all__ = ["Bandwidth", "VirtualSwitches"]

vim: Any = _vim  # pyVmomi builds its types at run time: untyped for mypy

DEFINE_VALIDATE = NetworkDefineFlags.VALIDATE
_FORWARD_MODES = ("nat", "route", "open", "bridge", "private", "vepa", "passthrough", "hostdev")


class Bandwidth:
    """One rate, as libvirt keeps it: average and peak in kilobytes per second, burst in kilobytes."""

    def __init__(self, average: int = 0, peak: int = 0, burst: int = 0) -> None:
        self.average, self.peak, self.burst = average, peak, burst

    @classmethod
    def from_policy(cls, policy: Any) -> Bandwidth | None:
        """esxShapingPolicyToBandwidth: only an enabled shaping policy is a ``<bandwidth>``."""
        shaping = policy.shapingPolicy if policy is not None else None
        if shaping is None or not shaping.enabled:
            return None
        return cls(int(shaping.averageBandwidth or 0) // 8 // 1000, int(shaping.peakBandwidth or 0) // 8 // 1000,
                   int(shaping.burstSize or 0) // 1024)  # fmt: skip

    def to_policy(self) -> Any:
        """esxBandwidthToShapingPolicy: None when every figure is 0 (no shaping)."""
        if not (self.average or self.peak or self.burst):
            return None
        shaping: Any = vim.host.NetworkPolicy.TrafficShapingPolicy(enabled=True)
        if self.average:
            shaping.averageBandwidth = self.average * 8 * 1000
        if self.peak:
            shaping.peakBandwidth = self.peak * 8 * 1000
        if self.burst:
            shaping.burstSize = self.burst * 1024
        return shaping

    def format(self, indent: str) -> str:
        rate = " ".join(f"{k}='{v}'" for k, v in (("average", self.average), ("peak", self.peak),
                                                  ("burst", self.burst)) if v)  # fmt: skip
        lines = [f"{indent}<bandwidth>"]
        if self.average:  # virNetDevBandwidthRateFormat writes a rate only with an average
            lines += [f"{indent}  <inbound {rate}/>", f"{indent}  <outbound {rate}/>"]
        return "\n".join([*lines, f"{indent}</bandwidth>"]) + "\n"


def _bandwidth(elem: etree._Element | None) -> Bandwidth | None:
    """``<bandwidth>``: vSphere shapes both directions alike, so inbound and outbound must be equal."""
    if elem is None:
        return None

    def rate(tag: str) -> tuple[int, int, int] | None:
        node = elem.find(tag)
        if node is None:
            return None
        try:
            return tuple(int(node.get(k) or 0) for k in ("average", "peak", "burst"))  # type: ignore[return-value]
        except ValueError:
            raise XMLError(ErrorCode.XML_ERROR, f"could not convert bandwidth {tag} value") from None

    inbound, outbound = rate("inbound"), rate("outbound")
    if inbound is None or outbound is None or inbound != outbound:
        raise esx_error(ErrorCode.CONFIG_UNSUPPORTED, "Different inbound and outbound bandwidth is unsupported")
    return Bandwidth(*inbound)


class VirtualSwitches:
    """The networks (vSwitches) of one connection's host."""

    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def _system(self) -> Any:
        return self.session.host.configManager.networkSystem

    def _info(self) -> _NetworkView:
        """The host's switches, port groups and NICs as libvirt reads them (``config.network``).

        On ESX that is the network system's ``networkInfo`` too. vcsim 0.24
        keeps two copies: ``config.network`` (complete: keys, uplinks, the
        NICs) is never updated, ``networkInfo`` (updated by Add/Remove calls)
        lacks the NICs and uplinks. Objects present in both come from
        ``config.network``; the live copy decides which exist.
        """
        live = self._system.networkInfo
        config = self.session.property(self.session.host, "config.network")
        return _NetworkView(
            _merge(config.vswitch if config is not None else None, live.vswitch, lambda s: str(s.name)),
            _merge(config.portgroup if config is not None else None, live.portgroup, lambda g: str(g.spec.name)),
            _merge(config.pnic if config is not None else None, live.pnic, lambda n: str(n.key), keep_all=True),
        )

    @staticmethod
    def _key(switch: Any) -> str:
        # ESX names a switch's key "key-vim.host.VirtualSwitch-<name>"; vcsim 0.24 leaves it empty, which would
        # give every switch the same UUID, so an empty key stands for the one ESX would have written
        return str(switch.key) or f"key-vim.host.VirtualSwitch-{switch.name}"

    def _ref(self, switch: Any) -> NetworkRef:
        digest = hashlib.md5(self._key(switch).encode(), usedforsecurity=False).digest()
        return NetworkRef(str(switch.name), str(uuid_module.UUID(bytes=digest)))

    def _find(self, name: str) -> Any:
        for switch in self._info().vswitch or []:
            if switch.name == name:
                return switch
        raise esx_error(ErrorCode.NO_NETWORK, f"Could not find HostVirtualSwitch with name '{name}'")

    def _network_names(self) -> set[str]:
        """The datacenter's networks (esxVI_LookupNetworkList): a port group is listed only when one bears its name."""
        view = self.session.content.viewManager.CreateContainerView(
            self.session.datacenter.networkFolder, [vim.Network], True
        )
        try:
            return {str(n.name) for n in view.view}
        finally:
            view.Destroy()

    @staticmethod
    def _physical_nics(info: _NetworkView) -> list[Any]:
        return info.pnic

    def _switch_groups(self, info: Any, switch: Any, missing: str) -> list[Any]:
        """The switch's port groups: those it lists, then any other naming it as theirs.

        ESX lists every port group in the switch's ``portgroup``; vcsim 0.24
        leaves out the ones it made itself (the management network of vmk0),
        and an undefine that missed them would remove the host's own port.
        """
        by_key = _groups_by_key(info)
        groups = []
        for key in switch.portgroup or []:
            group = by_key.get(str(key))
            if group is None:
                raise esx_error(ErrorCode.INTERNAL_ERROR, missing.format(key))
            groups.append(group)
        for group in info.portgroup or []:
            mine = group.vswitch == self._key(switch) or group.spec.vswitchName == switch.name
            if mine and all(group.key != g.key for g in groups):
                groups.append(group)
        return groups

    def list_all(self) -> list[NetworkRef]:
        return sorted((self._ref(s) for s in self._info().vswitch or []), key=lambda r: r.name)

    def lookup_by_name(self, name: str) -> NetworkRef:
        return self._ref(self._find(name))

    def lookup_by_uuid(self, uuid: str) -> NetworkRef:
        for ref in self.list_all():
            if ref.uuid == uuid:
                return ref
        raise esx_error(ErrorCode.NO_NETWORK, f"Could not find HostVirtualSwitch with UUID '{uuid}'")

    def xml(self, net: NetworkRef) -> str:
        """esxNetworkGetXMLDesc: name, UUID, uplinks as ``<forward mode='bridge'>``, shaping, port groups."""
        info = self._info()
        switch = self._find(net.name)
        ref = self._ref(switch)
        out = ["<network>\n", f"  <name>{_text(ref.name)}</name>\n", f"  <uuid>{ref.uuid}</uuid>\n"]
        nics = {str(n.key): str(n.device) for n in self._physical_nics(info)}
        uplinks = []
        for key in switch.pnic or []:
            if key not in nics:
                raise esx_error(ErrorCode.INTERNAL_ERROR, f"Could not find PhysicalNic with key '{key}'")
            uplinks.append(nics[key])
        if uplinks:
            out.append(f"  <forward dev={_attr(uplinks[0])} mode='bridge'>\n")  # dev: the first, as libvirt writes it
            out += [f"    <interface dev={_attr(dev)}/>\n" for dev in uplinks]
            out.append("  </forward>\n")
        switch_bandwidth = Bandwidth.from_policy(switch.spec.policy if switch.spec is not None else None)
        if switch_bandwidth is not None:
            out.append(switch_bandwidth.format("  "))
        network_names = self._network_names()
        for group in self._switch_groups(info, switch, "Could not find HostPortGroup with key '{}'"):
            if str(group.spec.name) not in network_names:
                continue  # libvirt lists a port group only when the host has a network of its name
            out.append(f"  <portgroup name={_attr(str(group.spec.name))}>\n")
            group_bandwidth = Bandwidth.from_policy(group.spec.policy)
            if group_bandwidth is not None:
                out.append(group_bandwidth.format("    "))
            out.append("  </portgroup>\n")
        out.append("</network>\n")
        return "".join(out)

    def define(self, xml: str, flags: int) -> NetworkRef:
        """esxNetworkDefineXMLFlags: a new vSwitch with its port groups; existing ones are not edited."""
        check_flags(flags, DEFINE_VALIDATE, "esxNetworkDefineXMLFlags")
        root = parse_xml(xml, "network", "network_definition")
        name = (root.findtext("name") or "").strip()
        if not name:
            raise make_error(ErrorCode.NO_NAME, None, domain=ErrorDomain.NETWORK)  # "missing name information"
        if any(s.name == name for s in self._info().vswitch or []):
            raise esx_error(ErrorCode.INTERNAL_ERROR, "HostVirtualSwitch already exists, editing existing ones is not "
                            "supported yet")  # fmt: skip
        if root.find("uuid") is not None:
            raise esx_error(ErrorCode.CONFIG_UNSUPPORTED, "Cannot use predefined UUID")
        forward = root.find("forward")
        mode = (forward.get("mode") or "nat") if forward is not None else None
        if mode is not None and mode not in _FORWARD_MODES:
            raise XMLError(ErrorCode.XML_ERROR, f"unknown forwarding type '{mode}'")
        if mode not in (None, "bridge"):
            raise esx_error(ErrorCode.CONFIG_UNSUPPORTED, f"Unsupported forward mode '{mode}'")
        groups = [(g.get("name") or "", _bandwidth(g.find("bandwidth"))) for g in root.findall("portgroup")]
        existing = {str(g.spec.name) for g in self._info().portgroup or []}
        for group_name, _ in groups:
            if group_name in existing:
                raise esx_error(ErrorCode.NETWORK_EXIST, f"HostPortGroup with name '{group_name}' exists already")
        spec: Any = vim.host.VirtualSwitch.Specification(numPorts=128)
        devices = [i.get("dev") or "" for i in forward.findall("interface")] if forward is not None else []
        if devices:
            keys = {str(n.device): str(n.key) for n in self._physical_nics(self._info())}
            for dev in devices:
                if dev not in keys:
                    raise esx_error(ErrorCode.INTERNAL_ERROR, f"Could not find PhysicalNic with name '{dev}'")
            spec.bridge = vim.host.VirtualSwitch.BondBridge(nicDevice=[keys[d] for d in devices])
        bandwidth = _bandwidth(root.find("bandwidth"))
        if bandwidth is not None:
            spec.policy = vim.host.NetworkPolicy(shapingPolicy=bandwidth.to_policy())
        try:
            self._system.AddVirtualSwitch(vswitchName=name, spec=spec)
            for group_name, group_bandwidth in groups:
                policy = vim.host.NetworkPolicy(
                    shapingPolicy=group_bandwidth.to_policy() if group_bandwidth is not None else None
                )
                self._system.AddPortGroup(portgrp=vim.host.PortGroup.Specification(
                    name=group_name, vswitchName=name, vlanId=0, policy=policy))  # fmt: skip
        except vmodl.MethodFault as err:
            raise esx_error(ErrorCode.INTERNAL_ERROR, f"Could not define network '{name}': "
                            f"{fault_text(err)}") from None  # fmt: skip
        return self.lookup_by_name(name)

    def undefine(self, net: NetworkRef) -> None:
        """esxNetworkUndefine: only a switch whose ports are all VMs' goes, its port groups first."""
        info = self._info()
        switch = self._find(net.name)
        groups = self._switch_groups(info, switch, "Could not find HostPortGroup for key '{}'")
        for group in groups:
            for port in group.port or []:
                if port.type != "virtualMachine":
                    raise esx_error(ErrorCode.OPERATION_INVALID,
                                    f"Cannot undefine HostVirtualSwitch that has a '{port.type}' port")  # fmt: skip
        try:
            for group in groups:
                self._system.RemovePortGroup(pgName=group.spec.name)
            self._system.RemoveVirtualSwitch(vswitchName=net.name)
        except vmodl.MethodFault as err:
            raise esx_error(ErrorCode.INTERNAL_ERROR, f"Could not undefine network '{net.name}': "
                            f"{fault_text(err)}") from None  # fmt: skip

    @staticmethod
    def set_autostart(autostart: bool) -> None:
        if not autostart:
            raise esx_error(ErrorCode.INTERNAL_ERROR, "Cannot deactivate network autostart")


class _NetworkView:
    def __init__(self, vswitch: list[Any], portgroup: list[Any], pnic: list[Any]) -> None:
        self.vswitch, self.portgroup, self.pnic = vswitch, portgroup, pnic


def _merge(config: Any, live: Any, name: Callable[[Any], str], keep_all: bool = False) -> list[Any]:
    """``config``'s objects that ``live`` still has (all of them with ``keep_all``), then ``live``'s new ones."""
    live_items = list(live or [])
    live_names = {name(x) for x in live_items}
    kept = [x for x in config or [] if keep_all or name(x) in live_names]
    kept_names = {name(x) for x in kept}
    return kept + [x for x in live_items if name(x) not in kept_names]


def _groups_by_key(info: Any) -> dict[str, Any]:
    """Port groups by the key a vSwitch names them with; vcsim 0.24 names them by their name instead."""
    groups: dict[str, Any] = {}
    for group in info.portgroup or []:
        groups[str(group.key)] = group
        groups.setdefault(str(group.spec.name), group)
    return groups


def _text(value: str) -> str:
    return escape(value)


def _attr(value: str) -> str:
    """An attribute value as virBufferEscapeString writes it, in single quotes."""
    return "'" + escape(value, {"'": "&apos;", '"': "&quot;"}) + "'"
