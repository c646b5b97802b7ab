"""libvirt's generic domain parse rules and post-parse defaults, driver-independent.

Kept apart from the models so each rule reads as libvirt's documentation
states it: what is refused (with libvirt's message) and what default is
filled in. Driver-specific defaults (arch, implicit devices) stay in drivers.
"""

from __future__ import annotations

from pyvirt.conf.domain_devices import (
    Address,
    Chardev,
    ChardevSource,
    Controller,
    Devices,
    DiskHost,
    Graphics,
    GraphicsListen,
    Interface,
    Rng,
    Video,
)
from pyvirt.conf.units import parse_scaled
from pyvirt.errors import ErrorCode, InternalError, XMLError

__all__ = ["apply_device_rules"]

# Which <source> attributes each interface type uses; libvirt ignores the others.
_IFACE_SOURCE = {
    "network": ("source_network", "source_portgroup"),
    "bridge": ("source_bridge",),
    "direct": ("source_dev", "source_mode"),
    "udp": ("source_address", "source_port"),
    "mcast": ("source_address", "source_port"),
    "server": ("source_address", "source_port"),
    "client": ("source_address", "source_port"),
    "ethernet": (),
    "user": (),
}
_IFACE_SOURCE_ATTRS = ("source_network", "source_portgroup", "source_bridge", "source_dev", "source_mode",
                       "source_address", "source_port")  # fmt: skip


def _xml_error(msg: str) -> XMLError:
    return XMLError(ErrorCode.XML_ERROR, msg)


def _interface(iface: Interface, live: bool) -> None:
    keep = _IFACE_SOURCE.get(iface.type or "")
    if keep is None:
        return
    if live and iface.type == "network":  # a running guest's NIC names the bridge it joined, as libvirt's live XML
        keep = (*keep, "source_bridge")
    for attr in _IFACE_SOURCE_ATTRS:
        if attr not in keep:
            setattr(iface, attr, None)


def _graphics(g: Graphics, live: bool) -> None:
    """Listen elements and the legacy ``listen``/``socket`` attributes, reconciled as libvirt does.

    An automatic port reads as -1 in a definition; live XML keeps the port the running display has.
    """
    if g.type not in ("vnc", "spice", "rdp"):
        return
    listens = g.listens or []
    for ln in listens:
        if ln.type == "network" and not ln.network:
            raise _xml_error("'network' attribute is required for listen type 'network'")
    if g.type == "vnc":
        if g.socket is not None:
            sock = next((ln for ln in listens if ln.type == "socket"), None)
            if sock is not None and sock.socket and sock.socket != g.socket:
                raise _xml_error(
                    f"graphics 'socket' attribute '{g.socket}' does not match 'socket' attribute of first "
                    f"listen element (found '{sock.socket}')"
                )
            g.listens = [GraphicsListen(type="socket", socket=g.socket)]
        if g.listens and g.listens[0].type == "socket":
            # virDomainGraphicsDefFormat: a display on a socket shows its path (if it has one yet), no port
            g.socket, g.port, g.autoport = g.listens[0].socket, None, None
            return
        if g.autoport is True or g.port == -1 or (g.port is None and g.autoport is None):
            g.autoport = True
            if not live or g.port is None or g.port <= 0:
                g.port = -1
    if g.listen is not None:
        first = next((ln for ln in listens if ln.type == "address"), None)
        if first is not None and first.address and first.address != g.listen:
            raise _xml_error(
                f"graphics 'listen' attribute '{g.listen}' must match 'address' attribute of first listen "
                f"element (found '{first.address}')"
            )
    if g.type == "spice":
        if g.port == -1 and g.tlsPort == -1:
            g.autoport = True  # the legacy spelling of autoport
        if g.autoport and not live:
            g.port = g.tlsPort = None
    if not listens:
        g.listens = [GraphicsListen(type="address", address=g.listen)]
        if g.type == "spice" and g.listen is None and not g.port and not g.tlsPort and not g.autoport:
            # no port, no TLS port, no autoport: SPICE listens nowhere (libvirt's listen type 'none')
            g.listens = [GraphicsListen(type="none")]
    elif g.listen is None and listens[0].type == "address" and listens[0].address:
        g.listen = listens[0].address


def _validate_error(msg: str) -> InternalError:
    """A missing source attribute is found by libvirt's validator (virDomainChrSourceDefValidate), which reports
    an internal error, not an XML one."""
    return InternalError(ErrorCode.INTERNAL_ERROR, msg)


def _chardev_sources(dev: Chardev, what: str) -> None:
    """tcp/udp/unix sources: libvirt's required attributes, defaults and ordering."""
    sources = dev.sources or []
    kind = dev.type
    if kind == "tcp":
        if len(sources) > 1:
            raise _xml_error("only one source element is allowed for character device")
        src = sources[0] if sources else ChardevSource()
        src.mode = src.mode or "connect"
        # libvirt checks for an absent attribute; an empty one goes through (virDomainChrSourceDefValidate)
        if src.host is None:
            raise _validate_error("Missing source host attribute for char device")
        if src.service is None:
            raise _validate_error("Missing source service attribute for char device")
        _reconnect(src)
        dev.sources = [src]
        if dev.protocol is None:
            dev.protocol = "raw"
    elif kind == "udp":
        connect = [s for s in sources if (s.mode or "connect") == "connect"]
        bind = [s for s in sources if s.mode == "bind"]
        if len(connect) > 1 or len(bind) > 1:
            raise _xml_error("only one source element of each mode is allowed for udp character device")
        if not connect or connect[0].service is None:
            raise _validate_error("Missing source service attribute for char device")
        connect[0].mode = "connect"
        dev.sources = bind + connect
    elif kind == "unix":
        # virDomainChrSourceDefValidate: only a virtio or Xen channel may leave its path to the driver
        generated = what == "channel" and dev.target_type in ("virtio", "xen")
        if not generated and not any(s.path for s in sources):
            raise _validate_error("Missing source path attribute for char device")
        # A unix chardev without a path gets one generated at start; the inactive XML has no source.
        sources = [s for s in sources if s.path]
        for src in sources:
            src.mode = src.mode or "connect"
            _reconnect(src)
        dev.sources = sources or None


def _reconnect(src: ChardevSource) -> None:
    rc = src.reconnect
    if rc is None:
        return
    if rc.enabled and src.mode != "connect":
        raise _validate_error("chardev reconnect is possible only for connect mode")
    if rc.enabled and rc.timeout is None:
        raise _xml_error("chardev reconnect is enabled but timeout is missing")


def _number_ports(group: list[Chardev]) -> None:
    """virDomainChrDefPostParse: a serial or parallel port without a target port takes the one
    after the highest of its kind."""
    for dev in group:
        if dev.target_port is None:
            ports = [int(p) for p in (d.target_port for d in group) if p is not None and p.lstrip("-").isdigit()]
            dev.target_port = str(max(ports, default=-1) + 1)


def _rng(rng: Rng) -> None:
    backend = rng.backend
    if backend is not None and backend.model == "random" and not backend.path:
        backend.path = "/dev/random"  # virDomainRNGDefPostParse's default source, written into the definition
    if backend is None or backend.model != "egd":
        return
    fake = Chardev(type=backend.type, sources=backend.sources)
    _chardev_sources(fake, "rng")
    backend.sources = fake.sources


_USB2_MODELS = ("ich9-ehci1", "ich9-uhci1", "ich9-uhci2", "ich9-uhci3")
_UHCI_STARTPORT = {"ich9-uhci1": 0, "ich9-uhci2": 2, "ich9-uhci3": 4}  # each companion serves two EHCI ports


def _usb2_group_index(controllers: list[Controller], pos: int) -> int | None:
    """libvirt's virDomainAssignControllerIndexes: an unindexed EHCI/UHCI companion joins the USB2 group
    just before it (the previous USB controller, when that is a USB2 one whose index has no controller of
    this model yet), so virt-install's four index-less ICH9 controllers form one bus, as libvirt makes them."""
    c = controllers[pos]
    if c.type != "usb" or c.model not in _USB2_MODELS:
        return None
    prev = next((p for p in reversed(controllers[:pos]) if p.type == "usb"), None)
    if prev is None or prev.model not in _USB2_MODELS or prev.index is None:
        return None
    if any(x.type == "usb" and x.index == prev.index and x.model == c.model for x in controllers):
        return None
    return prev.index


def _parser_order(controllers: list[Controller]) -> list[Controller]:
    """virDomainControllerInsertPreAlloced as libvirt's parser calls it, before indexes are assigned: one type
    together, in index order, a master before its companions; a controller without an index goes after the last
    one of its type so far (so virt-install's index-less root ports written before the pcie-root stay there)."""
    out: list[Controller] = []
    for new in controllers:
        at = -1
        for i in range(len(out) - 1, -1, -1):
            cur = out[i]
            if cur.type != new.type:
                continue
            if new.index is None:
                at = i + 1
                break
            cur_index = -1 if cur.index is None else cur.index
            if cur_index > new.index or (new.master_startport is None and cur.master_startport is not None
                                         and cur_index == new.index):  # fmt: skip
                at = i
            elif at == -1:
                at = i + 1
        out.insert(len(out) if at == -1 else at, new)
    return out


def _controllers(devices: Devices) -> None:
    """A controller without an index gets the lowest free one of its type; smartcards need a ccid."""
    for c in devices.controllers:
        if c.target_node is not None and c.target_node < 0:  # virDomainControllerDefParseXML
            raise _xml_error("invalid NUMA node in target")
        if c.type == "usb" and c.master_startport is None and c.model in _UHCI_STARTPORT:
            c.master_startport = _UHCI_STARTPORT[c.model]  # libvirt's parser: a UHCI companion is never masterless
    devices.controllers = _parser_order(devices.controllers)
    used: dict[str | None, set[int]] = {}
    for c in devices.controllers:
        if c.index is not None:
            taken = used.setdefault(c.type, set())
            if c.index in taken and c.type != "usb":  # several USB controllers may share an index (companions)
                raise _xml_error(f"Multiple '{c.type}' controllers with index '{c.index}'")
            taken.add(c.index)
    for pos, c in enumerate(devices.controllers):
        if c.index is None:
            taken = used.setdefault(c.type, set())
            companion = _usb2_group_index(devices.controllers, pos)
            c.index = companion if companion is not None else next(i for i in range(len(taken) + 1) if i not in taken)
            taken.add(c.index)
    if devices.smartcards and not any(c.type == "ccid" for c in devices.controllers):
        devices.controllers = [*devices.controllers, Controller(type="ccid", index=0, implicit=True)]
    for slot, card in enumerate(devices.smartcards):
        if card.address is None:
            card.address = Address(attrs={"type": "ccid", "controller": "0", "slot": str(slot)})


# virStorageSourceNetworkDefaultPort (none for RBD and NFS)
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ftps": 990, "tftp": 69, "sheepdog": 7000, "nbd": 10809,
                  "ssh": 22, "iscsi": 3260, "gluster": 24007, "vxhs": 9999}  # fmt: skip


def default_ports(protocol: str | None, hosts: list[DiskHost] | None) -> None:
    """virStorageSourceNetworkAssignDefaultPorts: a TCP host without a port gets its protocol's own."""
    port = _DEFAULT_PORTS.get(protocol or "")
    for host in hosts or []:
        if port is not None and host.transport in (None, "tcp") and not host.port:
            host.port = str(port)


def _iscsi_lun(iqn: str) -> str:
    """virDomainPostParseCheckISCSIPath: an iSCSI target named without its LUN means LUN 0."""
    return iqn if "/" in iqn else f"{iqn}/0"


def apply_device_rules(devices: Devices, *, live: bool = False) -> None:
    for disk in devices.disks:
        # virDomainDiskDefParseXML: a file disk unless it says otherwise, a plain disk unless it is a cdrom,
        # floppy or LUN; both always written
        disk.type = disk.type or "file"
        disk.device = disk.device or "disk"
        if disk.type == "vhostuser" and disk.snapshot is None:
            disk.snapshot = "no"  # virDomainDiskDefPostParse: vhost-user cannot be snapshotted
        if disk.type == "nvme" and disk.source_managed is None:
            disk.source_managed = True
        if not live:  # image indexes and a block copy's <mirror> are runtime state, read from live XML only
            disk.source_index = None
            disk.mirror = None
            layer = disk.backing
            while layer is not None:
                layer.index, layer = None, layer.backing
        if disk.type == "network" and disk.source_protocol == "iscsi" and disk.source_name:
            disk.source_name = _iscsi_lun(disk.source_name)
        if disk.type == "network":
            default_ports(disk.source_protocol, disk.source_hosts)
        layer = disk.backing
        while layer is not None:
            if layer.type == "network":
                default_ports(layer.source_protocol, layer.source_hosts)
            layer = layer.backing
    for hostdev in devices.hostdevs:
        src = hostdev.source
        if hostdev.type == "scsi" and src is not None and src.protocol == "iscsi" and src.name:
            src.name = _iscsi_lun(src.name)
    for iface in devices.interfaces:
        _interface(iface, live)
    for g in devices.graphics:
        _graphics(g, live)
    for group in (devices.serials, devices.parallels, devices.consoles):
        for dev in group:
            _chardev_sources(dev, "chardev")
    for dev in devices.channels:
        _chardev_sources(dev, "channel")
    if not live:
        for channel in devices.channels:
            channel.target_state = None  # the guest agent's connection: live XML only, as libvirt parses it
    for group in (devices.serials, devices.parallels):
        _number_ports(group)
    for i, console in enumerate(devices.consoles):
        console.target_port = str(i)  # virDomainDefParseXML: a console's port is its position, whatever it says
    for rng in devices.rngs:
        _rng(rng)
    for card in devices.smartcards:
        if card.type in ("unix", "tcp", "udp"):
            fake = Chardev(type=card.type, sources=card.sources)
            _chardev_sources(fake, "smartcard")
            card.sources = fake.sources
    for redir in devices.redirdevs:
        fake = Chardev(type=redir.type, sources=redir.sources)
        _chardev_sources(fake, "redirdev")
        redir.sources, redir.protocol = fake.sources, redir.protocol or fake.protocol
    for fs in devices.filesystems:
        fs.accessmode = fs.accessmode or None  # '' is the enum's default entry: none given
        if fs.accessmode is None and not fs.source_socket:  # virDomainFSDefPostParse
            fs.accessmode = "passthrough"
        if fs.type == "ram" and fs.source_usage is not None:
            # kept in bytes by libvirt, formatted in KiB whatever unit came in
            kib = parse_scaled(str(fs.source_usage), fs.source_units, "source", default_unit="KiB") // 1024
            fs.source_usage, fs.source_units = kib, "KiB"
    _controllers(devices)
    if any(v.model_primary for v in devices.videos[1:]):
        # virDomainDefParseXML inserts a video marked primary at the front, as it reads it
        ordered: list[Video] = []
        for video in devices.videos:
            ordered.insert(0 if video.model_primary else len(ordered), video)
        devices.videos = ordered
    if devices.videos and devices.videos[0].model_primary is None and devices.videos[0].model_type != "none":
        devices.videos[0].model_primary = True
