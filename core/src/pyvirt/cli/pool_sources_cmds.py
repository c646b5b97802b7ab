"""``pyvirsh find-storage-pool-sources`` and ``find-storage-pool-sources-as``, as virsh 9.0's cmdPoolDiscoverSources*.

The ``-as`` form writes the ``<source>`` specification from its options the
way virsh does (text pasted in as given, no escaping: a quote in a host name
makes the daemon's parser fail, as it does with virsh).
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []


def _required_text(o: dict[str, Any], name: str) -> str | None:
    """vshCommandOptStringReq: an empty value is refused."""
    value: str | None = o[name]
    if value == "":
        raise CommandError(f"Failed to get option '{name}': Option argument is empty")
    return value


def _find(s: Session, kind: str, spec: str | None) -> None:
    try:
        found = s.conn.find_storage_pool_sources(kind, spec, 0)
    except Error as exc:
        raise CommandError(f"Failed to find any {kind} pool sources", exc.message) from None
    s.out_raw(found)


@command("find-storage-pool-sources", "discover potential storage pool sources",
         Opt("type", "type of storage pool sources to discover", required=True, positional=True),
         Opt("srcSpec", "optional file of source xml to query for pools", positional=True, kind="optstring"),
         description="Returns XML <sources> document.")  # fmt: skip
def cmd_find_storage_pool_sources(s: Session, o: dict[str, Any]) -> None:
    kind = _required_text(o, "type")
    assert kind is not None
    path = _required_text(o, "srcSpec")
    spec = None
    if path is not None:
        from pyvirt.util.fileio import MAX_XML_FILE, read_text_capped

        try:
            spec = read_text_capped(path, MAX_XML_FILE)
        except Error as exc:
            raise CommandError(exc.message) from None
    _find(s, kind, spec)


@command("find-storage-pool-sources-as", "find potential storage pool sources",
         Opt("type", "type of storage pool sources to find", required=True, positional=True),
         Opt("host", "optional host to query", positional=True, kind="optstring"),
         Opt("port", "optional port to query", positional=True, kind="optstring"),
         Opt("initiator", "optional initiator IQN to use for query", positional=True, kind="optstring"),
         description="Returns XML <sources> document.")  # fmt: skip
def cmd_find_storage_pool_sources_as(s: Session, o: dict[str, Any]) -> None:
    kind = _required_text(o, "type")
    assert kind is not None
    host = _required_text(o, "host")
    initiator = _required_text(o, "initiator")
    spec = None
    if host is not None:
        if o["port"] == "":
            raise CommandError("Failed to get option 'port': Option argument is empty", "missing argument")
        port = f" port='{o['port']}'" if o["port"] is not None else ""
        lines = ["<source>", f"  <host name='{host}'{port}/>"]
        if initiator is not None:
            lines += ["  <initiator>", f"    <iqn name='{initiator}'/>", "  </initiator>"]
        spec = "\n".join([*lines, "</source>", ""])
    _find(s, kind, spec)
