"""A disk's block nodes: ``-blockdev`` storage and format nodes for each image of its chain.

Each image gets a number (``libvirt-N-storage`` under ``libvirt-N-format``);
like libvirt the numbers are handed out from the last disk backwards, top
image first, and the number is written to the live XML as ``<source
index='N'>`` (``<backingStore index='N'>`` below it), which is where hotplug,
snapshots and statistics look a disk's nodes up again, in this process or in
one that reconnects later.
"""

from __future__ import annotations

import fcntl
import json
import os
from typing import Any

from lxml import etree

from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import BackingStore, Disk
from pyvirt.errors import ErrorCode, NotSupportedError
from pyvirt_qemu.network_disks import NbdTls, nbd_tls_objects, network_secret_objects, network_storage_props
from pyvirt_qemu.qemu_secrets import GuestSecrets

__all__ = ["CACHE_MODES", "assign_node_ids", "disk_blockdevs", "disk_source_args", "format_node", "is_cdrom",
           "next_node_id", "node_id"]  # fmt: skip

_CDROM_GET_CAPABILITY = 0x5331  # linux/cdrom.h

# cache mode -> (write-cache on the device, cache.direct, cache.no-flush); libvirt's table
CACHE_MODES: dict[str, tuple[bool, bool, bool]] = {
    "none": (True, True, False),
    "writethrough": (False, False, False),
    "writeback": (True, False, False),
    "directsync": (False, True, False),
    "unsafe": (True, False, True),
}


def is_cdrom(path: str) -> bool:
    """Whether a block device is a real CD-ROM drive (QEMU's host_cdrom then handles tray and media changes)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.ioctl(fd, _CDROM_GET_CAPABILITY)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _layers(disk: Disk) -> list[BackingStore | Disk]:
    """The chain top-down; an empty ``<backingStore/>`` ends it and is not a layer."""
    out: list[BackingStore | Disk] = [disk]
    layer = disk.backing
    while layer is not None and (layer.source_file or layer.source_dev or layer.type):
        out.append(layer)
        layer = layer.backing
    return out


def assign_node_ids(dom: Domain) -> None:
    """Number every image of every disk that has none yet, last disk first (libvirt's order)."""
    if dom.devices is None:
        return
    used = [i for disk in dom.devices.disks for i in _ids(disk) if i is not None]
    counter = max(used, default=0)
    for disk in reversed(dom.devices.disks):
        if disk.source_index is not None:
            continue
        for layer in _layers(disk):
            counter += 1
            if isinstance(layer, Disk):
                layer.source_index = counter
            else:
                layer.index = counter


def _ids(disk: Disk) -> list[int | None]:
    return [layer.source_index if isinstance(layer, Disk) else layer.index for layer in _layers(disk)]


def next_node_id(dom: Domain) -> int:
    """The number for a disk added to a running guest: one above every number in use."""
    used = [i for disk in (dom.devices.disks if dom.devices else []) for i in _ids(disk) if i is not None]
    return max(used, default=0) + 1


def has_media(disk: Disk) -> bool:
    """Whether the drive holds an image: a local file or device, or a network source."""
    return bool(
        disk.source_file
        or disk.source_dev
        or disk.source_dir
        or (disk.type in ("network", "volume") and disk.source_protocol)
    )  # (a volume: as translated)


def format_node(disk: Disk) -> str | None:
    """The top format node a device's ``drive`` property names; None for an empty drive."""
    if not has_media(disk) or disk.source_index is None:
        return None
    return f"libvirt-{disk.source_index}-format"


def _cache(disk: Disk) -> dict[str, Any]:
    mode = disk.driver_cache
    if mode in (None, "default"):
        return {}
    if mode not in CACHE_MODES:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unknown disk cache mode '{mode}'")
    _, direct, no_flush = CACHE_MODES[mode]
    return {"cache": {"direct": direct, "no-flush": no_flush}}


def _encryption(layer: Disk | BackingStore) -> tuple[str | None, str, str | None, str | None]:
    """(format, engine, secret uuid, secret usage) of an image's ``<encryption>`` (under ``<source>`` or, the
    old place, the disk's own)."""
    if isinstance(layer, Disk):
        fmt = layer.source_encryption_format or layer.encryption_format
        engine = layer.source_encryption_engine or layer.encryption_engine
        content = layer.source_encryption_content or layer.encryption_content
    else:
        fmt, engine, content = layer.source_encryption_format, layer.source_encryption_engine, \
            layer.source_encryption_content  # fmt: skip
    if fmt is None:
        return None, "qemu", None, None
    # (the model keeps the element's inner XML: wrapped to read its <secret>)
    secret = etree.fromstring(f"<encryption>{content}</encryption>").find("secret") if content else None
    uuid = secret.get("uuid") if secret is not None else None
    usage = secret.get("usage") if secret is not None else None
    return fmt, engine or "qemu", uuid, usage


def disk_source_args(disk: Disk, secrets: GuestSecrets | None, nbd_tls: NbdTls | None = None) -> list[str]:
    """``-object secret`` and ``-blockdev`` arguments of a disk, layer by layer from the bottom image, each
    layer's secrets (and NBD TLS credentials, ``nbd_tls`` being qemu.conf's) before its nodes
    (qemuBuildDiskSourceCommandLine's order)."""
    out: list[str] = []
    for objects, nodes in _layer_nodes(disk, secrets, nbd_tls=nbd_tls):
        for obj in objects:
            out += ["-object", json.dumps(obj, separators=(",", ":"))]
        for node in nodes:
            out += ["-blockdev", json.dumps(node, separators=(",", ":"))]
    return out


def disk_blockdevs(disk: Disk) -> list[dict[str, Any]]:
    """The nodes of a disk, bottom image first (QEMU needs a backing node before its user). They name their
    secrets (``libvirt-N-...-secret0``) without making them: only a start gives QEMU those objects."""
    return [node for _objects, nodes in _layer_nodes(disk, None, with_secrets=False) for node in nodes]


def _layer_nodes(disk: Disk, secrets: GuestSecrets | None, with_secrets: bool = True, nbd_tls: NbdTls | None = None,
                 ) -> list[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:  # fmt: skip
    """Per image, bottom first: (its secret objects, [storage node, format node])."""
    if not has_media(disk):
        return []
    layers = _layers(disk)
    out: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = []
    for depth in range(len(layers) - 1, -1, -1):
        layer = layers[depth]
        if isinstance(layer, Disk):
            node_id, path, kind, fmt = layer.source_index, layer.source_file or layer.source_dev or layer.source_dir, \
                layer.type, layer.driver_type  # fmt: skip
        else:
            node_id, path, kind, fmt = layer.index, layer.source_file or layer.source_dev, layer.type, layer.format
            settings = {"slices": layer.source_slice_type, "fdgroup": layer.source_fdgroup}
            named = [name for name, value in settings.items() if value is not None]
            if named:
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"backing image settings ({', '.join(named)}) "
                                        "are not supported by the QEMU driver yet")  # fmt: skip
        if kind == "volume":  # translated through the storage driver at start (volume_disks)
            kind = "network" if layer.source_protocol else "block" if layer.source_dev else \
                "dir" if isinstance(layer, Disk) and layer.source_dir else "file"  # fmt: skip
        network = kind == "network"
        if node_id is None or (not path and not network):
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "a disk image without a local path")
        if kind not in (None, "file", "block", "network", "dir"):
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"disk type '{kind}' is not supported yet")
        node = f"libvirt-{node_id}"
        proto = "file"
        if kind == "block":
            proto = "host_cdrom" if disk.device == "cdrom" and path and is_cdrom(path) else "host_device"
        cache = _cache(disk)
        aio = {"aio": disk.driver_io} if disk.driver_io else {}
        objects = network_secret_objects(layer, node, secrets) if network and with_secrets else []
        enc_format, engine, enc_uuid, enc_usage = _encryption(layer)
        encrypt: dict[str, Any] | None = None
        if enc_format is not None and with_secrets:
            if secrets is None:  # (a disk plugged into a running guest)
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "an encrypted image without the guest's "
                                        "master key is not supported by the QEMU driver yet")  # fmt: skip
            value = secrets.value("volume", enc_uuid, enc_usage, f"encryption of disk '{disk.target_dev}'")
            objects.append(secrets.secret_object(f"{node}-format-encryption-secret0", value))
        if enc_format is not None:
            encrypt = {"format": enc_format, "key-secret": f"{node}-format-encryption-secret0"}
        librbd = encrypt if engine == "librbd" else None
        if network and with_secrets:
            objects += nbd_tls_objects(layer, node, nbd_tls, secrets)
        where = network_storage_props(layer, node, librbd, nbd_tls) if network else {"driver": proto, "filename": path}
        if kind == "dir":  # a host directory QEMU shows as a FAT drive (qemuBlockStorageSourceGetVvfatProps)
            where = {"driver": "vvfat", "dir": path, "floppy": disk.device == "floppy", "rw": not disk.readonly}
        nodes: list[dict[str, Any]] = [{**where, **aio, "node-name": f"{node}-storage", **cache,
                                        "auto-read-only": True, "discard": "unmap"}]  # fmt: skip
        readonly = depth > 0 or bool(disk.readonly) or disk.device == "cdrom"
        fmt_node: dict[str, Any] = {"node-name": f"{node}-format", "read-only": readonly}
        if depth == 0 and disk.driver_discard:
            fmt_node["discard"] = disk.driver_discard
        if depth == 0 and disk.driver_detect_zeroes is not None:
            # virDomainDiskGetDetectZeroesMode: 'unmap' needs discard='unmap', else it is plain 'on'
            zeroes = disk.driver_detect_zeroes
            fmt_node["detect-zeroes"] = "on" if zeroes == "unmap" and disk.driver_discard != "unmap" else zeroes
        fmt_node.update(cache)
        if encrypt is not None and librbd is None and (fmt or "raw") == "raw":
            fmt_node.update({"driver": "luks", "key-secret": encrypt["key-secret"]})  # QEMU's LUKS driver decrypts
        elif encrypt is not None and librbd is None:
            fmt_node.update({"driver": fmt, "encrypt": encrypt})  # the qcow2 driver decrypts
        else:
            # a FAT image is emulated by the storage node (vvfat): a raw layer on top of it
            fmt_node["driver"] = "raw" if fmt in (None, "fat") else fmt
        cache_size = layer.driver_metadata_cache_max_size if isinstance(layer, Disk) else \
            layer.format_metadata_cache_max_size  # fmt: skip
        if cache_size and (fmt or "raw") == "qcow2":  # the qcow2 metadata cache, in bytes (<metadata_cache>)
            fmt_node["cache-size"] = cache_size
        fmt_node["file"] = f"{node}-storage"
        below = layers[depth + 1] if depth + 1 < len(layers) else None
        if below is not None:
            fmt_node["backing"] = (
                f"libvirt-{below.index if isinstance(below, BackingStore) else below.source_index}-format"
            )
        elif (layer.backing if isinstance(layer, (Disk, BackingStore)) else None) is not None and (
            fmt or "raw"
        ) != "raw":
            fmt_node["backing"] = None  # the chain is declared to end here
        nodes.append(fmt_node)
        out.append((objects, nodes))
    return out


def node_id(position: int, disk: Disk) -> int:
    """The number of a disk's top image: its ``<source index>`` on a running guest, else its position."""
    return disk.source_index if disk.source_index is not None else position
