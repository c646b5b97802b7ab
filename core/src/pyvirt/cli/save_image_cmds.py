"""The XML inside save images: save-image-dumpxml/-define/-edit and managedsave-dumpxml/-define/-edit.

As virsh 9.0's (virsh-domain.c): a restore brings the guest back with the
definition stored in the image, so these read or replace it there. The
``*-edit`` pair runs the user's editor through the edit family's loop
(:func:`pyvirt.cli.edit_cmds.edit_xml`): the driver parses the edited XML
before it replaces the old one, and a refusal asks again on a terminal.
A module of its own: no other command's line loads it.
"""

from __future__ import annotations

from pyvirt.cli.framework import XPATH_OPTS, CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.errors import Error

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "cmd_managedsave_define",
    "cmd_managedsave_dumpxml",
    "cmd_managedsave_edit",
    "cmd_save_image_define",
    "cmd_save_image_dumpxml",
    "cmd_save_image_edit",
]

_XML_SECURE = 1  # VIR_DOMAIN_SAVE_IMAGE_XML_SECURE (virsh passes VIR_DOMAIN_XML_SECURE: the same bit)
_SAVE_RUNNING = 2  # VIR_DOMAIN_SAVE_RUNNING
_SAVE_PAUSED = 4  # VIR_DOMAIN_SAVE_PAUSED

_FILE_OPT = {
    "save-image-dumpxml": "saved state file to read",
    "save-image-define": "saved state file to modify",
    "save-image-edit": "saved state file to edit",
}
_DOMAIN = Opt("domain", "domain name, id or uuid", required=True, positional=True)
_XML = Opt("xml", "filename containing updated XML for the target", required=True, positional=True)
_SECURITY_INFO = Opt("security-info", "include security sensitive information in XML dump", flag=True)


def _file(name: str) -> Opt:
    return Opt("file", _FILE_OPT[name], required=True, positional=True)


def _state_opts(when: str) -> tuple[Opt, Opt]:
    return (Opt("running", f"set domain to be running on {when}", flag=True),
            Opt("paused", f"set domain to be paused on {when}", flag=True))  # fmt: skip


def _state_flags(o: dict[str, Any], exclusive: bool) -> int:
    """--running/--paused as the image's state flags. virsh refuses the pair itself where the library's refusal
    would loop (the edit commands) and in managedsave-define; save-image-define leaves it to the library."""
    if exclusive and o["running"] and o["paused"]:
        raise CommandError("Options --running and --paused are mutually exclusive")
    return (_SAVE_RUNNING if o["running"] else 0) | (_SAVE_PAUSED if o["paused"] else 0)


@command("save-image-dumpxml", "saved state domain information in XML",
         _file("save-image-dumpxml"), _SECURITY_INFO, *XPATH_OPTS)  # fmt: skip
def cmd_save_image_dumpxml(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.cli.xpath_output import print_xml

    print_xml(s, s.conn.save_image_xml_desc(o["file"], _XML_SECURE if o["security-info"] else 0), o)


@command("save-image-define", "redefine the XML for a domain's saved state file",
         _file("save-image-define"), _XML, *_state_opts("restore"))  # fmt: skip
def cmd_save_image_define(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.cli.files import read_file

    flags = _state_flags(o, exclusive=False)
    xml = read_file(o["xml"])
    try:
        s.conn.save_image_define_xml(o["file"], xml, flags)
    except Error as exc:
        raise CommandError(f"Failed to update {o['file']}", exc.message) from None
    s.extra(f"State file {o['file']} updated.")


@command("save-image-edit", "edit XML for a domain's saved state file",
         _file("save-image-edit"), *_state_opts("restore"))  # fmt: skip
def cmd_save_image_edit(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.cli.edit_cmds import edit_xml

    flags = _state_flags(o, exclusive=True)
    path = o["file"]

    def define(xml: str, _: bool) -> bool:
        s.conn.save_image_define_xml(path, xml, flags)
        return True

    edited = edit_xml(s, lambda: s.conn.save_image_xml_desc(path, _XML_SECURE), define)
    if edited is None:
        s.extra(f"Saved image {path} XML configuration not changed.")
    else:
        s.extra(f"State file {path} edited.")


@command("managedsave-dumpxml", "Domain information of managed save state file in XML",
         _DOMAIN, _SECURITY_INFO, *XPATH_OPTS)  # fmt: skip
def cmd_managedsave_dumpxml(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.cli.xpath_output import print_xml

    dom = get_domain(s, o["domain"])
    print_xml(s, dom.managed_save_xml_desc(_XML_SECURE if o["security-info"] else 0), o)


@command("managedsave-define", "redefine the XML for a domain's managed save state file",
         _DOMAIN, _XML, *_state_opts("start"))  # fmt: skip
def cmd_managedsave_define(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.cli.files import read_file

    flags = _state_flags(o, exclusive=True)
    xml = read_file(o["xml"])  # virsh reads the file before it looks the domain up
    dom = get_domain(s, o["domain"])
    try:
        dom.managed_save_define_xml(xml, flags)
    except Error as exc:
        raise CommandError(f"Failed to update {dom.name} XML configuration", exc.message) from None
    s.extra(f"Managed save state file of domain '{dom.name}' updated.")


@command("managedsave-edit", "edit XML for a domain's managed save state file",
         _DOMAIN, *_state_opts("start"))  # fmt: skip
def cmd_managedsave_edit(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.cli.edit_cmds import edit_xml

    flags = _state_flags(o, exclusive=True)
    dom = get_domain(s, o["domain"])

    def define(xml: str, _: bool) -> bool:
        dom.managed_save_define_xml(xml, flags)
        return True

    edited = edit_xml(s, lambda: dom.managed_save_xml_desc(_XML_SECURE), define)
    if edited is None:
        s.extra(f"Managed save image of domain '{dom.name}' XML configuration not changed.")
    else:
        s.extra(f"Managed save image of Domain '{dom.name}' XML configuration edited.")
