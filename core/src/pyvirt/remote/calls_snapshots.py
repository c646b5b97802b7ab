"""The call table's rows for domain snapshots and checkpoints.

Part of :data:`pyvirt.remote.calls.CALLS` (see there), loaded when one of its hooks is first called.
"""

from __future__ import annotations

from pyvirt.plugin import records as _records
from pyvirt.remote.calls import _ALL, _first, _one, _wd, domain_ref, wire_domain

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pyvirt.plugin.records import CheckpointRef, SnapshotRef
    from pyvirt.remote.calls import RemoteCall

__all__ = ["ROWS"]


def _snapshot_ref(w: Any) -> SnapshotRef:
    return _records.SnapshotRef(domain_ref(w[1]), w[0])


def _wire_snapshot(s: SnapshotRef) -> tuple[str, tuple[str, bytes, int]]:
    return (s.name, wire_domain(s.domain))


def _checkpoint_ref(w: Any) -> CheckpointRef:
    return _records.CheckpointRef(domain_ref(w[1]), w[0])


def _wire_checkpoint(c: CheckpointRef) -> tuple[str, tuple[str, bytes, int]]:
    return (c.name, wire_domain(c.domain))


# fmt: off
ROWS: tuple[RemoteCall, ...] = (
    _one("checkpoint_create_xml", "DOMAIN_CHECKPOINT_CREATE_XML", lambda dom, xml, flags: (_wd(dom), xml, flags),
         lambda w: _checkpoint_ref(w[0])),
    _one("checkpoint_list_names", "DOMAIN_LIST_ALL_CHECKPOINTS", lambda dom, flags: (_wd(dom), _ALL, flags),
         lambda w: [c[0] for c in w[0]]),
    _one("checkpoint_list_children", "DOMAIN_CHECKPOINT_LIST_ALL_CHILDREN",
         lambda chk, flags: (_wire_checkpoint(chk), _ALL, flags), lambda w: [c[0] for c in w[0]]),
    _one("checkpoint_lookup_by_name", "DOMAIN_CHECKPOINT_LOOKUP_BY_NAME",
         lambda dom, name, flags: (_wd(dom), name, flags), lambda w: _checkpoint_ref(w[0])),
    _one("checkpoint_get_xml_desc", "DOMAIN_CHECKPOINT_GET_XML_DESC",
         lambda chk, flags: (_wire_checkpoint(chk), flags), _first),
    _one("checkpoint_get_parent", "DOMAIN_CHECKPOINT_GET_PARENT", lambda chk, flags: (_wire_checkpoint(chk), flags),
         lambda w: _checkpoint_ref(w[0])),
    _one("checkpoint_delete", "DOMAIN_CHECKPOINT_DELETE", lambda chk, flags: (_wire_checkpoint(chk), flags)),
    _one("snapshot_create_xml", "DOMAIN_SNAPSHOT_CREATE_XML", lambda dom, xml, flags: (_wd(dom), xml, flags),
         lambda w: _snapshot_ref(w[0])),
    _one("snapshot_list_names", "DOMAIN_LIST_ALL_SNAPSHOTS", lambda dom, flags: (_wd(dom), _ALL, flags),
         lambda w: [s[0] for s in w[0]]),
    _one("snapshot_lookup_by_name", "DOMAIN_SNAPSHOT_LOOKUP_BY_NAME", lambda dom, name: (_wd(dom), name, 0),
         lambda w: _snapshot_ref(w[0])),
    _one("snapshot_current", "DOMAIN_SNAPSHOT_CURRENT", lambda dom: (_wd(dom), 0), lambda w: _snapshot_ref(w[0])),
    _one("snapshot_get_xml_desc", "DOMAIN_SNAPSHOT_GET_XML_DESC",
         lambda snap, flags: (_wire_snapshot(snap), flags), _first),
    _one("snapshot_get_parent", "DOMAIN_SNAPSHOT_GET_PARENT", lambda snap: (_wire_snapshot(snap), 0),
         lambda w: _snapshot_ref(w[0])),
    _one("snapshot_revert", "DOMAIN_REVERT_TO_SNAPSHOT", lambda snap, flags: (_wire_snapshot(snap), flags)),
    _one("snapshot_delete", "DOMAIN_SNAPSHOT_DELETE", lambda snap, flags: (_wire_snapshot(snap), flags)),
)
# fmt: on
