"""The ``<domain>`` a checkpoint or snapshot of a running QEMU guest embeds, as libvirt 9.0 makes it.

qemuCheckpointPrepare and qemuSnapshotPrepare do not copy the live
definition: they format it as qemuDomainDefFormatLive(inactive, compatible)
does (SECURE | INACTIVE | MIGRATABLE) and parse that text back with
VIR_DOMAIN_DEF_PARSE_INACTIVE, the driver's post-parse included. What the
document then shows is what that round trip leaves, and it differs from
both the live XML and a plain inactive format of it:

- the migratable format drops what older libvirt added by itself (the sole
  default USB controller of an i440fx machine, a lone ``pci-root``, the PS/2
  keyboard, a DAC label the security manager generated, a graphics listen
  address or socket filled in from qemu.conf at start): the parse adds the
  controllers and keyboard back, after the ones the XML names, which is why
  libvirt's copy lists ``ide`` before ``usb`` and ``pci``;
- the inactive parse forgets the aliases libvirt chose (a user's ``ua-``
  alias stays) and the image indexes;
- the chain libvirt probed at start survives: a disk whose image has no
  backing file keeps its closing ``<backingStore/>`` (a probed backing file
  is "detected" and is not written, so such a disk shows none).

pyvirt does not probe chains when a guest starts, so the terminator is
found here from the image's own header. A stopped guest's definition makes
the same round trip (without terminators: nothing was probed).
"""

from __future__ import annotations

import json
import struct

from lxml import etree

from pyvirt.conf.domain import Domain, format_domain, parse_domain
from pyvirt.conf.domain_devices import BackingStore, Controller, Disk
from pyvirt.flags import DomainXMLFlags
from pyvirt.local_driver.paths import DriverPaths
from pyvirt.util.command import Command
from pyvirt_qemu.domain_defaults import apply_defaults
from pyvirt_qemu.pci_addresses import is_i440fx

__all__ = ["moment_domain"]

_USER_ALIAS = "ua-"
_QCOW2_MAGIC = b"QFI\xfb"


def moment_domain(current: Domain, paths: DriverPaths, running: bool = True) -> Domain:
    """The definition a new checkpoint or snapshot records for a guest whose current definition (the live one
    of a ``running`` guest, else its inactive one) is ``current``, which is left as it is. Only a running
    guest's chains were probed."""
    copy = current.model_copy(deep=True)
    for disk in copy.devices.disks if copy.devices is not None and running else []:
        if disk.backing is None and _ends_chain(disk):
            disk.backing = BackingStore()  # qemuDomainDetermineDiskChain's terminator
    _drop_for_migration(copy)
    root = etree.fromstring(format_domain(copy, DomainXMLFlags.INACTIVE | DomainXMLFlags.SECURE).encode())
    for device in root.iterfind("devices/*"):  # virDomainDeviceInfoParseXML with PARSE_INACTIVE
        alias = device.find("alias")
        if alias is not None and not (alias.get("name") or "").startswith(_USER_ALIAS):
            device.remove(alias)
    return apply_defaults(parse_domain(etree.tostring(root, encoding="unicode")), paths.cache, new_domain=False,
                          channel_dir=paths.lib)  # fmt: skip


def _drop_for_migration(dom: Domain) -> None:
    """qemuDomainDefFormatBufInternal's MIGRATABLE part, and virDomainDefFormatInternal's (the keyboard, the
    generated DAC label), for what an x86 guest can have."""
    devices = dom.devices
    if devices is not None:
        usb = [c for c in devices.controllers if c.type == "usb"]
        pci = [c for c in devices.controllers if c.type == "pci"]
        drop = []
        if is_i440fx(dom) and len(usb) == 1 and not usb[0].index and usb[0].model in (None, "piix3-uhci") \
                and not _user_alias(usb[0]):  # fmt: skip
            drop.append(usb[0])
        if len(pci) == 1 and not pci[0].index and pci[0].model == "pci-root" and not _user_alias(pci[0]):
            drop.append(pci[0])
        devices.controllers = [c for c in devices.controllers if not any(c is d for d in drop)]
        devices.inputs = [i for i in devices.inputs if not (i.type == "keyboard" and i.bus in ("ps2", "xen"))]
        for g in devices.graphics:  # listens from qemu.conf, made-up sockets (virDomainGraphicsListenDefFormat)
            first = g.listens[0] if g.listens else None
            if first is not None and (first.from_config or first.auto_generated):
                g.listen = g.socket = None
            for listen in g.listens or []:
                if listen.auto_generated:
                    listen.socket = None
            g.listens = [listen for listen in g.listens or [] if not listen.from_config] or None
    dom.seclabels = [s for s in dom.seclabels or [] if not (s.implicit and s.model in ("dac", "none"))] or None


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
