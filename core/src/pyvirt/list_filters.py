"""The "list all" flag groups libvirt's virConnectListAll* APIs share.

Each group is a (yes-bit, no-bit, property) triple: when either bit is set,
the object must have the property (yes) or lack it (no). Groups combine
with AND; the two bits of one group combine with OR, as in libvirt.
"""

from __future__ import annotations

from _collections_abc import Iterable, Mapping

__all__ = ["ACTIVE_PERSISTENT_AUTOSTART", "matches_flag_groups"]

# virConnectListAllNetworks / virConnectListAllStoragePools: INACTIVE 1, ACTIVE 2, PERSISTENT 4,
# TRANSIENT 8, AUTOSTART 16, NO_AUTOSTART 32.
ACTIVE_PERSISTENT_AUTOSTART = ((2, 1, "active"), (4, 8, "persistent"), (16, 32, "autostart"))


def matches_flag_groups(flags: int, facts: Mapping[str, bool], groups: Iterable[tuple[int, int, str]]) -> bool:
    for yes, no, key in groups:
        if flags & (yes | no) and not ((flags & yes and facts[key]) or (flags & no and not facts[key])):
            return False
    return True
