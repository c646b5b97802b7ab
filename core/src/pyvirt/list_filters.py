"""The "list all" flag groups libvirt's virConnectListAll* APIs share.

Each group is a (yes-bit, no-bit, property) triple: when either bit is set,
the object must have the property (yes) or lack it (no). Groups combine
with AND; the two bits of one group combine with OR, as in libvirt.
"""

from __future__ import annotations

from _collections_abc import Iterable, Mapping

__all__ = [
    "ACTIVE_PERSISTENT_AUTOSTART",
    "ACTIVE_PERSISTENT_AUTOSTART_BITS",
    "LIST_ACTIVE",
    "LIST_AUTOSTART",
    "LIST_INACTIVE",
    "LIST_NO_AUTOSTART",
    "LIST_PERSISTENT",
    "LIST_TRANSIENT",
    "matches_flag_groups",
]

# virConnectListAllNetworks and virConnectListAllStoragePools share these bits. pyvirt.flags names them
# (ConnectListAllNetworksFlags, ConnectListAllStoragePoolsFlags) but is not loaded on a short client run;
# test_flag_literals checks each value against both classes.
LIST_INACTIVE = 1 << 0  # VIR_CONNECT_LIST_NETWORKS_INACTIVE, VIR_CONNECT_LIST_STORAGE_POOLS_INACTIVE
LIST_ACTIVE = 1 << 1  # VIR_CONNECT_LIST_NETWORKS_ACTIVE, VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE
LIST_PERSISTENT = 1 << 2  # VIR_CONNECT_LIST_NETWORKS_PERSISTENT, VIR_CONNECT_LIST_STORAGE_POOLS_PERSISTENT
LIST_TRANSIENT = 1 << 3  # VIR_CONNECT_LIST_NETWORKS_TRANSIENT, VIR_CONNECT_LIST_STORAGE_POOLS_TRANSIENT
LIST_AUTOSTART = 1 << 4  # VIR_CONNECT_LIST_NETWORKS_AUTOSTART, VIR_CONNECT_LIST_STORAGE_POOLS_AUTOSTART
LIST_NO_AUTOSTART = 1 << 5  # VIR_CONNECT_LIST_NETWORKS_NO_AUTOSTART, VIR_CONNECT_LIST_STORAGE_POOLS_NO_AUTOSTART

ACTIVE_PERSISTENT_AUTOSTART = (
    (LIST_ACTIVE, LIST_INACTIVE, "active"),
    (LIST_PERSISTENT, LIST_TRANSIENT, "persistent"),
    (LIST_AUTOSTART, LIST_NO_AUTOSTART, "autostart"),
)
ACTIVE_PERSISTENT_AUTOSTART_BITS = sum(yes | no for yes, no, _ in ACTIVE_PERSISTENT_AUTOSTART)
"""Every bit of those groups: a pool list's other bits (the pool types) are filtered elsewhere."""


def matches_flag_groups(flags: int, facts: Mapping[str, bool], groups: Iterable[tuple[int, int, str]]) -> bool:
    for yes, no, key in groups:
        if flags & (yes | no) and not ((flags & yes and facts[key]) or (flags & no and not facts[key])):
            return False
    return True
