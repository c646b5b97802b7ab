"""Migration procedures: libvirt's version 3 with parameters, and the job's progress.

The phases are the rows of :data:`pyvirt.remote.calls.CALLS` read backwards.
``virDomainGetJobInfo`` (what ``virsh migrate --verbose`` polls) has no hook
of its own: libvirtd's qemu driver fills it from the same job data as
``virDomainGetJobStats``, so here it is built from the stats' fields.

A client asks ``virConnectSupportsFeature`` for MIGRATION_V3, _PARAMS, _P2P
and CHANGE_PROTECTION before it migrates; the answer is yes exactly when the
connection's driver implements the phases (:data:`MIGRATION_FEATURES`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import unescape

from pyvirt.daemon.procedures.table import handles
from pyvirt.daemon.remote_program import ClientContext, StreamOpen
from pyvirt.errors import Error, ErrorCode, InternalError
from pyvirt.plugin.typed_params import FIELD_LENGTH, TypedParam, TypedParamType, typed_param
from pyvirt.remote.calls import domain_ref, typed_param_to_wire, wire_domain

__all__ = ["MIGRATION_FEATURES", "supports_migration"]

# virDrvFeature: MIGRATION_P2P 4, MIGRATION_V3 6, MIGRATE_CHANGE_PROTECTION 7, MIGRATION_PARAMS 13
MIGRATION_FEATURES = frozenset({4, 6, 7, 13})
_CHANGE_PROTECTION = 1 << 8  # VIR_MIGRATE_CHANGE_PROTECTION

# virDomainGetJobInfo's fields, in remote_domain_get_job_info_ret's order after ``type``
_JOB_INFO_FIELDS = (
    "time_elapsed", "time_remaining", "data_total", "data_processed", "data_remaining",
    "memory_total", "memory_processed", "memory_remaining", "file_total", "file_processed", "file_remaining",
)  # fmt: skip


def supports_migration(ctx: ClientContext) -> bool:
    """Whether the client's connection can take part in a migration (its driver has the phases)."""
    return ctx.shared is not None and ctx.calls.implements("domain_migrate_begin")


def _params(wire: list[Any]) -> list[TypedParam]:
    """virTypedParamsDeserialize: a field C's ``char[80]`` cannot hold is refused before the driver."""
    out = []
    for field, (kind, value) in wire:
        if len(field.encode()) >= FIELD_LENGTH:
            raise InternalError(ErrorCode.INTERNAL_ERROR, f"parameter {field} too big for destination")
        out.append(typed_param(field, kind, bool(value) if kind == TypedParamType.BOOLEAN else value))
    return out


# A client that drives the phases holds the source's job from Begin to Confirm and the destination's
# incoming domain from Prepare to Finish. Should it go away in between (virsh killed, its host gone), the
# daemon ends what it left, as libvirt's close callbacks do (qemuMigrationSrcCleanup,
# qemuMigrationDstPrepareCleanup): the source resumes its guest, the destination discards its half.
def _source_key(uuid: str) -> str:
    return f"migration-out:{uuid}"


def _destination_key(name: str) -> str:
    return f"migration-in:{name}"


def _remember(ctx: ClientContext, key: str, undo: Callable[[], object]) -> None:
    def quietly() -> None:
        with contextlib.suppress(Error):  # (a cancelled Finish answers with an error, by design)
            undo()

    with ctx.lock:
        ctx.on_close[key] = quietly


def _forget(ctx: ClientContext, key: str) -> None:
    with ctx.lock:
        ctx.on_close.pop(key, None)


def _remember_incoming(ctx: ClientContext, params: list[TypedParam], cookie: bytes, flags: int) -> None:
    """Should the client go before Finish, the incoming domain (named by the parameters or the cookie) goes."""
    name = next((str(p.value) for p in params if p.field == "destination_name"), None) or _cookie_name(cookie)
    if not name:
        return
    calls = ctx.calls
    named = [*(p for p in params if p.field != "destination_name"),
             TypedParam("destination_name", TypedParamType.STRING, name)]  # fmt: skip
    _remember(
        ctx,
        _destination_key(name),
        lambda: calls.domain_migrate_finish(params=named, cookie=b"", flags=flags, cancelled=True),
    )


@handles("DOMAIN_MIGRATE_BEGIN3_PARAMS")
def _begin(ctx: ClientContext, a: Any) -> Any:
    dom, params, flags = domain_ref(a[0]), _params(a[1]), a[2]
    xml, cookie = ctx.calls.domain_migrate_begin(dom=dom, params=params, flags=flags)
    if flags & _CHANGE_PROTECTION:  # the job stays the client's until its Confirm
        calls = ctx.calls
        _remember(ctx, _source_key(dom.uuid),
                  lambda: calls.domain_migrate_confirm(dom=dom, params=params, cookie=b"", flags=flags,
                                                       cancelled=True))  # fmt: skip
    return (cookie, xml)


@handles("DOMAIN_MIGRATE_PREPARE3_PARAMS")
def _prepare(ctx: ClientContext, a: Any) -> Any:
    params, flags = _params(a[0]), a[2]
    cookie, uri = ctx.calls.domain_migrate_prepare(params=params, cookie=a[1], flags=flags)
    _remember_incoming(ctx, params, cookie, flags)
    return (cookie, uri)


@handles("DOMAIN_MIGRATE_PREPARE_TUNNEL3_PARAMS")
def _prepare_tunnel(ctx: ClientContext, a: Any) -> Any:
    # The source's daemon writes QEMU's migration stream into this call's stream; the daemon relays it into
    # the descriptor the driver gives, whose other end the incoming QEMU reads.
    params, flags = _params(a[0]), a[2]
    cookie, fd = ctx.calls.domain_migrate_prepare_tunnel(params=params, cookie=a[1], flags=flags)
    _remember_incoming(ctx, params, cookie, flags)
    return StreamOpen((cookie,), fd, upload=True)


@handles("DOMAIN_MIGRATE_PERFORM3_PARAMS")
def _perform(ctx: ClientContext, a: Any) -> Any:
    dom = domain_ref(a[0])
    try:
        cookie = ctx.calls.domain_migrate_perform(dom=dom, dconnuri=a[1], params=_params(a[2]), cookie=a[3],
                                                  flags=a[4])  # fmt: skip
    except Exception:
        _forget(ctx, _source_key(dom.uuid))  # a failed Perform has ended the job itself
        raise
    return (cookie,)


@handles("DOMAIN_MIGRATE_FINISH3_PARAMS")
def _finish(ctx: ClientContext, a: Any) -> Any:
    params = _params(a[0])
    name = next((str(p.value) for p in params if p.field == "destination_name"), "")
    _forget(ctx, _destination_key(name))  # Finish ends the incoming domain's migration whatever it answers
    ref, cookie = ctx.calls.domain_migrate_finish(params=params, cookie=a[1], flags=a[2], cancelled=bool(a[3]))
    return (wire_domain(ref), cookie)


@handles("DOMAIN_MIGRATE_CONFIRM3_PARAMS")
def _confirm(ctx: ClientContext, a: Any) -> Any:
    dom = domain_ref(a[0])
    _forget(ctx, _source_key(dom.uuid))
    ctx.calls.domain_migrate_confirm(dom=dom, params=_params(a[1]), cookie=a[2], flags=a[3], cancelled=bool(a[4]))
    return None


def _cookie_name(cookie: bytes) -> str | None:
    """The domain's name in a cookie of libvirt's ``<qemu-migration>`` form (Finish is called by it)."""
    start, end = cookie.find(b"<name>"), cookie.find(b"</name>")
    if start < 0 or end < start:
        return None
    return unescape(cookie[start + len(b"<name>") : end].decode("utf-8", "replace"))


@handles("DOMAIN_GET_JOB_STATS")
def _job_stats(ctx: ClientContext, a: Any) -> Any:
    kind, params = ctx.calls.domain_get_job_stats(dom=domain_ref(a[0]), flags=a[1])
    return (kind, [typed_param_to_wire(p) for p in params])


@handles("DOMAIN_GET_JOB_INFO")
def _job_info(ctx: ClientContext, a: Any) -> Any:
    kind, params = ctx.calls.domain_get_job_stats(dom=domain_ref(a[0]), flags=0)
    values = {p.field: p.value for p in params}
    return (kind, *(int(values.get(f, 0)) for f in _JOB_INFO_FIELDS))


@handles("DOMAIN_MIGRATE_START_POST_COPY")
def _start_post_copy(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_migrate_start_post_copy(dom=domain_ref(a[0]), flags=a[1])


@handles("DOMAIN_MIGRATE_SET_MAX_DOWNTIME")
def _set_max_downtime(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_migrate_set_max_downtime(dom=domain_ref(a[0]), downtime=a[1], flags=a[2])
    return None


@handles("DOMAIN_MIGRATE_GET_MAX_DOWNTIME")
def _get_max_downtime(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.domain_migrate_get_max_downtime(dom=domain_ref(a[0]), flags=a[1]),)


@handles("DOMAIN_MIGRATE_SET_MAX_SPEED", hook="domain_migrate_set_max_speed")
def _set_max_speed(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_migrate_set_max_speed(dom=domain_ref(a[0]), bandwidth=a[1], flags=a[2])


@handles("DOMAIN_MIGRATE_GET_MAX_SPEED", hook="domain_migrate_get_max_speed")
def _get_max_speed(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.domain_migrate_get_max_speed(dom=domain_ref(a[0]), flags=a[1]),)


@handles("DOMAIN_MIGRATE_GET_COMPRESSION_CACHE", hook="domain_migrate_get_compression_cache")
def _get_compression_cache(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.domain_migrate_get_compression_cache(dom=domain_ref(a[0]), flags=a[1]),)


@handles("DOMAIN_MIGRATE_SET_COMPRESSION_CACHE", hook="domain_migrate_set_compression_cache")
def _set_compression_cache(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_migrate_set_compression_cache(dom=domain_ref(a[0]), size=a[1], flags=a[2])


@handles("DOMAIN_START_DIRTY_RATE_CALC", hook="domain_start_dirty_rate_calc")
def _start_dirty_rate_calc(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_start_dirty_rate_calc(dom=domain_ref(a[0]), seconds=a[1], flags=a[2])


@handles("DOMAIN_BACKUP_BEGIN", hook="domain_backup_begin")
def _backup_begin(ctx: ClientContext, a: Any) -> Any:
    ctx.calls.domain_backup_begin(dom=domain_ref(a[0]), xml=a[1], checkpoint_xml=a[2], flags=a[3])


@handles("DOMAIN_BACKUP_GET_XML_DESC", hook="domain_backup_get_xml_desc")
def _backup_get_xml_desc(ctx: ClientContext, a: Any) -> Any:
    return (ctx.calls.domain_backup_get_xml_desc(dom=domain_ref(a[0]), flags=a[1]),)
