"""Live migration as libvirt's client library drives it: flags, parameters, and the five phases.

libvirt's protocol version 3 with parameters (``virDomainMigrateVersion3Full``
in ``src/libvirt-domain.c``, with ``useParams``): the source's driver runs
**Begin** (checks, the XML the destination starts, a cookie), the
destination's **Prepare** (a QEMU waiting for the stream, the URI to send
it to), the source's **Perform** (QEMU's ``migrate``; the guest is left
paused), the destination's **Finish** (run the guest there, or discard it
when Perform failed) and the source's **Confirm** (kill the guest there, or
resume it when Finish failed). Each phase's cookie goes to the next one
unchanged. A failure at any phase leaves the guest running on the source
and nothing on the destination: Prepare's failure goes to Confirm with
``cancelled``, Perform's to Finish with ``cancelled`` (the destination
discards its QEMU), Finish's to Confirm with ``cancelled``.

While Perform runs, the destination's connection is watched: a
destination lost then (keepalive gave it up) aborts the source's job, so
that the guest runs on there, instead of waiting for TCP to give up on
QEMU's stream as libvirt's client does.

With :attr:`MigrateFlag.PEER2PEER` the source driver runs the whole
sequence itself against the destination URI (``migrate_to_uri3``).
"""

from __future__ import annotations

import contextlib
import enum
import threading
from collections.abc import Sequence

from pyvirt.domain_state import DomainState
from pyvirt.errors import Error, ErrorCode, InternalError, InvalidArgumentError, NotSupportedError, OperationFailedError
from pyvirt.flags import DomainMigrateFlags
from pyvirt.plugin.facade import DriverCalls
from pyvirt.plugin.records import DomainRef
from pyvirt.plugin.typed_params import TypedParam, TypedParamType

__all__ = [
    "JobType",
    "MigrateFlag",
    "MigrateParam",
    "get_param",
    "migrate_v3",
    "replace_param",
]


MigrateFlag = DomainMigrateFlags
"""virDomainMigrateFlags (VIR_MIGRATE_*), with libvirt's values: :class:`pyvirt.flags.DomainMigrateFlags`."""


class MigrateParam(enum.StrEnum):
    """VIR_MIGRATE_PARAM_* names, with the type libvirt gives each (``PARAM_TYPES``)."""

    URI = "migrate_uri"
    DEST_NAME = "destination_name"
    DEST_XML = "destination_xml"
    PERSIST_XML = "persistent_xml"
    BANDWIDTH = "bandwidth"
    BANDWIDTH_POSTCOPY = "bandwidth.postcopy"
    GRAPHICS_URI = "graphics_uri"
    LISTEN_ADDRESS = "listen_address"
    MIGRATE_DISKS = "migrate_disks"
    DISKS_PORT = "disks_port"
    DISKS_URI = "disks_uri"
    COMPRESSION = "compression"
    COMPRESSION_MT_LEVEL = "compression.mt.level"
    COMPRESSION_MT_THREADS = "compression.mt.threads"
    COMPRESSION_MT_DTHREADS = "compression.mt.dthreads"
    COMPRESSION_XBZRLE_CACHE = "compression.xbzrle.cache"
    AUTO_CONVERGE_INITIAL = "auto_converge.initial"
    AUTO_CONVERGE_INCREMENT = "auto_converge.increment"
    PARALLEL_CONNECTIONS = "parallel.connections"
    TLS_DESTINATION = "tls.destination"


PARAM_TYPES: dict[str, TypedParamType] = {
    MigrateParam.URI: TypedParamType.STRING,
    MigrateParam.DEST_NAME: TypedParamType.STRING,
    MigrateParam.DEST_XML: TypedParamType.STRING,
    MigrateParam.PERSIST_XML: TypedParamType.STRING,
    MigrateParam.BANDWIDTH: TypedParamType.ULLONG,
    MigrateParam.BANDWIDTH_POSTCOPY: TypedParamType.ULLONG,
    MigrateParam.GRAPHICS_URI: TypedParamType.STRING,
    MigrateParam.LISTEN_ADDRESS: TypedParamType.STRING,
    MigrateParam.MIGRATE_DISKS: TypedParamType.STRING,
    MigrateParam.DISKS_PORT: TypedParamType.INT,
    MigrateParam.DISKS_URI: TypedParamType.STRING,
    MigrateParam.COMPRESSION: TypedParamType.STRING,
    MigrateParam.COMPRESSION_MT_LEVEL: TypedParamType.INT,
    MigrateParam.COMPRESSION_MT_THREADS: TypedParamType.INT,
    MigrateParam.COMPRESSION_MT_DTHREADS: TypedParamType.INT,
    MigrateParam.COMPRESSION_XBZRLE_CACHE: TypedParamType.ULLONG,
    MigrateParam.AUTO_CONVERGE_INITIAL: TypedParamType.INT,
    MigrateParam.AUTO_CONVERGE_INCREMENT: TypedParamType.INT,
    MigrateParam.PARALLEL_CONNECTIONS: TypedParamType.INT,
    MigrateParam.TLS_DESTINATION: TypedParamType.STRING,
}
"""What each parameter's type is (libvirt's QEMU_MIGRATION_PARAMS check the same ones)."""


class JobType(enum.IntEnum):
    """virDomainJobType: what ``job_stats`` reports."""

    NONE = 0
    BOUNDED = 1
    UNBOUNDED = 2
    COMPLETED = 3
    FAILED = 4
    CANCELLED = 5


def get_param(params: Sequence[TypedParam], field: str) -> TypedParam | None:
    """The first parameter called ``field`` (virTypedParamsGet), or None."""
    return next((p for p in params if p.field == field), None)


def replace_param(params: list[TypedParam], field: str, type: TypedParamType, value: str | int) -> list[TypedParam]:
    """A copy of ``params`` with ``field`` set to ``value`` (virTypedParamsReplaceString)."""
    return [*(p for p in params if p.field != field), TypedParam(field, type, value)]


def check_migrate_flags(flags: int, api: str) -> None:
    """The flag rules libvirt's public migration APIs check before any driver sees the call."""
    if flags & MigrateFlag.NON_SHARED_DISK and flags & MigrateFlag.NON_SHARED_INC:
        raise InvalidArgumentError(
            ErrorCode.INVALID_ARG,
            "Flags 'VIR_MIGRATE_NON_SHARED_DISK' and 'VIR_MIGRATE_NON_SHARED_INC' are mutually exclusive",
            verbatim=True,
        )
    if flags & MigrateFlag.OFFLINE and flags & MigrateFlag.LIVE:
        raise InvalidArgumentError(
            ErrorCode.INVALID_ARG, "Flags 'VIR_MIGRATE_OFFLINE' and 'VIR_MIGRATE_LIVE' are mutually exclusive",
            verbatim=True,
        )  # fmt: skip
    if flags & MigrateFlag.TUNNELLED and not flags & MigrateFlag.PEER2PEER:
        raise InvalidArgumentError(
            ErrorCode.INVALID_ARG, f"flags: cannot perform tunnelled migration without using peer2peer flag ({api})"
        )


_PROBE_EVERY = 1.0  # seconds between two looks at the destination's connection while Perform runs


class _DestinationWatch:
    """The destination's connection, watched while the source performs (the client holds both).

    libvirt's client does not watch it: when the network to the destination
    goes down, QEMU's stream stalls and Perform waits for TCP to give up.
    Here a thread calls the destination once a second; a call on a
    connection that keepalive gave up fails at once, and one waiting for an
    answer is released when keepalive gives up. Then the source's job is
    aborted (virDomainAbortJob), so that Perform ends and the guest runs on
    there, and the migration reports libvirt's peer-to-peer wording for the
    same loss, "Lost connection to destination host".
    """

    def __init__(self, src: DriverCalls, dom: DomainRef, dst: DriverCalls) -> None:
        self.lost = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._probe, args=(src, dom, dst), name="migration-dest", daemon=True)
        self._thread.start()

    def _probe(self, src: DriverCalls, dom: DomainRef, dst: DriverCalls) -> None:
        while not self._done.wait(_PROBE_EVERY):
            try:
                dst.connect_get_version()
            except Error as exc:
                if self._done.is_set() or exc.code == ErrorCode.NO_SUPPORT:
                    return  # (a driver without the call cannot be watched this way; it was not lost)
                self.lost = True
                with contextlib.suppress(Error):  # (Perform may have ended meanwhile: nothing to abort then)
                    src.domain_abort_job(dom=dom, flags=0)
                return

    def stop(self) -> None:
        self._done.set()


def migrate_v3(
    src: DriverCalls, dom: DomainRef, dst: DriverCalls, params: list[TypedParam], flags: int, *, watch: bool = True
) -> DomainRef:
    """libvirt's virDomainMigrateVersion3Full with parameters: the five phases, driven from here.

    The source's Begin starts its outgoing job (CHANGE_PROTECTION: no other
    change may slip in before Confirm), so every path after a successful
    Begin ends in Confirm, which ends that job. With ``watch`` (a client
    holding both connections) a destination lost during Perform aborts the
    source's job (:class:`_DestinationWatch`); a source driver driving the
    phases itself (peer to peer) watches its own connection instead.

    :returns: the domain on the destination.
    :raises Error: the first phase's error; the guest then still runs on the source.
    """
    flags |= MigrateFlag.CHANGE_PROTECTION
    xml, cookie = src.domain_migrate_begin(dom=dom, params=params, flags=flags)
    state = src.domain_get_state(dom=dom)[0]
    if state == DomainState.PAUSED and not flags & MigrateFlag.POSTCOPY_RESUME:  # arrive paused too
        flags |= MigrateFlag.PAUSED
    dest_flags = flags & ~(MigrateFlag.ABORT_ON_ERROR | MigrateFlag.AUTO_CONVERGE)
    params = replace_param(params, MigrateParam.DEST_XML, TypedParamType.STRING, xml)
    first: Error | None = None
    cancelled = True
    ddom: DomainRef | None = None
    try:
        cookie, uri = dst.domain_migrate_prepare(params=params, cookie=cookie, flags=dest_flags)
    except Error:
        with contextlib.suppress(Error):  # the Prepare error is the one to report
            src.domain_migrate_confirm(dom=dom, params=params, cookie=b"", flags=flags, cancelled=True)
        raise
    if uri is not None:
        params = replace_param(params, MigrateParam.URI, TypedParamType.STRING, uri)
    notify_source = True
    watcher: _DestinationWatch | None = None
    try:
        if get_param(params, MigrateParam.URI) is None:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "domainMigratePrepare3 did not set uri")
        watcher = _DestinationWatch(src, dom, dst) if watch else None
        try:
            cookie = src.domain_migrate_perform(dom=dom, dconnuri=None, params=params, cookie=cookie, flags=flags)
        finally:
            if watcher is not None:
                watcher.stop()
        cancelled = False
    except Error as exc:
        first = exc
        if watcher is not None and watcher.lost:
            first = OperationFailedError(ErrorCode.OPERATION_FAILED, "Lost connection to destination host")
        # Perform failed: the source has already resumed its guest, Confirm has nothing to tell it
        notify_source = False
        cookie = b""
    if get_param(params, MigrateParam.DEST_NAME) is None:
        params = replace_param(params, MigrateParam.DEST_NAME, TypedParamType.STRING, dom.name)
    try:
        ddom, cookie = dst.domain_migrate_finish(params=params, cookie=cookie, flags=dest_flags, cancelled=cancelled)
    except Error as exc:
        ddom, cookie = None, b""
        if first is None:
            first = exc
        elif (
            first.code == ErrorCode.OPERATION_FAILED
            and exc.code != ErrorCode.MIGRATE_FINISH_OK
            and not (watcher is not None and watcher.lost)  # (then the destination's words are the dead link's)
        ):
            first = exc  # the destination's own words are the useful ones (the guest died there)
    cancelled = ddom is None
    if notify_source:
        try:
            src.domain_migrate_confirm(dom=dom, params=params, cookie=cookie, flags=flags, cancelled=cancelled)
        except Error as exc:
            if first is None and ddom is None:
                first = exc
    if first is not None:
        raise first
    if ddom is None:  # (Finish raises whenever it returns no domain; kept for a driver that does not)
        raise OperationFailedError(
            ErrorCode.OPERATION_FAILED, "migration failed: the destination did not start the domain"
        )
    return ddom


def migrate_to_uri3(src: DriverCalls, dom: DomainRef, dconnuri: str, params: list[TypedParam], flags: int) -> None:
    """libvirt's virDomainMigrateToURI3: peer-to-peer (the source driver drives the destination itself).

    Direct migration (no PEER2PEER, the hypervisor talking to the other side
    alone) is something QEMU's driver does not offer; libvirt answers it
    with NO_SUPPORT too.
    """
    check_migrate_flags(flags, "virDomainMigrateToURI3")
    if not flags & MigrateFlag.PEER2PEER:
        raise NotSupportedError(ErrorCode.NO_SUPPORT, "virDomainMigrateToURI3")
    src.domain_migrate_perform(dom=dom, dconnuri=dconnuri, params=params, cookie=b"", flags=flags)
