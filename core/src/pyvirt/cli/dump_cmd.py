"""``pyvirsh dump``: write a guest's memory to a file for a debugger, as virsh's cmdDump does.

virsh looks the domain up, then checks ``--format`` (only with
``--memory-only``, one of five names), and calls virDomainCoreDump for the
raw/ELF format and virDomainCoreDumpWithFormat for the others: pyvirt's one
hook takes both, and its remote call picks the same procedure libvirt's
client does. The domain is named in the messages as the user wrote it
(virsh's ``name`` is the option's text, ``Domain '1' dumped to ...``).
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

# virshDomainCoreDumpFormat: the index is libvirt's virDomainCoreDumpFormat ("elf" is the raw format, 0)
_FORMATS = ("elf", "kdump-zlib", "kdump-lzo", "kdump-snappy", "win-dmp")
_CRASH = 1  # VIR_DUMP_CRASH
_LIVE = 2  # VIR_DUMP_LIVE
_BYPASS_CACHE = 4  # VIR_DUMP_BYPASS_CACHE
_RESET = 8  # VIR_DUMP_RESET
_MEMORY_ONLY = 16  # VIR_DUMP_MEMORY_ONLY
# virDomainCoreDumpFlags, in virsh's option order
_FLAGS = (("live", _LIVE), ("crash", _CRASH), ("bypass-cache", _BYPASS_CACHE), ("reset", _RESET),
          ("memory-only", _MEMORY_ONLY))  # fmt: skip


@command(
    "dump", "dump the core of a domain to a file for analysis",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("file", "where to dump the core", required=True, positional=True),
    Opt("live", "perform a live core dump if supported", flag=True),
    Opt("crash", "crash the domain after core dump", flag=True),
    Opt("bypass-cache", "avoid file system cache when dumping", flag=True),
    Opt("reset", "reset the domain after core dump", flag=True),
    Opt("verbose", "display the progress of dump", flag=True),
    Opt("memory-only", "dump domain's memory only", flag=True),
    Opt("format", "specify the format of memory-only dump"),
    description="Core dump a domain.",
)  # fmt: skip
def cmd_dump(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.cli.progress import Progress, watch_job

    name, to = o["domain"], o["file"]
    dom = get_domain(s, name)
    flags = sum(bit for option, bit in _FLAGS if o[option])
    dumpformat = 0
    if o["format"] is not None:
        if not flags & _MEMORY_ONLY:
            raise CommandError("--format only works with --memory-only")
        if o["format"]:  # an empty --format leaves the raw format, as vshCommandOptStringQuiet's 0
            if o["format"] not in _FORMATS:
                raise CommandError(
                    f"format '{o['format']}' is not supported, expecting "
                    "'kdump-zlib', 'kdump-lzo', 'kdump-snappy', 'win-dmp' or 'elf'"
                )
            dumpformat = _FORMATS.index(o["format"])
    progress = Progress(s, "Dump", verbose=o["verbose"])
    try:
        watch_job(s, dom, lambda: dom.core_dump_with_format(to, dumpformat, flags), progress)
    except Error as exc:
        raise CommandError(f"Failed to core dump domain '{name}' to {to}", exc.message) from None
    progress.finish(newline=False)
    s.extra(f"\nDomain '{name}' dumped to {to}")
