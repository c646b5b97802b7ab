"""The edit family: edit, net-edit, pool-edit, iface-edit, snapshot-edit, checkpoint-edit (virsh-edit.c).

Each command writes the object's XML to a temporary file, runs the user's
editor on it and defines the object again from what the editor left, as
virsh does:

- the editor is ``$VISUAL``, else ``$EDITOR``, else ``sensible-editor``
  (Debian's virsh default); an editor with shell syntax in it (``sed -i
  s/a/b/``) runs through ``sh -c``, a plain name runs directly;
- an unchanged file is "… XML configuration not changed." and nothing is
  defined;
- the XML is read again before defining: a change made meanwhile by someone
  else is not silently overwritten;
- ``edit`` validates the domain XML against libvirt's schema before it is
  applied (``--skip-validate`` turns that off), as virsh passes
  VIR_DOMAIN_DEFINE_VALIDATE;
- when defining fails on a terminal, the library's error is shown and virsh's
  question is asked: "Failed. Try again? [y,n,i,f,?]:" (y: edit again, n:
  drop the changes, i: define without validation, f: define again).

One deliberate difference: without a terminal, virsh 9.0 prints
"error: Failed." and then "Domain '(null)' XML configuration edited." with
exit status 0, so a script cannot tell that nothing was defined. pyvirsh
prints "Failed." and the library's error, and the command fails.
"""

from __future__ import annotations

import os

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain, get_network, get_pool
from pyvirt.errors import Error, ErrorCode, InternalError

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time,
# so a line that names an edit command (or ``desc --edit``, which borrows the editor rules) does not load it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    T = TypeVar("T")

__all__ = ["edit_xml"]

# libvirt's flag bits for the calls below (pyvirt.flags names them; a short run does not load it)
_DOMAIN_XML_SECURE = 1 << 0  # VIR_DOMAIN_XML_SECURE
_DOMAIN_XML_INACTIVE = 1 << 1  # VIR_DOMAIN_XML_INACTIVE
_DEFINE_VALIDATE = 1 << 0  # VIR_DOMAIN_DEFINE_VALIDATE
_XML_INACTIVE = 1 << 0  # VIR_NETWORK_XML_INACTIVE, VIR_STORAGE_XML_INACTIVE, VIR_INTERFACE_XML_INACTIVE
_SNAPSHOT_REDEFINE = 1 << 0  # VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE
_SNAPSHOT_CURRENT = 1 << 1  # VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT
_SNAPSHOT_DISK_ONLY = 1 << 4  # VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY
_SNAPSHOT_XML_SECURE = 1 << 0  # VIR_DOMAIN_SNAPSHOT_XML_SECURE
_SNAPSHOT_DELETE_METADATA_ONLY = 1 << 1  # VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY
_CHECKPOINT_XML_SECURE = 1 << 0  # VIR_DOMAIN_CHECKPOINT_XML_SECURE
_CHECKPOINT_REDEFINE = 1 << 0  # VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE
_CHECKPOINT_DELETE_METADATA_ONLY = 1 << 1  # VIR_DOMAIN_CHECKPOINT_DELETE_METADATA_ONLY

# vshEditFile: an editor made only of these runs directly; anything else is shell syntax for ``sh -c``.
_ACCEPTED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-/_.:@")
_DEFAULT_EDITOR = "sensible-editor"  # Debian's virsh is built with it (upstream's default is vi)
_MAX_XML = 10 * 1024 * 1024  # VSH_MAX_XML_FILE


def _run_editor(s: Session, path: str) -> None:
    """vshEditFile: the editor on ``path``, with pyvirsh's terminal and environment; a failure is an error."""
    from pyvirt.util.args_text import render_args_text
    from pyvirt.util.command import Command, CommandFailedError, ProgramNotFoundError

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or _DEFAULT_EDITOR
    if set(editor) <= _ACCEPTED:
        argv = [editor, path]
    elif set(path) <= _ACCEPTED:
        argv = ["sh", "-c", f"{editor} {path}"]
    else:
        raise CommandError(
            f"{path}: temporary filename contains shell meta or other unacceptable characters (is $TMPDIR wrong?)"
        )
    cmd = Command(argv).inherit_env().set_stdin(0).set_stdout(1).set_stderr(2)
    s.flush()  # the editor writes to the same terminal: what pyvirsh printed comes first
    try:
        cmd.run()
    except ProgramNotFoundError as exc:
        if exc.exit_status is None:  # not found in PATH: libvirt looks before it forks
            raise CommandError(exc.message) from None
        # libvirt's child reports a failed exec on its stderr, in libvirt's default error format, then exits 127
        s.error_raw(f"libvirt:  error : {exc.message}\n")
        status: int | None = exc.exit_status
    except CommandFailedError:
        status = cmd.exit_status
    else:
        return
    how = f"fatal signal {-status}" if status is not None and status < 0 else f"exit status {status}"
    line = f"Child process ({render_args_text({}, argv, one_line=True)}) unexpected {how}"
    raise CommandError(InternalError(ErrorCode.INTERNAL_ERROR, line).message)


def _ask_reedit(s: Session, msg: str, relax: bool, error: str | None) -> str | None:
    """vshAskReedit: on a terminal, show the error and ask what to do; None without a terminal.

    The answer is read as one key press in raw mode, as virsh reads it, so
    the user does not need Enter; end of input counts as "n".
    """
    if not os.isatty(0):
        return None
    import termios
    import tty

    if error is not None:
        s.error(error)
    s.flush()
    choices = "[y,n,i,f,?]" if relax else "[y,n,f,?]"
    saved = termios.tcgetattr(0)
    tty.setraw(0)
    try:
        while True:
            s.out_raw(f"\r{msg} Try again? {choices}: ")
            s.flush()
            key = os.read(0, 1).decode(errors="replace").lower() or "n"
            if key == "?":
                lines = ["", "y - yes, start editor again", "n - no, throw away my changes"]
                if relax:
                    lines.append("i - turn off validation and try to redefine again")
                lines += ["f - force, try to redefine again", "? - print this help"]
                s.out_raw("".join(f"{line}\r\n" for line in lines))
                continue
            if key in "ynf" or (relax and key == "i"):
                break
    finally:
        termios.tcsetattr(0, termios.TCSADRAIN, saved)
    s.out_raw("\r\n")
    return key


def edit_xml(
    s: Session,
    get_xml: Callable[[], str],
    define: Callable[[str, bool], T],
    *,
    relax: bool = False,
    validate: bool = True,
    define_unchanged: bool = False,
) -> T | None:
    """virsh-edit.c's loop; the object ``define`` returned, or None when the file came back unchanged.

    ``define(xml, validate)`` applies the edited document (``validate`` is
    False once the user chose "i"); ``relax`` offers that choice.
    ``define_unchanged`` defines an unchanged document too (snapshot-edit
    ``--current``).
    """
    import tempfile

    doc = get_xml()
    fd, path = tempfile.mkstemp(prefix="pyvirsh", suffix=".xml", dir=os.environ.get("TMPDIR") or "/tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(doc)
        edit = True
        while True:
            if edit:
                _run_editor(s, path)
                try:
                    with open(path, encoding="utf-8") as f:
                        edited = f.read(_MAX_XML + 1)
                except OSError as exc:
                    raise CommandError(f"{path}: failed to read temporary file: {exc.strerror}") from None
                if len(edited) > _MAX_XML:
                    raise CommandError(f"{path}: failed to read temporary file: File too large")
                if edited == doc and not define_unchanged:
                    return None
            edit = False
            error: str | None = None
            reread = get_xml()
            if reread != doc:
                msg = "The XML configuration was changed by another user."
                doc = reread
            else:
                try:
                    return define(edited, validate)
                except Error as exc:
                    msg, error = "Failed.", exc.message
            answer = _ask_reedit(s, msg, relax and validate, error)
            if answer is None:
                raise CommandError(msg, *([error] if error is not None else []))
            if answer == "n":
                raise CommandError()
            if answer == "i":
                validate = False
            edit = answer == "y"
    finally:
        os.unlink(path)


# ------------------------------------------------------------------------------------------------ the commands


@command("edit", "edit XML configuration for a domain",
         Opt("domain", "domain name, id or uuid", required=True, positional=True),
         Opt("skip-validate", "skip validation of the XML against the schema", flag=True))  # fmt: skip
def cmd_edit(s: Session, o: dict[str, Any]) -> None:
    dom = get_domain(s, o["domain"])

    def define(xml: str, validate: bool) -> str:
        if validate:
            from pyvirt.conf.schema import validate as schema_validate

            schema_validate(xml, "domain")
        return s.conn.define_domain(xml, _DEFINE_VALIDATE if validate else 0).name

    name = edit_xml(
        s,
        lambda: dom.xml_desc(_DOMAIN_XML_SECURE | _DOMAIN_XML_INACTIVE),
        define,
        relax=True,
        validate=not o["skip-validate"],
    )
    _closing_line(s, "Domain", f"'{dom.name}'", None if name is None else f"'{name}'")


def _closing_line(s: Session, noun: str, before: str, after: str | None) -> None:
    """The line each edit command ends with: virsh-edit.c's "not changed" one, else the command's "edited"."""
    if after is None:
        s.extra(f"{noun} {before} XML configuration not changed.")
    else:
        s.extra(f"{noun} {after} XML configuration edited.")


def _edit_persistent(s: Session, noun: str, name: str, xml_desc: Callable[[int], str],
                     define: Callable[[str], str]) -> None:  # fmt: skip
    """net-edit and pool-edit: the persistent definition (``_inactive_xml``), defined again by name."""
    edited = edit_xml(s, lambda: _inactive_xml(xml_desc), lambda xml, _: define(xml))
    _closing_line(s, noun, name, edited)


def _inactive_xml(xml_desc: Callable[[int], str]) -> str:
    """The persistent definition (the INACTIVE flag), or the only one when the driver refuses the flag.

    virsh's net-edit and pool-edit retry without the flag on an invalid-argument
    error: libvirt's test driver, and older daemons, do not take it.
    """
    try:
        return xml_desc(_XML_INACTIVE)
    except Error as exc:
        if exc.code != ErrorCode.INVALID_ARG:
            raise
    return xml_desc(0)


@command("net-edit", "edit XML configuration for a network",
         Opt("network", "network name or uuid", required=True, positional=True))  # fmt: skip
def cmd_net_edit(s: Session, o: dict[str, Any]) -> None:
    net = get_network(s, o["network"])
    _edit_persistent(s, "Network", net.name, net.xml_desc, lambda xml: s.conn.define_network(xml).name)


@command("pool-edit", "edit XML configuration for a storage pool",
         Opt("pool", "pool name or uuid", required=True, positional=True))  # fmt: skip
def cmd_pool_edit(s: Session, o: dict[str, Any]) -> None:
    pool = get_pool(s, o["pool"])
    _edit_persistent(s, "Pool", pool.name, pool.xml_desc, lambda xml: s.conn.define_storage_pool(xml).name)


@command("iface-edit", "edit XML configuration for a physical host interface",
         Opt("interface", "interface name or MAC address", required=True, positional=True))  # fmt: skip
def cmd_iface_edit(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.cli.nosupport import not_supported

    try:
        iface = s.conn.lookup_interface_by_name(o["interface"])
    except Error as exc:
        raise CommandError(f"failed to get interface '{o['interface']}'", exc.message) from None

    def define(xml: str, _: bool) -> str:
        # pyvirt's API table has no virInterfaceDefineXML yet: libvirt's answer for a driver without it
        raise not_supported("virInterfaceDefineXML")

    name = edit_xml(s, lambda: iface.xml_desc(_XML_INACTIVE), define)
    if name is None:
        _closing_line(s, "Interface", iface.name, None)


@command("snapshot-edit", "edit XML for a snapshot",
         Opt("domain", "domain name, id or uuid", required=True, positional=True),
         Opt("snapshotname", "snapshot name", positional=True, kind="optstring"),
         Opt("current", "also set edited snapshot as current", flag=True),
         Opt("rename", "allow renaming an existing snapshot", flag=True),
         Opt("clone", "allow cloning to new name", flag=True))  # fmt: skip
def cmd_snapshot_edit(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.cli.snapshot_cmds import _snapshot

    if o["rename"] and o["clone"]:
        raise CommandError("Options --rename and --clone are mutually exclusive")
    flags = _SNAPSHOT_REDEFINE
    if o["current"] and o["snapshotname"]:
        flags |= _SNAPSHOT_CURRENT
    dom = get_domain(s, o["domain"])
    snap = _snapshot(s, dom, o["snapshotname"], o["current"])
    name = snap.name
    try:
        original = snap.xml_desc(_SNAPSHOT_XML_SECURE)

        def define(xml: str, _: bool) -> Any:
            disk_only = _SNAPSHOT_DISK_ONLY if "<state>disk-snapshot</state>" in original else 0
            return dom.snapshot_create(xml, flags | disk_only)

        # with --current, an unchanged file is still defined: that makes the snapshot current
        # with --current an unchanged file is defined too: that is what makes the snapshot current
        edited = edit_xml(
            s, lambda: snap.xml_desc(_SNAPSHOT_XML_SECURE), define, define_unchanged=bool(flags & _SNAPSHOT_CURRENT)
        )
        if edited is None:
            s.extra(f"Snapshot {name} XML configuration not changed.")
            return
        if edited.name == name:
            s.extra(f"Snapshot {name} edited.")
        elif o["clone"]:
            s.extra(f"Snapshot {name} cloned to {edited.name}.")
        else:
            victim = snap if o["rename"] else edited
            try:
                victim.delete(_SNAPSHOT_DELETE_METADATA_ONLY)
            except Error as exc:
                raise CommandError(exc.message, f"Failed to clean up {victim.name}") from None
            if not o["rename"]:
                raise CommandError(f"Must use --rename or --clone to change {name} to {edited.name}")
    except CommandError as exc:
        raise CommandError(*exc.lines, f"Failed to update {name}") from None
    except Error as exc:
        raise CommandError(exc.message, f"Failed to update {name}") from None


@command("checkpoint-edit", "edit XML for a checkpoint",
         Opt("domain", "domain name, id or uuid", required=True, positional=True),
         Opt("checkpointname", "checkpoint name", positional=True, kind="optstring"))  # fmt: skip
def cmd_checkpoint_edit(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.cli.checkpoint_cmds import _lookup

    dom = get_domain(s, o["domain"])
    chk = _lookup(dom, o["checkpointname"], "checkpointname")
    name = chk.name
    try:
        edited = edit_xml(
            s,
            lambda: chk.xml_desc(_CHECKPOINT_XML_SECURE),
            lambda xml, _: dom.checkpoint_create(xml, _CHECKPOINT_REDEFINE),
        )
        if edited is None:
            s.extra(f"Checkpoint {name} XML configuration not changed.")
            return
        if edited.name == name:
            s.extra(f"Checkpoint {name} edited.")
            return
        try:
            edited.delete(_CHECKPOINT_DELETE_METADATA_ONLY)
        except Error as exc:
            raise CommandError(exc.message, f"Failed to clean up {edited.name}") from None
        raise CommandError(f"Cannot rename checkpoint {name} to {edited.name}")
    except CommandError as exc:
        raise CommandError(*exc.lines, f"Failed to update {name}") from None
    except Error as exc:
        raise CommandError(exc.message, f"Failed to update {name}") from None
