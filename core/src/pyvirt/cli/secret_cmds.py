"""Secret commands: secret-list, -define, -dumpxml, -set-value, -get-value, -undefine."""

from __future__ import annotations

from pyvirt.cli.files import read_file
from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.table import print_table
from pyvirt.cli.xpath_output import XPATH_OPTS, print_xml
from pyvirt.errors import Error
from pyvirt.secret import USAGE_NAMES, Secret

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SECRET = Opt("secret", "secret UUID", required=True, positional=True)
# pyvirt.flags names it; a short run does not load it (test_flag_literals checks the value)
_DEFINE_VALIDATE = 1 << 0  # VIR_SECRET_DEFINE_VALIDATE
_LIST_FLAGS = (
    ("ephemeral", 1 << 0),  # VIR_CONNECT_LIST_SECRETS_EPHEMERAL
    ("no-ephemeral", 1 << 1),  # VIR_CONNECT_LIST_SECRETS_NO_EPHEMERAL
    ("private", 1 << 2),  # VIR_CONNECT_LIST_SECRETS_PRIVATE
    ("no-private", 1 << 3),  # VIR_CONNECT_LIST_SECRETS_NO_PRIVATE
)


def _get(s: Session, uuid: str) -> Secret:
    try:
        return s.conn.lookup_secret_by_uuid(uuid)
    except Error as exc:
        raise CommandError(f"failed to get secret '{uuid}'", exc.message) from None


@command("secret-list", "list secrets",
         Opt("ephemeral", "list ephemeral secrets", flag=True),
         Opt("no-ephemeral", "list non-ephemeral secrets", flag=True),
         Opt("private", "list private secrets", flag=True),
         Opt("no-private", "list non-private secrets", flag=True))  # fmt: skip
def cmd_secret_list(s: Session, o: dict[str, Any]) -> None:
    """Each option one VIR_CONNECT_LIST_SECRETS_* bit; both of a pair list both kinds, as in libvirt."""
    flags = sum(bit for name, bit in _LIST_FLAGS if o[name])
    try:
        secrets = s.conn.list_all_secrets(flags)
    except Error as exc:
        raise CommandError("Failed to list node secrets", exc.message) from None
    rows = []
    for sec in secrets:
        usage = USAGE_NAMES.get(sec.usage_type, "unknown")
        rows.append([sec.uuid, f"{usage} {sec.usage_id}" if sec.usage_type else "Unused"])
    print_table(s, ["UUID", "Usage"], rows)


@command("secret-define", "define or modify a secret from an XML file",
         Opt("file", "file containing secret attributes in XML", required=True, positional=True),
         Opt("validate", "validate the XML against the schema", flag=True))  # fmt: skip
def cmd_secret_define(s: Session, o: dict[str, Any]) -> None:
    """``--validate`` asks the driver to check the document against secret.rng (VIR_SECRET_DEFINE_VALIDATE)."""
    xml = read_file(o["file"])
    try:
        sec = s.conn.define_secret(xml, _DEFINE_VALIDATE if o["validate"] else 0)
    except Error as exc:
        raise CommandError(f"Failed to set attributes from {o['file']}", exc.message) from None
    s.extra(f"Secret {sec.uuid} created")


@command("secret-dumpxml", "secret attributes in XML", SECRET, *XPATH_OPTS)
def cmd_secret_dumpxml(s: Session, o: dict[str, Any]) -> None:
    """virshDumpXML, as dumpxml prints: the document, or the nodes ``--xpath`` selects."""
    print_xml(s, _get(s, o["secret"]).xml_desc(), o)


@command("secret-set-value", "set a secret value", SECRET,
         Opt("file", "read secret from file"),
         Opt("plain", "read the secret from file without converting from base64", flag=True),
         Opt("interactive", "read the secret from the terminal", flag=True),
         Opt("base64", "base64-encoded secret value", positional=True, kind="optstring"))  # fmt: skip
def cmd_secret_set_value(s: Session, o: dict[str, Any]) -> None:
    """virsh's three sources: ``--base64`` (with its warning), ``--file`` (base64 unless ``--plain``), the terminal."""
    for first, second in (("file", "base64"), ("plain", "base64"), ("interactive", "base64"), ("interactive", "plain"),
                          ("interactive", "file")):  # fmt: skip
        if o[first] and o[second]:
            raise CommandError(f"Options --{first} and --{second} are mutually exclusive")
    sec = _get(s, o["secret"])
    plain = o["plain"]
    if o["base64"] is not None:
        s.error("Passing secret value as command-line argument is insecure!")
        raw = o["base64"].encode()
    elif o["file"] is not None:
        raw = _read_secret_file(o["file"])
    elif o["interactive"]:
        import getpass

        s.out_raw("Enter new value for secret:")
        s.flush()
        try:
            raw = getpass.getpass("").encode()
        except (EOFError, OSError):
            raise CommandError("Failed to read secret") from None
        plain = True
    else:
        raise CommandError("Input secret value is missing")
    value = raw if plain else _glib_base64_decode(raw)
    try:
        sec.set_value(value)
    except Error as exc:
        raise CommandError("Failed to set secret value", exc.message) from None
    s.extra("Secret value set")


def _read_secret_file(path: str) -> bytes:
    """virFileReadAll(path, 1024): a secret file is small; libvirt's errors otherwise."""
    import os

    try:
        with open(path, "rb") as f:
            data = f.read(1025)
    except OSError as exc:
        raise CommandError(f"Failed to open file '{path}': {os.strerror(exc.errno or 0)}") from None
    if len(data) > 1024:
        raise CommandError(f"File '{path}' is too large")
    return data


def _glib_base64_decode(text: bytes) -> bytes:
    """g_base64_decode as virsh calls it: characters outside the alphabet are skipped, never an error."""
    import base64
    import re

    clean = re.sub(rb"[^A-Za-z0-9+/]", b"", text)
    clean = clean[: len(clean) - len(clean) % 4 if len(clean) % 4 == 1 else len(clean)]
    return base64.b64decode(clean + b"=" * (-len(clean) % 4))


@command("secret-get-value", "Output a secret value", SECRET,
         Opt("plain", "get value without converting to base64", flag=True))  # fmt: skip
def cmd_secret_get_value(s: Session, o: dict[str, Any]) -> None:
    """The value in base64, or with ``--plain`` its bytes as they are, with no newline (virsh's fwrite)."""
    import base64  # the value commands' own import: secret-list and secret-define do not load it

    sec = _get(s, o["secret"])
    try:
        value = sec.get_value()
    except Error as exc:
        raise CommandError(exc.message) from None
    if not o["plain"]:
        s.out(base64.b64encode(value).decode())
        return
    s.flush()  # what was printed before goes first: the bytes bypass the text layer
    try:
        binary = getattr(s.stdout, "buffer", None)
        if binary is None:  # a text-only stream (an embedding caller's): the bytes as they decode
            s.out_raw(value.decode("utf-8", "surrogateescape"))
        else:
            binary.write(value)
            binary.flush()
    except OSError:
        raise CommandError("failed to write secret") from None


@command("secret-undefine", "undefine a secret", SECRET)
def cmd_secret_undefine(s: Session, o: dict[str, Any]) -> None:
    sec = _get(s, o["secret"])
    try:
        sec.undefine()
    except Error as exc:
        raise CommandError(f"Failed to delete secret {sec.uuid}", exc.message) from None
    s.extra(f"Secret {sec.uuid} deleted")
