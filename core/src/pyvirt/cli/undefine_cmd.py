"""undefine: virsh 9.0's cmdUndefine, with its storage removal and its fallback for servers that refuse flags.

virsh does not simply pass its options to virDomainUndefineFlags: it first drops
the bits that have nothing to act on (no managed save image, no snapshot
metadata), then, when the server refuses the call (NO_SUPPORT, INVALID_ARG, as
libvirt's test driver refuses CHECKPOINTS_METADATA and TPM), removes the managed
save image itself and calls plain virDomainUndefine. The volumes named by
--storage or --remove-all-storage are found in the definition before the domain
goes, and wiped and deleted after it has gone.
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.errors import Error, ErrorCode

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# libvirt's flag bits (pyvirt.flags is not loaded on a short client run: test_flag_literals checks each value)
_UNDEFINE_MANAGED_SAVE = 1 << 0  # VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
_UNDEFINE_SNAPSHOTS_METADATA = 1 << 1  # VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
_UNDEFINE_NVRAM = 1 << 2  # VIR_DOMAIN_UNDEFINE_NVRAM
_UNDEFINE_KEEP_NVRAM = 1 << 3  # VIR_DOMAIN_UNDEFINE_KEEP_NVRAM
_UNDEFINE_CHECKPOINTS_METADATA = 1 << 4  # VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA
_UNDEFINE_TPM = 1 << 5  # VIR_DOMAIN_UNDEFINE_TPM
_UNDEFINE_KEEP_TPM = 1 << 6  # VIR_DOMAIN_UNDEFINE_KEEP_TPM
_SNAPSHOT_LIST_METADATA = 1 << 1  # VIR_DOMAIN_SNAPSHOT_LIST_METADATA
_VOL_DELETE_WITH_SNAPSHOTS = 1 << 1  # VIR_STORAGE_VOL_DELETE_WITH_SNAPSHOTS

_FLAG_OPTIONS = (
    ("managed-save", _UNDEFINE_MANAGED_SAVE), ("snapshots-metadata", _UNDEFINE_SNAPSHOTS_METADATA),
    ("checkpoints-metadata", _UNDEFINE_CHECKPOINTS_METADATA), ("nvram", _UNDEFINE_NVRAM),
    ("keep-nvram", _UNDEFINE_KEEP_NVRAM), ("tpm", _UNDEFINE_TPM), ("keep-tpm", _UNDEFINE_KEEP_TPM),
)  # fmt: skip
# virDomainUndefineFlags' refusals that make virsh fall back to doing the work piecewise
_REFUSED = (ErrorCode.NO_SUPPORT, ErrorCode.INVALID_ARG)


def _string_to_array(text: str) -> list[str]:
    """vshStringToArray: comma-separated, a doubled comma standing for a comma inside one item."""
    return [item.replace("\0", ",") for item in text.replace(",,", "\0").split(",")]


def _count(call: Any) -> int:
    """A count virsh takes as 0 when the server has no such call (NO_SUPPORT); other failures end the command."""
    try:
        return int(call())
    except Error as exc:
        if exc.code != ErrorCode.NO_SUPPORT:
            raise CommandError(exc.message) from None
        return 0


def _disk_volumes(s: Session, d: Any, wanted: list[str] | None) -> list[tuple[str, str, Any]]:
    """(target, source, volume) of the disks to remove, reported as virsh reports the ones it cannot."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(d.xml_desc(0))
    except Error as exc:
        raise CommandError(exc.message) from None
    left = list(wanted) if wanted is not None else None
    vols = []
    for disk in root.findall("./devices/disk"):
        target_el, source_el = disk.find("target"), disk.find("source")
        target = target_el.get("dev", "") if target_el is not None else ""
        attrs = source_el.attrib if source_el is not None else {}
        source = next((attrs[a] for a in ("file", "dir", "name", "dev", "volume") if attrs.get(a)), "")
        if not source:
            continue
        if left is not None:
            if target in left:
                left.remove(target)
            elif source in left:
                left.remove(source)
            else:
                continue
        vol = None
        try:
            if attrs.get("pool"):
                try:
                    pool = s.conn.lookup_storage_pool_by_name(attrs["pool"])
                except Error:
                    s.error(f"Storage pool '{attrs['pool']}' for volume '{target}' not found.")
                    continue
                vol = pool.lookup_volume_by_name(source)
            else:
                vol = s.conn.lookup_storage_volume_by_path(source)
        except Error:
            s.error(f"Storage volume '{target}'({source}) is not managed by libvirt. Remove it manually.\n")
            continue
        vols.append((target, source, vol))
    if left:
        for item in left:
            s.error(f"Volume '{item}' was not found in domain's definition.\n")
        raise CommandError()
    return vols


@command(
    "undefine", "undefine a domain",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("managed-save", "remove domain managed state file", flag=True),
    Opt("storage", "remove associated storage volumes (comma separated list of targets or source paths) (see domblklist)"),
    Opt("remove-all-storage", "remove all associated storage volumes (use with caution)", flag=True),
    Opt("delete-storage-volume-snapshots", "delete snapshots associated with volume(s), requires "
        "--remove-all-storage (must be supported by storage driver)", flag=True),
    Opt("wipe-storage", "wipe data on the removed volumes", flag=True),
    Opt("snapshots-metadata", "remove all domain snapshot metadata (vm must be inactive)", flag=True),
    Opt("checkpoints-metadata", "remove all domain checkpoint metadata (vm must be inactive)", flag=True),
    Opt("nvram", "remove nvram file", flag=True), Opt("keep-nvram", "keep nvram file", flag=True),
    Opt("tpm", "remove TPM state", flag=True), Opt("keep-tpm", "keep TPM state", flag=True),
)  # fmt: skip
def cmd_undefine(s: Session, o: dict[str, Any]) -> None:
    if o["delete-storage-volume-snapshots"] and not o["remove-all-storage"]:
        raise CommandError("Option --remove-all-storage is required by option --delete-storage-volume-snapshots")
    for a, b in (("nvram", "keep-nvram"), ("tpm", "keep-tpm")):
        if o[a] and o[b]:
            raise CommandError(f"Options --{a} and --{b} are mutually exclusive")
    vol_string, remove_all = o["storage"], o["remove-all-storage"]
    if o["wipe-storage"] and not (vol_string or remove_all):
        raise CommandError("'--wipe-storage' requires '--storage <string>' or '--remove-all-storage'")
    flags = 0
    for name, bit in _FLAG_OPTIONS:
        flags |= bit if o[name] else 0
    name = o["domain"]  # virsh names the domain as it was given
    d = get_domain(s, name)
    managed_save_safe, snapshots_safe = bool(o["managed-save"]), bool(o["snapshots-metadata"])
    has_managed_save = has_snapshots = 0
    has_snapshots_metadata = 0
    running = _count(d.is_active)
    if not running:
        has_managed_save = _count(d.has_managed_save)
        has_snapshots = _count(lambda: len(d.list_snapshots(0)))
        if has_snapshots:
            try:
                has_snapshots_metadata = len(d.list_snapshots(_SNAPSHOT_LIST_METADATA))
                managed_save_safe = snapshots_safe = True  # the server knows the newer flags
            except Error:
                has_snapshots_metadata = has_snapshots  # an older server: every snapshot has metadata
    if not has_managed_save:
        flags &= ~_UNDEFINE_MANAGED_SAVE
        managed_save_safe = True
    if not has_snapshots:
        snapshots_safe = True
    if not has_snapshots_metadata:
        flags &= ~_UNDEFINE_SNAPSHOTS_METADATA
        snapshots_safe = True
    vols: list[tuple[str, str, Any]] = []
    if vol_string or remove_all:
        if running:
            raise CommandError("Storage volume deletion is supported only on stopped domains")
        if vol_string and remove_all:
            raise CommandError("Specified both --storage and --remove-all-storage")
        vols = _disk_volumes(s, d, _string_to_array(vol_string) if vol_string else None)
    _undefine(d, name, flags, o, managed_save_safe and snapshots_safe, has_managed_save, has_snapshots_metadata)
    s.extra(f"Domain '{name}' has been undefined")
    _remove_volumes(
        s, vols, o["wipe-storage"], _VOL_DELETE_WITH_SNAPSHOTS if o["delete-storage-volume-snapshots"] else 0
    )


def _undefine(d: Any, name: str, flags: int, o: dict[str, Any], safe: bool, managed: int, metadata: int) -> None:
    """virDomainUndefineFlags when it cannot strand data, else (or when refused) virsh's piecewise undefine."""
    failed = f"Failed to undefine domain '{name}'"
    if safe or o["nvram"]:
        try:
            d.undefine(flags)
            return
        except Error as exc:
            if o["nvram"] or exc.code not in _REFUSED:
                raise CommandError(failed, exc.message) from None
    if managed:
        if not o["managed-save"]:
            raise CommandError("Refusing to undefine while domain managed save image exists")
        try:
            d.managed_save_remove()
        except Error as exc:
            raise CommandError(exc.message) from None
    if metadata:  # no way to remove only the snapshots' metadata without the newer flag
        if o["snapshots-metadata"]:
            raise CommandError(f"Unable to remove metadata of {metadata} snapshots")
        raise CommandError(f"Refusing to undefine while {metadata} snapshots exist")
    try:
        d.undefine(0)
    except Error as exc:
        raise CommandError(failed, exc.message) from None


def _remove_volumes(s: Session, vols: list[tuple[str, str, Any]], wipe: bool, delete_flags: int) -> None:
    """After the domain has gone: wipe (when asked) and delete each volume, going on past a failure as virsh does."""
    last: Error | None = None
    for target, source, vol in vols:
        if wipe:
            s.extra_raw(f"Wiping volume '{target}'({source}) ... ")
            s.stdout.flush()
            try:
                vol.wipe(0)
            except Error as exc:
                s.error("Failed! Volume not removed.")
                last = exc
                continue
            s.extra("Done.")
        try:
            vol.delete(delete_flags)
        except Error as exc:
            s.error(f"Failed to remove storage volume '{target}'({source})")
            last = exc
            continue
        s.extra(f"Volume '{target}'({source}) removed.")
    if last is not None:
        raise CommandError(last.message)
