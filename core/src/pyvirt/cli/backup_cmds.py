"""``pyvirsh backup-begin`` / ``backup-dumpxml``: a running guest's disks copied out while it runs (virsh's
cmdBackupBegin / cmdBackupDumpXML in tools/virsh-backup.c).

``backup-begin`` without ``--backupxml`` asks for libvirt's defaults with an
empty ``<domainbackup/>`` (push mode, every disk, each beside its image);
the backup then runs as the domain's job, so the command returns at once.
``backup-dumpxml`` prints the running job's document, filled in.
"""

from __future__ import annotations

from pyvirt.cli.framework import XPATH_OPTS, Opt, Session, command
from pyvirt.cli.lookup import get_domain

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

_REUSE_EXTERNAL = 1  # VIR_DOMAIN_BACKUP_BEGIN_REUSE_EXTERNAL


def _file_text(s: Session, o: dict[str, Any], name: str) -> str | None:
    """vshCommandOptStringReq then virFileReadAll: an empty value is refused, a file read whole."""
    from pyvirt.cli.files import read_file
    from pyvirt.cli.framework import CommandError

    path: str | None = o.get(name)
    if path is None:
        return None
    if path == "":
        raise CommandError(f"Failed to get option '{name}': Option argument is empty")
    return read_file(path)


@command(
    "backup-begin", "Start a disk backup of a live domain",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("backupxml", "domain backup XML"),
    Opt("checkpointxml", "domain checkpoint XML"),
    Opt("reuse-external", "reuse files provided by caller", flag=True),
    description="Use XML to start a full or incremental disk backup of a live domain, optionally creating a "
                "checkpoint",
)  # fmt: skip
def cmd_backup_begin(s: Session, o: dict[str, Any]) -> None:
    flags = _REUSE_EXTERNAL if o.get("reuse-external") else 0
    dom = get_domain(s, o["domain"])
    backup = _file_text(s, o, "backupxml")
    checkpoint = _file_text(s, o, "checkpointxml")
    dom.backup_begin(backup if backup is not None else "<domainbackup/>", checkpoint, flags)
    s.out_raw("Backup started\n")


@command(
    "backup-dumpxml", "Dump XML for an ongoing domain block backup job",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    *XPATH_OPTS,
    description="Backup Dump XML",
)  # fmt: skip
def cmd_backup_dumpxml(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.cli.xpath_output import print_xml

    print_xml(s, get_domain(s, o["domain"]).backup_get_xml_desc(), o)
