"""Domain commands: list, dominfo, domstate, domid/name/uuid, dumpxml, lifecycle, save/restore (undefine: undefine_cmd)."""

from __future__ import annotations

from pyvirt.cli.framework import XPATH_OPTS, CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.connection import ListDomainsFlags as F
from pyvirt.errors import Error, ErrorCode, NotSupportedError

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DOMAIN = Opt("domain", "domain name, id or uuid", required=True, positional=True)

# libvirt's flag bits for the calls below. pyvirt.flags names them all, but these commands run on every short
# client run and pyvirt.flags is not loaded there: test_flag_literals checks each value against it.
_XML_SECURE = 1 << 0  # VIR_DOMAIN_XML_SECURE
_XML_INACTIVE = 1 << 1  # VIR_DOMAIN_XML_INACTIVE
_XML_UPDATE_CPU = 1 << 2  # VIR_DOMAIN_XML_UPDATE_CPU
_XML_MIGRATABLE = 1 << 3  # VIR_DOMAIN_XML_MIGRATABLE
_DEFINE_VALIDATE = 1 << 0  # VIR_DOMAIN_DEFINE_VALIDATE
_START_PAUSED = 1 << 0  # VIR_DOMAIN_START_PAUSED
_START_AUTODESTROY = 1 << 1  # VIR_DOMAIN_START_AUTODESTROY
_START_BYPASS_CACHE = 1 << 2  # VIR_DOMAIN_START_BYPASS_CACHE
_START_FORCE_BOOT = 1 << 3  # VIR_DOMAIN_START_FORCE_BOOT
_START_VALIDATE = 1 << 4  # VIR_DOMAIN_START_VALIDATE
_START_RESET_NVRAM = 1 << 5  # VIR_DOMAIN_START_RESET_NVRAM
_DESTROY_GRACEFUL = 1 << 0  # VIR_DOMAIN_DESTROY_GRACEFUL
_DESTROY_REMOVE_LOGS = 1 << 1  # VIR_DOMAIN_DESTROY_REMOVE_LOGS
_SAVE_BYPASS_CACHE = 1 << 0  # VIR_DOMAIN_SAVE_BYPASS_CACHE
_SAVE_RUNNING = 1 << 1  # VIR_DOMAIN_SAVE_RUNNING
_SAVE_PAUSED = 1 << 2  # VIR_DOMAIN_SAVE_PAUSED
_SAVE_RESET_NVRAM = 1 << 3  # VIR_DOMAIN_SAVE_RESET_NVRAM
_DEVICE_MODIFY_FORCE = 1 << 2  # VIR_DOMAIN_DEVICE_MODIFY_FORCE
_AFFECT_LIVE = 1 << 0  # VIR_DOMAIN_AFFECT_LIVE
_AFFECT_CONFIG = 1 << 1  # VIR_DOMAIN_AFFECT_CONFIG
_LIST_HAS_CHECKPOINT = 1 << 14  # VIR_CONNECT_LIST_DOMAINS_HAS_CHECKPOINT
_LIST_NO_CHECKPOINT = 1 << 15  # VIR_CONNECT_LIST_DOMAINS_NO_CHECKPOINT
_STATE_SHUTOFF = 5  # VIR_DOMAIN_SHUTOFF
# Imported by the commands that use them, not here: pyvirt.domain_state (its five tables, 1.3 million
# instructions), pyvirt.cli.files, pyvirt.cli.table (list) and pyvirt.cli.xpath_output (dumpxml) would be paid
# by destroy, start... which read none of them.


def _save_flags(o: dict[str, Any]) -> int:
    """virsh's save, restore and managedsave options as virDomainSaveRestoreFlags."""
    return (
        (_SAVE_BYPASS_CACHE if o["bypass-cache"] else 0)
        | (_SAVE_RUNNING if o["running"] else 0)
        | (_SAVE_PAUSED if o["paused"] else 0)
    )


def _fail(first: str, exc: Error) -> CommandError:
    return CommandError(first, exc.message)


_PASS_FDS = Opt("pass-fds", "pass file descriptors N,M,... to the guest")
_CONSOLE = Opt("console", "attach to console after creation", flag=True)
_RESET_NVRAM = Opt("reset-nvram", "re-initialize NVRAM from its pristine template", flag=True)


def _pass_fds(o: dict[str, Any]) -> list[int]:
    """virsh's --pass-fds: comma-separated numbers, each read as virStrToLong_i reads it (base 10, whole word)."""
    if not o["pass-fds"]:
        return []
    import re

    fds = []
    for word in o["pass-fds"].split(","):
        # strtol: leading blanks and a sign, then digits to the end; an int's range
        if not re.fullmatch(r"[ \t\n\v\f\r]*[+-]?[0-9]+", word) or not -(2**31) <= int(word) < 2**31:
            raise CommandError(f"Unable to parse FD number '{word}'")
        fds.append(int(word))
    return fds


def _attach_console(s: Session, d: Any) -> None:
    """virsh's --console: the console command's own session on the new guest's first console."""
    from pyvirt.cli.console_cmd import cmd_console

    cmd_console(s, {"domain": d.uuid, "devname": None, "force": False, "safe": False})


@command(
    "list", "list domains",
    Opt("inactive", "list inactive domains", flag=True), Opt("all", "list inactive & active domains", flag=True),
    Opt("transient", "list transient domains", flag=True), Opt("persistent", "list persistent domains", flag=True),
    Opt("with-snapshot", "list domains with existing snapshot", flag=True),
    Opt("without-snapshot", "list domains without a snapshot", flag=True),
    Opt("with-checkpoint", "list domains with existing checkpoint", flag=True),
    Opt("without-checkpoint", "list domains without a checkpoint", flag=True),
    Opt("state-running", "list domains in running state", flag=True),
    Opt("state-paused", "list domains in paused state", flag=True),
    Opt("state-shutoff", "list domains in shutoff state", flag=True),
    Opt("state-other", "list domains in other states", flag=True),
    Opt("autostart", "list domains with autostart enabled", flag=True),
    Opt("no-autostart", "list domains with autostart disabled", flag=True),
    Opt("with-managed-save", "list domains with managed save state", flag=True),
    Opt("without-managed-save", "list domains without managed save", flag=True),
    Opt("uuid", "list uuid's only", flag=True), Opt("name", "list domain names only", flag=True),
    Opt("id", "list domain IDs only", flag=True), Opt("table", "list table (default)", flag=True),
    Opt("managed-save", "mark inactive domains with managed save state", flag=True),
    Opt("title", "show domain title", flag=True),
)  # fmt: skip
def cmd_list(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.domain_state import state_text

    flags = F(0)
    if o["all"]:
        flags = F(0)
    elif o["inactive"]:
        flags |= F.INACTIVE
    else:
        flags |= F.ACTIVE
    if o["all"] and o["inactive"]:
        raise CommandError("Options --all and --inactive are mutually exclusive")
    for opt, bit in (("transient", F.TRANSIENT), ("persistent", F.PERSISTENT), ("with-snapshot", F.HAS_SNAPSHOT),
                     ("without-snapshot", F.NO_SNAPSHOT), ("with-checkpoint", _LIST_HAS_CHECKPOINT),
                     ("without-checkpoint", _LIST_NO_CHECKPOINT), ("state-running", F.RUNNING), ("state-paused", F.PAUSED),
                     ("state-shutoff", F.SHUTOFF), ("state-other", F.OTHER), ("autostart", F.AUTOSTART),
                     ("no-autostart", F.NO_AUTOSTART), ("with-managed-save", F.MANAGEDSAVE),
                     ("without-managed-save", F.NO_MANAGEDSAVE)):  # fmt: skip
        if o[opt]:
            flags |= bit
    if flags & (F.RUNNING | F.PAUSED | F.SHUTOFF | F.OTHER):
        flags &= ~(F.ACTIVE | F.INACTIVE)
    doms = s.conn.list_all_domains(int(flags))
    doms.sort(key=lambda d: (d.id == -1, d.id if d.id != -1 else 0, d.name))
    if o["id"]:
        doms = [d for d in doms if d.id != -1]
    if o["uuid"] or o["name"] or o["id"]:
        for d in doms:
            parts = []
            if o["id"]:
                parts.append(str(d.id))
            if o["uuid"]:
                parts.append(d.uuid)
            if o["name"]:
                parts.append(d.name)
            s.out(" ".join(parts))
        return
    headers = ["Id", "Name", "State"] + (["Title"] if o["title"] else [])
    rows = []
    for d in doms:
        state = d.state()[0]
        # virsh's --managed-save: a shut-off domain with a managed save image reads "saved"
        saved = o["managed-save"] and state == _STATE_SHUTOFF and d.has_managed_save()
        row = ["-" if d.id == -1 else str(d.id), d.name, "saved" if saved else state_text(state)]
        if o["title"]:
            from pyvirt.cli.guest_cmds import domain_description

            row.append(domain_description(d, True, 0))  # virsh: the current definition's title
        rows.append(row)
    from pyvirt.cli.table import print_table

    print_table(s, headers, rows)


def _os_type(s: Session, d: Any) -> str:
    """virDomainGetOSType, as the driver answers it."""
    return str(d.os_type())


@command("dominfo", "domain information", DOMAIN)
def cmd_dominfo(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.domain_state import state_text

    d = get_domain(s, o["domain"])
    info = d.info()
    flags = s.conn.calls.domain_get_flags(dom=d.ref)

    def row(label: str, value: str) -> None:
        s.out(f"{label:<15} {value}")

    row("Id:", "-" if d.id == -1 else str(d.id))
    row("Name:", d.name)
    row("UUID:", d.uuid)
    row("OS Type:", _os_type(s, d))
    row("State:", state_text(info.state))
    row("CPU(s):", str(info.vcpus))
    if info.cpu_time_ns:
        row("CPU time:", f"{info.cpu_time_ns / 1e9:.1f}s")
    row("Max memory:", f"{info.max_memory_kib} KiB" if info.max_memory_kib else "no limit")
    row("Used memory:", f"{info.memory_kib} KiB")
    row("Persistent:", "yes" if flags["persistent"] else "no")
    row("Autostart:", "enable" if flags["autostart"] else "disable")
    row("Managed save:", "yes" if flags["managed_save"] else "no")
    try:
        model = s.conn.get_security_model()
    except Error:
        return
    if model.model:
        row("Security model:", model.model)
        row("Security DOI:", model.doi)
        labels = d.security_labels()
        if labels and labels[0].label:
            row("Security label:", f"{labels[0].label} ({'enforcing' if labels[0].enforcing else 'permissive'})")


@command("domstate", "domain state", DOMAIN, Opt("reason", "also print reason for the state", flag=True))
def cmd_domstate(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.domain_state import reason_text, state_text

    state, reason = get_domain(s, o["domain"]).state()
    if o["reason"]:
        s.out(f"{state_text(state)} ({reason_text(state, reason)})")
    else:
        s.out(state_text(state))


@command("domid", "convert a domain name or UUID to domain id", DOMAIN)
def cmd_domid(s: Session, o: dict[str, Any]) -> None:
    d = get_domain(s, o["domain"])
    s.out("-" if d.id == -1 else str(d.id))


@command("domname", "convert a domain id or UUID to domain name", DOMAIN)
def cmd_domname(s: Session, o: dict[str, Any]) -> None:
    s.out(get_domain(s, o["domain"]).name)


@command("domuuid", "convert a domain name or id to domain UUID", DOMAIN)
def cmd_domuuid(s: Session, o: dict[str, Any]) -> None:
    s.out(get_domain(s, o["domain"]).uuid)


@command(
    "dumpxml", "domain information in XML", DOMAIN,
    Opt("inactive", "show inactive defined XML", flag=True),
    Opt("security-info", "include security sensitive information in XML dump", flag=True),
    Opt("update-cpu", "update guest CPU according to host CPU", flag=True),
    Opt("migratable", "provide XML suitable for migrations", flag=True),
    *XPATH_OPTS,
)  # fmt: skip
def cmd_dumpxml(s: Session, o: dict[str, Any]) -> None:
    flags = (_XML_SECURE if o["security-info"] else 0) | (_XML_INACTIVE if o["inactive"] else 0)
    flags |= (_XML_UPDATE_CPU if o["update-cpu"] else 0) | (_XML_MIGRATABLE if o["migratable"] else 0)
    d = get_domain(s, o["domain"])
    from pyvirt.cli.xpath_output import print_xml

    print_xml(s, d.xml_desc(flags), o)


@command(
    "define", "define (but don't start) a domain from an XML file",
    Opt("file", "file containing an XML domain description", required=True, positional=True),
    Opt("validate", "validate the XML against the schema", flag=True),
)  # fmt: skip
def cmd_define(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.cli.files import read_file

    xml = read_file(o["file"])
    if o["validate"]:
        from pyvirt.conf.schema import validate

        try:
            validate(xml, "domain")
        except Error as exc:
            raise _fail(f"Failed to define domain from {o['file']}", exc) from None
    try:
        d = s.conn.define_domain(xml, _DEFINE_VALIDATE if o["validate"] else 0)
    except Error as exc:
        raise _fail(f"Failed to define domain from {o['file']}", exc) from None
    s.extra(f"Domain '{d.name}' defined from {o['file']}")


@command(
    "create", "create a domain from an XML file",
    Opt("file", "file containing an XML domain description", required=True, positional=True), _CONSOLE,
    Opt("paused", "leave the guest paused after creation", flag=True),
    Opt("autodestroy", "automatically destroy the guest when virsh disconnects", flag=True), _PASS_FDS,
    Opt("validate", "validate the XML against the schema", flag=True), _RESET_NVRAM,
)  # fmt: skip
def cmd_create(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.cli.files import read_file

    xml = read_file(o["file"])
    fds = _pass_fds(o)
    flags = (_START_PAUSED if o["paused"] else 0) | (_START_AUTODESTROY if o["autodestroy"] else 0)
    flags |= (_START_VALIDATE if o["validate"] else 0) | (_START_RESET_NVRAM if o["reset-nvram"] else 0)
    try:
        # virsh calls the *WithFiles API only when given descriptors (the older call otherwise)
        d = s.conn.create_xml_with_files(xml, fds, flags) if fds else s.conn.create_domain(xml, flags)
    except Error as exc:
        raise _fail(f"Failed to create domain from {o['file']}", exc) from None
    s.extra(f"Domain '{d.name}' created from {o['file']}")
    if o["console"]:
        from pyvirt.cli.console_cmd import ConsoleOpenError

        try:  # the guest was created: the command succeeds whatever the console does (virsh's cmdCreate)
            _attach_console(s, d)
        except ConsoleOpenError:
            pass  # virsh drops libvirt's error unprinted
        except CommandError as exc:  # what cmdRunConsole prints itself (not running, no terminal)
            for line in exc.lines:
                s.error(line)


@command(
    "start", "start a (previously defined) inactive domain", DOMAIN, _CONSOLE,
    Opt("paused", "leave the guest paused after startup", flag=True),
    Opt("autodestroy", "automatically destroy the guest when virsh disconnects", flag=True),
    Opt("bypass-cache", "avoid file system cache when loading", flag=True),
    Opt("force-boot", "force fresh boot by discarding any managed save", flag=True), _PASS_FDS, _RESET_NVRAM,
)  # fmt: skip
def cmd_start(s: Session, o: dict[str, Any]) -> None:
    d = get_domain(s, o["domain"])
    if d.id != -1:
        raise CommandError("Domain is already active")
    fds = _pass_fds(o)
    flags = (_START_PAUSED if o["paused"] else 0) | (_START_AUTODESTROY if o["autodestroy"] else 0)
    flags |= (_START_BYPASS_CACHE if o["bypass-cache"] else 0) | (_START_FORCE_BOOT if o["force-boot"] else 0)
    flags |= _START_RESET_NVRAM if o["reset-nvram"] else 0
    try:
        if flags & _START_FORCE_BOOT:
            flags = _start_force_boot(d, flags, fds)
        if flags != -1:
            if fds:  # virsh calls virDomainCreateWithFiles only when given descriptors
                d.create_with_files(fds, flags)
            else:
                d.create(flags)
    except Error as exc:
        raise _fail(f"Failed to start domain '{d.name}'", exc) from None
    s.extra(f"Domain '{d.name}' started")
    if o["console"]:
        _attach_console(s, d)


def _start_force_boot(d: Any, flags: int, fds: list[int]) -> int:
    """virsh's --force-boot: the flag first; a server that refuses it (NO_SUPPORT, INVALID_ARG) gets the
    managed save image removed and a start without it. Returns the flags still to start with, -1 if started.

    virsh reports that first refusal itself, without "Failed to start domain".
    """
    try:
        if fds:
            d.create_with_files(fds, flags)
        else:
            d.create(flags)
        return -1
    except Error as exc:
        if exc.code not in (ErrorCode.NO_SUPPORT, ErrorCode.INVALID_ARG):
            raise CommandError(exc.message) from None
    try:
        has_image = d.has_managed_save()
    except Error:
        has_image = False  # virsh: no image to remove
    if has_image:
        try:
            d.managed_save_remove()
        except Error as exc:
            raise CommandError(exc.message) from None
    return flags & ~_START_FORCE_BOOT


def _simple(name: str, summary: str, verb: str, done: str, method: str, *extra: Opt) -> None:
    def handler(s: Session, o: dict[str, Any]) -> None:
        d = get_domain(s, o["domain"])
        try:
            getattr(d, method)()
        except Error as exc:
            raise _fail(f"Failed to {verb} domain '{d.name}'", exc) from None
        s.extra(f"Domain '{d.name}' {done}")

    command(name, summary, DOMAIN, *extra)(handler)


@command(
    "destroy", "destroy (stop) a domain", DOMAIN, Opt("graceful", "terminate gracefully", flag=True),
    Opt("remove-logs", "remove domain logs", flag=True),
)  # fmt: skip
def cmd_destroy(s: Session, o: dict[str, Any]) -> None:
    """virsh calls virDomainDestroy unless an option asks for virDomainDestroyFlags' bits."""
    d = get_domain(s, o["domain"])
    flags = (_DESTROY_GRACEFUL if o["graceful"] else 0) | (_DESTROY_REMOVE_LOGS if o["remove-logs"] else 0)
    try:
        d.destroy(flags)
    except Error as exc:
        raise _fail(f"Failed to destroy domain '{d.name}'", exc) from None
    s.extra(f"Domain '{d.name}' destroyed")


_simple("shutdown", "gracefully shutdown a domain", "shutdown", "is being shutdown", "shutdown",
        Opt("mode", "shutdown mode: acpi|agent|initctl|signal|paravirt"))  # fmt: skip
_simple("reboot", "reboot a domain", "reboot", "is being rebooted", "reboot",
        Opt("mode", "shutdown mode: acpi|agent|initctl|signal|paravirt"))  # fmt: skip
_simple("suspend", "suspend a domain", "suspend", "suspended", "suspend")
_simple("resume", "resume a domain", "resume", "resumed", "resume")


@command(
    "save", "save a domain state to a file", DOMAIN,
    Opt("file", "where to save the data", required=True, positional=True),
    Opt("bypass-cache", "avoid file system cache when saving", flag=True),
    Opt("xml", "filename containing updated XML for the target"),
    Opt("running", "set domain to be running on restore", flag=True),
    Opt("paused", "set domain to be paused on restore", flag=True),
    Opt("verbose", "display the progress of save", flag=True),
)  # fmt: skip
def cmd_save(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.cli.files import read_file
    from pyvirt.cli.progress import Progress, watch_job

    d = get_domain(s, o["domain"])
    xml = read_file(o["xml"]) if o["xml"] else None
    flags = _save_flags(o)
    progress = Progress(s, "Save", verbose=o["verbose"])
    try:
        watch_job(s, d, lambda: d.save(o["file"], xml, flags), progress)
    except Error as exc:
        raise _fail(f"Failed to save domain '{d.name}' to {o['file']}", exc) from None
    progress.finish(newline=False)
    s.extra(f"\nDomain '{d.name}' saved to {o['file']}")


@command(
    "restore", "restore a domain from a saved state in a file",
    Opt("file", "the state to restore", required=True, positional=True),
    Opt("bypass-cache", "avoid file system cache when restoring", flag=True),
    Opt("xml", "filename containing updated XML for the target"),
    Opt("running", "restore domain into running state", flag=True),
    Opt("paused", "restore domain into paused state", flag=True), _RESET_NVRAM,
)  # fmt: skip
def cmd_restore(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.cli.files import read_file
    from pyvirt.cli.progress import Progress

    xml = read_file(o["xml"]) if o["xml"] else None
    flags = _save_flags(o) | (_SAVE_RESET_NVRAM if o["reset-nvram"] else 0)
    progress = Progress(s, "Restore")  # a bar on a terminal; there is no domain yet whose job could be asked
    progress.update(0, 1, force=True)
    try:
        s.conn.restore_domain(o["file"], xml, flags)
    except Error as exc:
        if progress.enabled:
            s.error_raw("\n")
        raise _fail(f"Failed to restore domain from {o['file']}", exc) from None
    progress.finish()
    s.extra(f"Domain restored from {o['file']}")


@command(
    "managedsave", "managed save of a domain state", DOMAIN,
    Opt("bypass-cache", "avoid file system cache when saving", flag=True),
    Opt("running", "set domain to be running on next start", flag=True),
    Opt("paused", "set domain to be paused on next start", flag=True),
    Opt("verbose", "display the progress of save", flag=True),
)  # fmt: skip
def cmd_managedsave(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.cli.progress import Progress, watch_job

    d = get_domain(s, o["domain"])
    flags = _save_flags(o)
    progress = Progress(s, "Managedsave", verbose=o["verbose"])
    try:
        watch_job(s, d, lambda: d.managed_save(flags), progress)
    except Error as exc:
        raise _fail(f"Failed to save domain '{d.name}' state", exc) from None
    progress.finish(newline=False)
    s.extra(f"\nDomain '{d.name}' state saved by libvirt")


@command("managedsave-remove", "Remove managed save of a domain", DOMAIN)
def cmd_managedsave_remove(s: Session, o: dict[str, Any]) -> None:
    """virsh prints both outcomes without a newline of their own: the command's trailer ends the line."""
    d = get_domain(s, o["domain"])
    if not d.has_managed_save():
        s.extra_raw(f"Domain '{d.name}' has no manage save image; removal skipped")
        return
    try:
        d.managed_save_remove()
    except Error as exc:
        raise _fail(f"Failed to remove managed save image for domain '{d.name}'", exc) from None
    s.extra_raw(f"Removed managedsave image for domain '{d.name}'")


@command("autostart", "autostart a domain", DOMAIN, Opt("disable", "disable autostarting", flag=True))
def cmd_autostart(s: Session, o: dict[str, Any]) -> None:
    d = get_domain(s, o["domain"])
    try:
        d.autostart = not o["disable"]
    except Error as exc:
        verb = "unmark" if o["disable"] else "mark"
        raise _fail(f"Failed to {verb} domain '{d.name}' as autostarted", exc) from None
    s.extra(f"Domain '{d.name}' {'unmarked' if o['disable'] else 'marked'} as autostarted")


@command(
    "domxml-to-native", "Convert domain XML to native guest configuration",
    Opt("format", "target config data type format", required=True, positional=True),
    Opt("domain", "domain name, id or uuid"),  # virsh's VSH_OFLAG_REQ_OPT: only by name
    Opt("xml", "xml data file to export from", positional=True, kind="optstring"),
)  # fmt: skip
def cmd_domxml_to_native(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.cli.files import read_file

    if o["xml"] and o["domain"]:
        raise CommandError("Options --domain and --xml are mutually exclusive")
    if o["xml"]:
        xml = read_file(o["xml"])
    elif o["domain"]:
        xml = get_domain(s, o["domain"]).xml_desc(0)  # virsh asks for the current definition, no flags
    else:
        raise CommandError("need either domain or domain XML")
    try:
        s.out(s.conn.domain_xml_to_native(o["format"], xml))
    except Error as exc:
        raise CommandError(exc.message) from None


@command(
    "domxml-from-native", "Convert native config to domain XML",
    Opt("format", "source config data format", required=True, positional=True),
    Opt("config", "config data file to import from", required=True, positional=True),
)  # fmt: skip
def cmd_domxml_from_native(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.cli.files import read_file

    native = read_file(o["config"])
    try:
        s.out(s.conn.domain_xml_from_native(o["format"], native).rstrip("\n"))
    except Error as exc:
        raise CommandError(exc.message) from None


# virDomainStatsTypes: not a flag enum in libvirt's naming, so not in pyvirt.flags; checked against libvirt-python
_STATS_STATE = 1 << 0  # VIR_DOMAIN_STATS_STATE
_STATS_CPU_TOTAL = 1 << 1  # VIR_DOMAIN_STATS_CPU_TOTAL
_STATS_BALLOON = 1 << 2  # VIR_DOMAIN_STATS_BALLOON
_STATS_VCPU = 1 << 3  # VIR_DOMAIN_STATS_VCPU
_STATS_INTERFACE = 1 << 4  # VIR_DOMAIN_STATS_INTERFACE
_STATS_BLOCK = 1 << 5  # VIR_DOMAIN_STATS_BLOCK
_STATS_PERF = 1 << 6  # VIR_DOMAIN_STATS_PERF
_STATS_IOTHREAD = 1 << 7  # VIR_DOMAIN_STATS_IOTHREAD
_STATS_MEMORY = 1 << 8  # VIR_DOMAIN_STATS_MEMORY
_STATS_DIRTYRATE = 1 << 9  # VIR_DOMAIN_STATS_DIRTYRATE
_STATS_VM = 1 << 10  # VIR_DOMAIN_STATS_VM
_STATS_NOWAIT = 1 << 29  # VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT
_STATS_BACKING = 1 << 30  # VIR_CONNECT_GET_ALL_DOMAINS_STATS_BACKING
_STATS_ENFORCE = 1 << 31  # VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS

_STATS_GROUPS = (("state", _STATS_STATE), ("cpu-total", _STATS_CPU_TOTAL), ("balloon", _STATS_BALLOON),
                 ("vcpu", _STATS_VCPU), ("interface", _STATS_INTERFACE), ("block", _STATS_BLOCK),
                 ("perf", _STATS_PERF), ("iothread", _STATS_IOTHREAD), ("memory", _STATS_MEMORY),
                 ("dirtyrate", _STATS_DIRTYRATE), ("vm", _STATS_VM))  # fmt: skip


_STATS_LISTS = (("list-active", F.ACTIVE), ("list-inactive", F.INACTIVE), ("list-persistent", F.PERSISTENT),
                ("list-transient", F.TRANSIENT), ("list-running", F.RUNNING), ("list-paused", F.PAUSED),
                ("list-shutoff", F.SHUTOFF), ("list-other", F.OTHER))  # fmt: skip
_STATS_LIST_BITS = sum(bit for _, bit in _STATS_LISTS)
_STATS_MODES = (("raw", 0), ("enforce", _STATS_ENFORCE), ("backing", _STATS_BACKING), ("nowait", _STATS_NOWAIT))


@command(
    "domstats", "get statistics about one or multiple domains",
    *(Opt(name, f"report domain {name} statistics", flag=True) for name, _ in _STATS_GROUPS),
    *(Opt(name, f"list only {name[5:]} domains", flag=True) for name, _ in _STATS_LISTS),
    *(Opt(name, f"{name} statistics", flag=True) for name, _ in _STATS_MODES),
    Opt("domain", "list of domains to get stats for", positional=True, kind="list"),
)  # fmt: skip
def cmd_domstats(s: Session, o: dict[str, Any]) -> None:
    """virConnectGetAllDomainStats / virDomainListGetStats: the filter bits are virConnectListAllDomains' own.

    Named domains are looked up first (the first unknown one fails the
    command before any statistics are asked for), then filtered by the same
    ``--list-*`` flags, as libvirt's drivers filter the list they are given.
    """
    mask = sum(bit for name, bit in _STATS_GROUPS if o[name])
    flags = sum(bit for name, bit in (*_STATS_LISTS, *_STATS_MODES) if o[name])
    filters = flags & _STATS_LIST_BITS
    if o["domain"]:
        from pyvirt.domain import domain_matches

        named = [get_domain(s, d) for d in o["domain"]]
        doms = [d for d in named if domain_matches(s.conn.calls, d.ref, filters)]
    else:
        doms = s.conn.list_all_domains(filters)
    records = []
    for dom in doms:
        try:
            records.append((dom.name, dom.get_stats(mask, flags)))
        except Error as exc:
            raise CommandError(exc.message) from None
    for i, (name, fields) in enumerate(records):
        if i:
            s.out("")  # records are separated by a blank line; the last one's comes after the command
        s.out(f"Domain: '{name}'")
        for key, value in fields:
            s.out(f"  {key}={value}")


def _device_command(s: Session, o: dict[str, Any], verb: str) -> None:
    from pyvirt.cli.files import read_file

    if o["current"] and (o["live"] or o["config"]):
        raise CommandError("Options --current and --live are mutually exclusive")
    flags = (_AFFECT_LIVE if o["live"] else 0) | (_AFFECT_CONFIG if o["config"] or o["persistent"] else 0)
    flags |= _DEVICE_MODIFY_FORCE if o.get("force") else 0
    if o["persistent"]:
        flags |= _AFFECT_LIVE if get_domain(s, o["domain"]).is_active() else 0
    dom = get_domain(s, o["domain"])
    xml = read_file(o["file"])
    try:
        {"attach": dom.attach_device, "detach": dom.detach_device, "update": dom.update_device}[verb](xml, flags)
    except Error as exc:
        if exc.code == ErrorCode.NO_SUPPORT and o["current"] and not flags:
            # virsh calls the Flags variant once any of the options is given ("flags || current"), so a driver
            # without the call is reported under that API's name, not the plain one a flag-less call stands for
            from pyvirt.plugin.api import API

            exc = NotSupportedError(ErrorCode.NO_SUPPORT, API[f"domain_{verb}_device"].api)
        raise _fail(f"Failed to {verb} device from {o['file']}", exc) from None
    s.out(f"Device {verb.removesuffix('e')}ed successfully")


_DEVICE_OPTS = (
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("file", "XML file", required=True, positional=True),
    Opt("persistent", "make live change persistent", flag=True),
    Opt("config", "affect next boot", flag=True),
    Opt("live", "affect running domain", flag=True),
    Opt("current", "affect current domain", flag=True),
)


@command("attach-device", "attach device from an XML file", *_DEVICE_OPTS)
def cmd_attach_device(s: Session, o: dict[str, Any]) -> None:
    _device_command(s, o, "attach")


@command("detach-device", "detach device from an XML file", *_DEVICE_OPTS)
def cmd_detach_device(s: Session, o: dict[str, Any]) -> None:
    _device_command(s, o, "detach")


@command("update-device", "update device from an XML file", *_DEVICE_OPTS,
         Opt("force", "force device update", flag=True))  # fmt: skip
def cmd_update_device(s: Session, o: dict[str, Any]) -> None:
    _device_command(s, o, "update")
