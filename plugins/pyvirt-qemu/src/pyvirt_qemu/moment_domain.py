"""The migratable copy of a QEMU guest's definition, and the ``<domain>`` a checkpoint or snapshot embeds.

libvirt's qemuDomainDefFormatBufInternal makes the migratable copy: it
formats the definition SECURE | INACTIVE | MIGRATABLE, parses that text back
with VIR_DOMAIN_DEF_PARSE_INACTIVE (the driver's post-parse included:
virDomainDefCopy), drops from the copy what older libvirt added by itself,
and formats the copy MIGRATABLE with the caller's other flags. ``virsh
dumpxml --migratable``, the domain XML a migration sends and the copy of
checkpoints and snapshots all come from it. What the round trip leaves
differs from both the live XML and a plain inactive format of it:

- the migratable format leaves out the PS/2 keyboard, a DAC label the
  security manager generated at start, a graphics listen address or socket
  filled in from qemu.conf at start and a socket path libvirt made up; the
  copy then loses the sole default USB controller of an i440fx machine, a
  lone ``pci-root`` and the audio backend the driver would add anyway;
- the inactive parse forgets the aliases libvirt chose (a user's ``ua-``
  alias stays), the image indexes, the pty paths and the ports an autoport
  display was given; it forgets a virtio channel's socket path the driver
  generated;
- the chain libvirt probed at start survives: a disk whose image has no
  backing file keeps its closing ``<backingStore/>`` (a probed backing file
  is "detected" and is not written, so such a disk shows none).

qemuCheckpointPrepare and qemuSnapshotPrepare parse the migratable text once
more (PARSE_INACTIVE, post-parse): that brings the default controllers and
keyboard back, after the ones the XML names, which is why libvirt's copy
lists ``ide`` before ``usb`` and ``pci``.

pyvirt does not probe chains when a guest starts, so the terminator is
found here from the image's own header. A stopped guest's definition makes
the same round trip (without terminators: nothing was probed).
"""

from __future__ import annotations

import json
import struct

from lxml import etree

from pyvirt.conf.domain import CpuFeature, Domain, format_domain, parse_domain
from pyvirt.conf.domain_devices import Audio, BackingStore, Controller, Disk, Graphics, GraphicsListen
from pyvirt.flags import DomainXMLFlags
from pyvirt.local_driver.paths import DriverPaths
from pyvirt.util.command import Command
from pyvirt_qemu.domain_defaults import _default_audio, apply_defaults
from pyvirt_qemu.pci_addresses import is_i440fx

__all__ = ["migratable_domain", "migratable_xml", "moment_domain"]

_USER_ALIAS = "ua-"
_QCOW2_MAGIC = b"QFI\xfb"
_ICELAKE = "Icelake-Server"


def migratable_domain(current: Domain, paths: DriverPaths, running: bool = True) -> Domain:
    """qemuDomainDefFormatBufInternal's MIGRATABLE copy of ``current`` (the live definition of a ``running``
    guest, else an inactive one), which is left as it is. Only a running guest's chains were probed."""
    copy = current.model_copy(deep=True)
    for disk in copy.devices.disks if copy.devices is not None and running else []:
        if disk.backing is None and _ends_chain(disk):
            disk.backing = BackingStore()  # qemuDomainDetermineDiskChain's terminator
    _leave_out_of_format(copy)
    root = etree.fromstring(format_domain(copy, DomainXMLFlags.INACTIVE | DomainXMLFlags.SECURE).encode())
    for device in root.iterfind("devices/*"):  # virDomainDeviceInfoParseXML with PARSE_INACTIVE
        alias = device.find("alias")
        if alias is not None and not (alias.get("name") or "").startswith(_USER_ALIAS):
            device.remove(alias)
    parsed = apply_defaults(parse_domain(etree.tostring(root, encoding="unicode")), paths.cache, new_domain=False,
                            channel_dir=paths.lib)  # fmt: skip
    _drop_for_migration(parsed)
    _leave_out_of_format(parsed)  # the copy is formatted MIGRATABLE too: the keyboard the post-parse added
    return parsed


def migratable_xml(current: Domain, paths: DriverPaths, flags: int, running: bool = True) -> str:
    """qemuDomainDefFormatXMLInternal with VIR_DOMAIN_XML_MIGRATABLE: the copy, formatted with ``flags`` and
    SECURE (QEMU_DOMAIN_FORMAT_LIVE_FLAGS, which qemuDomainGetXMLDesc adds to a migratable request). The copy
    was parsed as a definition, so it has no id to print."""
    return format_domain(migratable_domain(current, paths, running), flags | DomainXMLFlags.SECURE)


def moment_domain(current: Domain, paths: DriverPaths, running: bool = True) -> Domain:
    """The definition a new checkpoint or snapshot records for a guest whose current definition (the live one
    of a ``running`` guest, else its inactive one) is ``current``, which is left as it is:
    qemuDomainDefFormatLive(inactive, compatible) read back with PARSE_INACTIVE."""
    text = migratable_xml(current, paths, DomainXMLFlags.INACTIVE, running)
    return apply_defaults(parse_domain(text), paths.cache, new_domain=False, channel_dir=paths.lib)


def _leave_out_of_format(dom: Domain) -> None:
    """What virDomainDefFormatInternal leaves out of MIGRATABLE output, for what an x86 guest can have: the
    PS/2 keyboard (virDomainInputDefFormat), a DAC label generated at start (virSecurityLabelDefFormat), listens
    from qemu.conf and made-up sockets (virDomainGraphicsListenDefFormat, virDomainGraphicsDefFormat)."""
    devices = dom.devices
    if devices is not None:
        devices.inputs = [i for i in devices.inputs if not (i.type == "keyboard" and i.bus in ("ps2", "xen"))]
        for g in devices.graphics:
            first = g.listens[0] if g.listens else None
            if first is not None and (first.from_config or first.auto_generated):
                g.listen = g.socket = None
                if first.from_config and first.type == "socket" and g.type == "vnc":
                    g.autoport = True  # read back as listen type 'address', not 'none' (virDomainGraphicsDefFormat)
            for listen in g.listens or []:
                if listen.auto_generated:
                    listen.socket = None
            if g.type == "spice" and first is not None and first.type == "none":
                g.autoport = False  # old libvirt's spelling of a display listening nowhere
            g.listens = [listen for listen in g.listens or [] if not _left_out(g, listen)] or None
    dom.seclabels = [s for s in dom.seclabels or [] if not (s.implicit and s.model in ("dac", "none"))] or None


def _left_out(g: Graphics, listen: GraphicsListen) -> bool:
    """virDomainGraphicsDefFormat's MIGRATABLE listens: not one from qemu.conf, not a VNC socket the user named
    (the ``socket`` attribute says it, as old libvirt wrote it), not SPICE's listen type 'none'."""
    user_socket = g.type == "vnc" and listen.type == "socket" and bool(listen.socket) and not listen.auto_generated
    return listen.from_config or user_socket or (g.type == "spice" and listen.type == "none")


def _drop_for_migration(dom: Domain) -> None:
    """qemuDomainDefFormatBufInternal's MIGRATABLE part, for what an x86 guest can have: the default USB
    controller of an i440fx machine, a lone pci-root, the one audio backend the driver adds by default
    (qemuDomainDefClearDefaultAudioBackend); an Icelake-Server CPU says pconfig is off
    (qemuDomainMakeCPUMigratable: QEMU dropped that feature from the model, older libvirt assumes it on). A
    virtio channel's generated socket path is gone already: the post-parse forgot it
    (qemuDomainChrDefDropDefaultPath)."""
    cpu = dom.cpu
    if cpu is not None and cpu.mode in (None, "custom") and cpu.model is not None and cpu.model.name == _ICELAKE:
        pconfig = next((f for f in cpu.features or [] if f.name == "pconfig"), None)
        if pconfig is None:  # virCPUDefUpdateFeature
            cpu.features = [*(cpu.features or []), CpuFeature(policy="disable", name="pconfig")]
        else:
            pconfig.policy = "disable"
    devices = dom.devices
    if devices is None:
        return
    usb = [c for c in devices.controllers if c.type == "usb"]
    pci = [c for c in devices.controllers if c.type == "pci"]
    drop = []
    if is_i440fx(dom) and len(usb) == 1 and not usb[0].index and usb[0].model in (None, "piix3-uhci") \
            and not _user_alias(usb[0]):  # fmt: skip
        drop.append(usb[0])
    if len(pci) == 1 and not pci[0].index and pci[0].model == "pci-root" and not _user_alias(pci[0]):
        drop.append(pci[0])
    devices.controllers = [c for c in devices.controllers if not any(c is d for d in drop)]
    if len(devices.audios) == 1:
        default = _default_audio(dom)
        audio = devices.audios[0]
        expected = Audio(id=1, type=default, driver=audio.driver if default == "sdl" else None)
        if default is not None and audio == expected:  # virDomainAudioIsEqual
            devices.audios = []


def _user_alias(controller: Controller) -> bool:
    """virDomainDeviceAliasIsUserAlias: the user named it, so it is not libvirt's default one."""
    return controller.alias is not None and (controller.alias.name or "").startswith(_USER_ALIAS)


def _ends_chain(disk: Disk) -> bool:
    """Whether libvirt's probe at start ended the disk's chain at its own image: a local image with no
    backing file (a raw one never has one). An empty drive, a network disk and an image it cannot read get
    no terminator."""
    path = disk.source_file if disk.type == "file" else disk.source_dev if disk.type == "block" else None
    if not path:
        return False
    fmt = disk.driver_type or "raw"
    if fmt == "raw":
        return True
    try:
        with open(path, "rb") as image:
            header = image.read(16)
    except OSError:
        return False
    if fmt == "qcow2":
        return header[:4] == _QCOW2_MAGIC and struct.unpack(">Q", header[8:16])[0] == 0
    info = Command(["qemu-img", "info", "--output=json", "-U", "-f", fmt, path]).pass_env("PATH").capture_stdout()
    info.run(timeout=60, check=False)
    return info.exit_status == 0 and not json.loads(info.stdout or b"{}").get("backing-filename")
