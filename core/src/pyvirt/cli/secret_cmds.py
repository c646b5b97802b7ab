"""Secret commands: secret-list, -define, -dumpxml, -set-value, -get-value, -undefine."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from pyvirt.cli.domain_cmds import _read_file
from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.table import print_table
from pyvirt.errors import Error
from pyvirt.secret import USAGE_NAMES, Secret

SECRET = Opt("secret", "secret UUID", required=True, positional=True)


def _get(s: Session, uuid: str) -> Secret:
    try:
        return s.conn.lookup_secret_by_uuid(uuid)
    except Error as exc:
        raise CommandError(f"failed to get secret '{uuid}'", exc.message) from None


@command("secret-list", "list secrets", Opt("ephemeral", "list ephemeral secrets", flag=True))
def cmd_secret_list(s: Session, o: dict[str, Any]) -> None:
    rows = []
    for sec in s.conn.list_all_secrets():
        usage = USAGE_NAMES.get(sec.usage_type, "unknown")
        rows.append([sec.uuid, f"{usage} {sec.usage_id}" if sec.usage_type else "Unused"])
    print_table(s, ["UUID", "Usage"], rows)


@command("secret-define", "define or modify a secret from an XML file",
         Opt("file", "file containing secret attributes in XML", required=True, positional=True))  # fmt: skip
def cmd_secret_define(s: Session, o: dict[str, Any]) -> None:
    xml = _read_file(o["file"])
    try:
        sec = s.conn.define_secret(xml)
    except Error as exc:
        raise CommandError(f"Failed to set attributes from {o['file']}", exc.message) from None
    s.extra(f"Secret {sec.uuid} created")


@command("secret-dumpxml", "secret attributes in XML", SECRET)
def cmd_secret_dumpxml(s: Session, o: dict[str, Any]) -> None:
    s.out_raw(_get(s, o["secret"]).xml_desc())


@command("secret-set-value", "set a secret value", SECRET,
         Opt("base64", "base64-encoded secret value", positional=True))  # fmt: skip
def cmd_secret_set_value(s: Session, o: dict[str, Any]) -> None:
    sec = _get(s, o["secret"])
    if o["base64"] is None:
        raise CommandError("Input secret value is missing")
    try:
        value = base64.b64decode(o["base64"], validate=True)
    except (binascii.Error, ValueError):
        raise CommandError("Invalid base64 data") from None
    try:
        sec.set_value(value)
    except Error as exc:
        raise CommandError("Failed to set secret value", exc.message) from None
    s.extra("Secret value set")


@command("secret-get-value", "Output a secret value", SECRET)
def cmd_secret_get_value(s: Session, o: dict[str, Any]) -> None:
    sec = _get(s, o["secret"])
    try:
        s.out(base64.b64encode(sec.get_value()).decode())
    except Error as exc:
        raise CommandError(exc.message) from None


@command("secret-undefine", "undefine a secret", SECRET)
def cmd_secret_undefine(s: Session, o: dict[str, Any]) -> None:
    sec = _get(s, o["secret"])
    try:
        sec.undefine()
    except Error as exc:
        raise CommandError(f"Failed to delete secret {sec.uuid}", exc.message) from None
    s.extra(f"Secret {sec.uuid} deleted")
