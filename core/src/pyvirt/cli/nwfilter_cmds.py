"""Network filter commands: nwfilter-define, -undefine, -dumpxml, -list, -edit and the nwfilter-binding-* ones.

virsh-nwfilter.c's behaviour, including two of its quirks scripts see:
``nwfilter-binding-dumpxml`` takes ``--xpath`` and ``--wrap`` but never reads
``--xpath`` (virsh 9.0 prints the whole document), and the lists are sorted
by name (port) without regard to case (vshStrcasecmp).
"""

from __future__ import annotations

from pyvirt.cli.files import read_file
from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.xpath_output import XPATH_OPTS, print_xml
from pyvirt.errors import Error, ErrorCode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    from pyvirt.nwfilter import NWFilter, NWFilterBinding

    T = TypeVar("T")

__all__: list[str] = []

_NWFILTER = Opt("nwfilter", "network filter name or uuid", required=True, positional=True)
# pyvirt.flags names them; a short run does not load it
_DEFINE_VALIDATE = 1 << 0  # VIR_NWFILTER_DEFINE_VALIDATE
_BINDING_CREATE_VALIDATE = 1 << 0  # VIR_NWFILTER_BINDING_CREATE_VALIDATE


def _nwfilter(s: Session, ident: str) -> NWFilter:
    """virshCommandOptNWFilter: as a UUID when it has a UUID's length, then as a name."""
    last: Error | None = None
    if len(ident) == 36:
        try:
            return s.conn.lookup_nwfilter_by_uuid(ident)
        except Error as exc:
            last = exc
    try:
        return s.conn.lookup_nwfilter_by_name(ident)
    except Error as exc:
        last = exc
    raise CommandError(f"failed to get nwfilter '{ident}'", last.message) from None


def _from_file(o: dict[str, Any], call: Callable[[str, int], T], validate: int, failed: str) -> T:
    """``call`` on the XML of ``--file`` (``--validate`` adds ``validate``); its failure is virsh's
    "Failed to FAILED from FILE" with the library's message."""
    xml = read_file(o["file"])
    try:
        return call(xml, validate if o["validate"] else 0)
    except Error as exc:
        raise CommandError(f"Failed to {failed} from {o['file']}", exc.message) from None


def _binding(s: Session, portdev: str) -> NWFilterBinding:
    try:
        return s.conn.lookup_nwfilter_binding_by_port_dev(portdev)
    except Error as exc:
        raise CommandError(f"failed to get nwfilter binding '{portdev}'", exc.message) from None


@command("nwfilter-define", "define or update a network filter from an XML file",
         Opt("file", "file containing an XML network filter description", required=True, positional=True),
         Opt("validate", "validate the XML against the schema", flag=True),
         description="Define a new network filter or update an existing one.")  # fmt: skip
def cmd_nwfilter_define(s: Session, o: dict[str, Any]) -> None:
    nwfilter = _from_file(o, s.conn.define_nwfilter, _DEFINE_VALIDATE, "define network filter")
    s.extra(f"Network filter {nwfilter.name} defined from {o['file']}")


@command("nwfilter-undefine", "undefine a network filter", _NWFILTER,
         description="Undefine a given network filter.")  # fmt: skip
def cmd_nwfilter_undefine(s: Session, o: dict[str, Any]) -> None:
    nwfilter = _nwfilter(s, o["nwfilter"])
    try:
        nwfilter.undefine()
    except Error as exc:
        raise CommandError(f"Failed to undefine network filter {o['nwfilter']}", exc.message) from None
    s.extra(f"Network filter {o['nwfilter']} undefined")


@command("nwfilter-dumpxml", "network filter information in XML", _NWFILTER, *XPATH_OPTS,
         description="Output the network filter information as an XML dump to stdout.")  # fmt: skip
def cmd_nwfilter_dumpxml(s: Session, o: dict[str, Any]) -> None:
    nwfilter = _nwfilter(s, o["nwfilter"])
    try:
        xml = nwfilter.xml_desc()
    except Error as exc:
        raise CommandError(exc.message) from None
    print_xml(s, xml, o)


@command("nwfilter-list", "list network filters", description="Returns list of network filters.")
def cmd_nwfilter_list(s: Session, o: dict[str, Any]) -> None:
    try:
        filters = s.conn.list_all_nwfilters()
    except Error as exc:
        if exc.code == ErrorCode.NO_SUPPORT:  # virsh falls back to virConnectNumOfNWFilters, which fails too
            raise CommandError("Failed to count network filters", exc.message.replace(
                "virConnectListAllNWFilters", "virConnectNumOfNWFilters")) from None  # fmt: skip
        raise CommandError("Failed to list network filters", exc.message) from None
    from pyvirt.cli.table import print_table

    rows = [[f.uuid, f.name] for f in sorted(filters, key=lambda f: f.name.lower())]
    print_table(s, ["UUID", "Name"], rows)


@command("nwfilter-edit", "edit XML configuration for a network filter", _NWFILTER,
         description="Edit the XML configuration for a network filter.")  # fmt: skip
def cmd_nwfilter_edit(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.cli.edit_cmds import edit_xml  # virsh-edit.c's loop, shared with the other *-edit commands

    nwfilter = _nwfilter(s, o["nwfilter"])
    edited = edit_xml(s, nwfilter.xml_desc, lambda xml, _validate: s.conn.define_nwfilter(xml).name)
    if edited is None:
        s.extra(f"Network filter {nwfilter.name} XML configuration not changed.")
    else:
        s.extra(f"Network filter {edited} XML configuration edited.")


@command("nwfilter-binding-create", "create a network filter binding from an XML file",
         Opt("file", "file containing an XML network filter binding description", required=True, positional=True),
         Opt("validate", "validate the XML against the schema", flag=True),
         description="Create a new network filter binding.")  # fmt: skip
def cmd_nwfilter_binding_create(s: Session, o: dict[str, Any]) -> None:
    # virsh's line says "network filter", not "binding" (cmdNWFilterBindingCreate)
    binding = _from_file(o, s.conn.create_nwfilter_binding, _BINDING_CREATE_VALIDATE, "create network filter")
    s.extra(f"Network filter binding on {binding.port_dev} created from {o['file']}")


@command("nwfilter-binding-delete", "delete a network filter binding",
         Opt("binding", "network filter binding port dev", required=True, positional=True),
         description="Delete a given network filter binding.")  # fmt: skip
def cmd_nwfilter_binding_delete(s: Session, o: dict[str, Any]) -> None:
    binding = _binding(s, o["binding"])
    try:
        binding.delete()
    except Error as exc:
        raise CommandError(f"Failed to delete network filter binding on {o['binding']}", exc.message) from None
    s.extra(f"Network filter binding on {o['binding']} deleted")


@command("nwfilter-binding-dumpxml", "network filter information in XML",
         Opt("binding", "network filter binding portdev", required=True, positional=True), *XPATH_OPTS,
         description="Output the network filter information as an XML dump to stdout.")  # fmt: skip
def cmd_nwfilter_binding_dumpxml(s: Session, o: dict[str, Any]) -> None:
    binding = _binding(s, o["binding"])
    try:
        xml = binding.xml_desc()
    except Error as exc:
        raise CommandError(exc.message) from None
    print_xml(s, xml, {**o, "xpath": None})  # virsh 9.0 never reads --xpath here (cmdNWFilterBindingDumpXML)


@command("nwfilter-binding-list", "list network filter bindings",
         description="Returns list of network filter bindings.")  # fmt: skip
def cmd_nwfilter_binding_list(s: Session, o: dict[str, Any]) -> None:
    try:
        bindings = s.conn.list_all_nwfilter_bindings()
    except Error as exc:
        raise CommandError("Failed to list network filter bindings", exc.message) from None
    from pyvirt.cli.table import print_table

    rows = [[b.port_dev, b.filter_name] for b in sorted(bindings, key=lambda b: b.port_dev.lower())]
    print_table(s, ["Port Dev", "Filter"], rows)
