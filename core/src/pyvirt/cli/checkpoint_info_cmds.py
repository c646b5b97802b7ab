"""``pyvirsh checkpoint-create``, ``checkpoint-info`` and ``checkpoint-parent`` over the checkpoint hooks.

virsh builds these from calls pyvirt already carries (create from XML,
lookup, parent, list children), so they are client-side here as in
virsh-checkpoint.c, with its wording and its order of checks.
"""

from __future__ import annotations

from pyvirt.cli.checkpoint_cmds import DOMAIN, _lookup, _parent_name
from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.errors import Error, ErrorCode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

_CREATE_REDEFINE = 1 << 0  # VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE
_CREATE_QUIESCE = 1 << 1  # VIR_DOMAIN_CHECKPOINT_CREATE_QUIESCE
_CREATE_REDEFINE_VALIDATE = 1 << 2  # VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE_VALIDATE
_LIST_DESCENDANTS = 1 << 0  # VIR_DOMAIN_CHECKPOINT_LIST_DESCENDANTS
# VSH_OT_STRING: may come by position, but help writes it "[--checkpointname <string>]"
_NAME = Opt("checkpointname", "checkpoint name", positional=True, kind="optstring")


@command("checkpoint-create", "Create a checkpoint from XML", DOMAIN,
         Opt("xmlfile", "domain checkpoint XML", positional=True, kind="optstring"),
         Opt("redefine", "redefine metadata for existing checkpoint", flag=True),
         Opt("redefine-validate", "validate the redefined checkpoint", flag=True),
         Opt("quiesce", "quiesce guest's file systems", flag=True),
         description="Create a checkpoint from XML for use in future incremental backups")  # fmt: skip
def cmd_checkpoint_create(s: Session, o: dict[str, Any]) -> None:
    """cmdCheckpointCreate: without a file the document is ``<domaincheckpoint/>`` (the driver names it)."""
    if o["redefine-validate"] and not o["redefine"]:
        raise CommandError("Option --redefine is required by option --redefine-validate")
    flags = (
        (_CREATE_REDEFINE if o["redefine"] else 0)
        | (_CREATE_REDEFINE_VALIDATE if o["redefine-validate"] else 0)
        | (_CREATE_QUIESCE if o["quiesce"] else 0)
    )
    dom = get_domain(s, o["domain"])
    source = o["xmlfile"]
    if source is None:
        xml = "<domaincheckpoint/>"
    else:
        from pyvirt.util.fileio import MAX_XML_FILE, read_text_capped

        try:
            xml = read_text_capped(source, MAX_XML_FILE)
        except Error as exc:
            raise CommandError(exc.message) from None
    chk = dom.checkpoint_create(xml, flags)
    if source is not None:
        s.extra_raw(f"Domain checkpoint {chk.name} created from '{source}'")
    else:
        s.extra_raw(f"Domain checkpoint {chk.name} created")


@command("checkpoint-info", "checkpoint information", DOMAIN, _NAME,
         description="Returns basic information about a checkpoint.")  # fmt: skip
def cmd_checkpoint_info(s: Session, o: dict[str, Any]) -> None:
    """Name, domain, parent, then the counts of children and descendants (left out where listing is unsupported)."""
    dom = get_domain(s, o["domain"])
    chk = _lookup(dom, o["checkpointname"], "checkpointname")
    s.out(f"{'Name:':<15} {chk.name}")
    s.out(f"{'Domain:':<15} {dom.name}")
    try:
        parent = _parent_name(chk)
    except CommandError as exc:
        raise CommandError(*exc.lines, "unexpected problem querying checkpoint state") from None
    s.out(f"{'Parent:':<15} {parent or '-'}")
    try:
        children = chk.list_children(0)
    except Error as exc:
        if exc.code == ErrorCode.NO_SUPPORT:
            return
        raise
    s.out(f"{'Children:':<15} {len(children)}")
    s.out(f"{'Descendants:':<15} {len(chk.list_children(_LIST_DESCENDANTS))}")


@command("checkpoint-parent", "Get the name of the parent of a checkpoint", DOMAIN, _NAME,
         description="Extract the checkpoint's parent, if any")  # fmt: skip
def cmd_checkpoint_parent(s: Session, o: dict[str, Any]) -> None:
    dom = get_domain(s, o["domain"])
    chk = _lookup(dom, o["checkpointname"], "checkpointname")
    parent = _parent_name(chk)
    if parent is None:
        raise CommandError(f"checkpoint '{chk.name}' has no parent")
    s.out_raw(parent)  # vshPrint("%s"): virsh ends the line itself
