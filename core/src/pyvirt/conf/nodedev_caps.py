"""virNodeDevCapType's names in libvirt 9.0, in its order: the one list of node-device capability types.

Two places need the same names and must not drift apart: a ``<capability
type>`` that a driver parses (the test driver's vHBA creation refuses any
other) and ``nodedev-list --cap`` (virsh refuses any other before asking the
driver). This module imports nothing, so either may load it only when a
capability is actually checked. The order is libvirt's enum, so a test holds
it to libvirt's source.
"""

from __future__ import annotations

__all__ = ["NODEDEV_CAP_TYPES"]

NODEDEV_CAP_TYPES: tuple[str, ...] = (
    "system", "pci", "usb_device", "usb", "net", "scsi_host", "scsi_target", "scsi", "storage", "fc_host",
    "vports", "scsi_generic", "drm", "mdev_types", "mdev", "ccw", "css", "vdpa", "ap_card", "ap_queue",
    "ap_matrix", "vpd",
)  # fmt: skip
