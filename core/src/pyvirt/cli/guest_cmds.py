"""desc, metadata, domrename, reset, inject-nmi, send-key, domtime, domhostname: as virsh 9.0's commands.

Each calls the API virsh calls, with virsh's flags, and prints virsh's words
(some of them without a newline, which virsh's per-command trailer ends).
``desc`` reads the current text first, as virsh does, and treats "no
metadata" as an empty text; ``send-key`` takes numbers (C's base 0, at most
0xffff) or key names of the codeset, from libvirt's own key tables.
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.domain import Domain
from pyvirt.errors import Error, ErrorCode
from pyvirt.flags import DomainGetHostnameFlags, DomainModificationImpact, DomainSetTimeFlags

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["domain_description"]

LIVE, CONFIG = DomainModificationImpact.LIVE, DomainModificationImpact.CONFIG
METADATA_DESCRIPTION, METADATA_TITLE, METADATA_ELEMENT = 0, 1, 2  # virDomainMetadataType
SEND_KEY_MAX_KEYS = 16  # VIR_DOMAIN_SEND_KEY_MAX_KEYS

DOMAIN = Opt("domain", "domain name, id or uuid", required=True, positional=True)


def _exclusive(o: dict[str, Any], *pairs: tuple[str, str]) -> None:
    """VSH_EXCLUSIVE_OPTIONS, checked before the domain is looked up."""
    for a, b in pairs:
        if o[a] and o[b]:
            raise CommandError(f"Options --{a} and --{b} are mutually exclusive")


def _impact(o: dict[str, Any]) -> int:
    return (CONFIG if o["config"] else 0) | (LIVE if o["live"] else 0)


def edit_text(s: Session, text: str) -> str:
    """vshEditWriteToTempFile, vshEditFile, vshEditReadBackFile: ``text`` through the user's editor."""
    import os
    import tempfile

    from pyvirt.cli.edit_cmds import _run_editor  # the edit family's editor rules ($VISUAL, $EDITOR, sh -c)

    fd, path = tempfile.mkstemp(prefix="virsh", suffix=".xml")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        _run_editor(s, path)
        with open(path) as f:
            return f.read()
    finally:
        os.unlink(path)


def domain_description(dom: Domain, title: bool, flags: int) -> str:
    """virshGetDomainDescription: the text, "" when there is none.

    A driver without virDomainGetMetadata is read from the domain's XML, as
    virsh falls back (``flags`` is then the XML flags: virsh passes the same bits).
    """
    try:
        return dom.metadata(METADATA_TITLE if title else METADATA_DESCRIPTION, None, flags)
    except Error as exc:
        if exc.code == ErrorCode.NO_DOMAIN_METADATA:
            return ""
        if exc.code != ErrorCode.NO_SUPPORT:
            raise CommandError(exc.message) from None
    from pyvirt.conf.domain import parse_domain

    try:
        defn = parse_domain(dom.xml_desc(flags))
    except Error as exc:
        raise CommandError(exc.message) from None
    return (defn.title if title else defn.description) or ""


@command(
    "desc", "show or set domain's description or title",
    DOMAIN,
    Opt("live", "modify/get running state", flag=True),
    Opt("config", "modify/get persistent configuration", flag=True),
    Opt("current", "modify/get current state configuration", flag=True),
    Opt("title", "modify/get the title instead of description", flag=True),
    Opt("edit", "open an editor to modify the description", flag=True),
    Opt("new-desc", "message", positional=True, kind="list"),
)  # fmt: skip
def cmd_desc(s: Session, o: dict[str, Any]) -> None:
    _exclusive(o, ("current", "live"), ("current", "config"))
    flags = _impact(o)
    # virsh queries with VIR_DOMAIN_XML_INACTIVE for --config: the same bit as AFFECT_CONFIG
    query = CONFIG if o["config"] else 0
    dom = get_domain(s, o["domain"])
    title = bool(o["title"])
    try:
        dom.state()  # virshDomainState: a domain gone meanwhile fails here
    except Error as exc:
        raise CommandError(exc.message) from None
    words = o["new-desc"] or []
    new = " ".join([words] if isinstance(words, str) else words) if words else None
    what = "title" if title else "description"
    if o["edit"] or new is not None:
        current = domain_description(dom, title, query)
        text = current if new is None else new
        if o["edit"]:
            edited = edit_text(s, text)
            if title and edited.endswith("\n"):  # editors add a final newline; a title is one line
                edited = edited[:-1]
            if edited == current:
                s.extra_raw(f"Domain {what} not changed\n")
                return
            text = edited
        try:
            dom.set_metadata(METADATA_TITLE if title else METADATA_DESCRIPTION, text, None, None, flags)
        except Error as exc:
            raise CommandError(f"Failed to set new domain {what}", exc.message) from None
        s.extra_raw(f"Domain {what} updated successfully")
        return
    text = domain_description(dom, title, query)
    if text:
        s.out_raw(text)
    else:
        s.extra_raw(f"No {what} for domain: {dom.name}")


@command(
    "metadata", "show or set domain's custom XML metadata",
    DOMAIN,
    Opt("uri", "URI of the namespace", required=True, positional=True),
    Opt("live", "modify/get running state", flag=True),
    Opt("config", "modify/get persistent configuration", flag=True),
    Opt("current", "modify/get current state configuration", flag=True),
    Opt("edit", "use an editor to change the metadata", flag=True),
    Opt("key", "key to be used as a namespace identifier", positional=True, kind="optstring"),
    Opt("set", "new metadata to set", positional=True, kind="optstring"),
    Opt("remove", "remove the metadata corresponding to an uri", flag=True),
)  # fmt: skip
def cmd_metadata(s: Session, o: dict[str, Any]) -> None:
    _exclusive(o, ("current", "live"), ("current", "config"), ("edit", "set"), ("remove", "set"), ("remove", "edit"))
    flags = _impact(o)
    dom = get_domain(s, o["domain"])
    for name in ("uri", "key", "set"):  # vshCommandOptStringReq: an empty value is refused
        if o[name] == "":
            raise CommandError(f"Missing value for option '--{name}'")  # pragma: no cover - the parser refuses first
    uri, key, new = o["uri"], o["key"], o["set"]
    if (new is not None or o["edit"]) and not key:
        raise CommandError("namespace key is required when modifying metadata")
    try:
        if new is not None or o["remove"]:
            dom.set_metadata(METADATA_ELEMENT, new, key, uri, flags)
            s.extra("Metadata removed" if o["remove"] else "Metadata modified")
            return
        if o["edit"]:
            try:
                current = dom.metadata(METADATA_ELEMENT, uri, flags)
            except Error:
                current = "\n"
            edited = edit_text(s, current)
            if edited == current:
                s.extra_raw("Metadata not changed")
                return
            dom.set_metadata(METADATA_ELEMENT, edited, key, uri, flags)
            s.extra("Metadata modified")
            return
        s.out(dom.metadata(METADATA_ELEMENT, uri, flags))
    except Error as exc:
        raise CommandError(exc.message) from None


@command(
    "domrename", "rename a domain",
    Opt("domain", "domain name or uuid", required=True, positional=True),
    Opt("new-name", "new domain name", required=True, positional=True),
)  # fmt: skip
def cmd_domrename(s: Session, o: dict[str, Any]) -> None:
    dom = get_domain(s, o["domain"])
    try:
        dom.rename(o["new-name"])
    except Error as exc:
        raise CommandError(exc.message) from None
    s.extra("Domain successfully renamed")


@command("reset", "reset a domain", DOMAIN)
def cmd_reset(s: Session, o: dict[str, Any]) -> None:
    dom = get_domain(s, o["domain"])
    try:
        dom.reset()
    except Error as exc:
        raise CommandError(f"Failed to reset domain '{o['domain']}'", exc.message) from None
    s.extra(f"Domain '{o['domain']}' was reset")


@command("inject-nmi", "Inject NMI to the guest", DOMAIN)
def cmd_inject_nmi(s: Session, o: dict[str, Any]) -> None:
    dom = get_domain(s, o["domain"])
    try:
        dom.inject_nmi()
    except Error as exc:
        raise CommandError(exc.message) from None


def _keycode_number(text: str) -> int | None:
    """virshKeyCodeGetInt: an unsigned number in C's base 0 (0x hex, 0 octal), at most 0xffff."""
    body = text.strip()
    try:
        if body.lower().startswith("0x"):
            value = int(body[2:], 16) if body[2:] else -1
        elif body.startswith("0") and len(body) > 1:
            value = int(body[1:], 8)
        else:
            value = int(body, 10) if body.isdigit() else -1
    except ValueError:
        return None
    return value if 0 <= value <= 0xFFFF else None


@command(
    "send-key", "Send keycodes to the guest",
    DOMAIN,
    Opt("codeset", "the codeset of keycodes, default:linux"),
    Opt("holdtime", "the time (in milliseconds) how long the keys will be held", kind="number"),
    Opt("keycode", "the key code", required=True, positional=True, kind="list"),
)  # fmt: skip
def cmd_send_key(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.util.keycodes import codeset_from_name, value_from_name

    dom = get_domain(s, o["domain"])
    holdtime = o["holdtime"] or 0
    if holdtime < 0 or holdtime > 0xFFFFFFFF:
        raise CommandError(f"Numeric value '{o['holdtime']}' for <holdtime> option is malformed or out of range")
    name = o["codeset"] or "linux"
    codeset = codeset_from_name(name)
    if codeset is None:
        raise CommandError(f"unknown codeset: '{name}'")
    words = o["keycode"]
    codes: list[int] = []
    for word in [words] if isinstance(words, str) else words:
        if len(codes) == SEND_KEY_MAX_KEYS:
            raise CommandError("too many keycodes")
        code = _keycode_number(word)
        if code is None:
            code = value_from_name(codeset, word)
        if code is None:
            raise CommandError(f"invalid keycode: '{word}'")
        codes.append(code)
    try:
        dom.send_key(codeset, holdtime, codes)
    except Error as exc:
        raise CommandError(exc.message) from None


@command(
    "domtime", "domain time",
    DOMAIN,
    Opt("now", "set to the time of the host running virsh", flag=True),
    Opt("pretty", "print domain's time in human readable form", flag=True),
    Opt("sync", "instead of setting given time, synchronize from domain's RTC", flag=True),
    Opt("time", "time to set", kind="number"),
)  # fmt: skip
def cmd_domtime(s: Session, o: dict[str, Any]) -> None:
    _exclusive(o, ("time", "now"), ("time", "sync"), ("now", "sync"))
    dom = get_domain(s, o["domain"])
    if o["time"] is not None or o["now"] or o["sync"]:
        import time

        seconds = int(time.time()) if o["now"] else (o["time"] or 0)
        try:
            dom.set_time(seconds, 0, DomainSetTimeFlags.SYNC if o["sync"] else 0)
        except Error as exc:
            raise CommandError(exc.message) from None
        return
    try:
        seconds, _nanoseconds = dom.get_time()
    except Error as exc:
        raise CommandError(exc.message) from None
    if o["pretty"]:
        import time

        s.out_raw("Time: " + time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds)))
    else:
        s.out_raw(f"Time: {seconds}")


@command(
    "domhostname", "print the domain's hostname",
    DOMAIN,
    Opt("source", "address source: 'lease' or 'agent'", positional=True, kind="optstring"),
)  # fmt: skip
def cmd_domhostname(s: Session, o: dict[str, Any]) -> None:
    dom = get_domain(s, o["domain"])
    flags = 0
    source = o["source"]
    if source is not None:
        if source not in ("agent", "lease"):
            raise CommandError(f"Unknown data source '{source}'")
        flags = DomainGetHostnameFlags.AGENT if source == "agent" else DomainGetHostnameFlags.LEASE
    try:
        name = dom.hostname(flags)
    except Error as exc:
        raise CommandError("failed to get hostname", exc.message) from None
    s.out(name)
