"""The call table's rows for domain jobs.

Migration's phases, job statistics and abort, block jobs. Part of :data:`pyvirt.remote.calls.CALLS`
(see there), loaded when one of its hooks is first called.
"""

from __future__ import annotations

from pyvirt.remote.calls import _first, _one, _wd, _wire_params, domain_ref, typed_param_from_wire

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.remote.calls import RemoteCall

__all__ = ["ROWS"]


# fmt: off
ROWS: tuple[RemoteCall, ...] = (
    _one("domain_abort_job", "DOMAIN_ABORT_JOB_FLAGS", lambda dom, flags: (_wd(dom), flags),
         plain=("DOMAIN_ABORT_JOB", lambda dom, flags: None if flags else (_wd(dom),))),
    # migration, libvirt's version 3 with parameters: cookies travel as opaque bytes, params as typed params
    _one("domain_migrate_begin", "DOMAIN_MIGRATE_BEGIN3_PARAMS",
         lambda dom, params, flags: (_wd(dom), _wire_params(params), flags), lambda w: (w[1], w[0])),
    _one("domain_migrate_prepare", "DOMAIN_MIGRATE_PREPARE3_PARAMS",
         lambda params, cookie, flags: (_wire_params(params), cookie, flags), lambda w: (w[0], w[1])),
    _one("domain_migrate_perform", "DOMAIN_MIGRATE_PERFORM3_PARAMS",
         lambda dom, dconnuri, params, cookie, flags: (_wd(dom), dconnuri, _wire_params(params), cookie, flags),
         _first),
    _one("domain_migrate_finish", "DOMAIN_MIGRATE_FINISH3_PARAMS",
         lambda params, cookie, flags, cancelled: (_wire_params(params), cookie, flags, int(cancelled)),
         lambda w: (domain_ref(w[0]), w[1])),
    _one("domain_migrate_confirm", "DOMAIN_MIGRATE_CONFIRM3_PARAMS",
         lambda dom, params, cookie, flags, cancelled: (_wd(dom), _wire_params(params), cookie, flags,
                                                        int(cancelled))),
    _one("domain_get_job_stats", "DOMAIN_GET_JOB_STATS", lambda dom, flags: (_wd(dom), flags),
         lambda w: (w[0], [typed_param_from_wire(p) for p in w[1]])),
    _one("domain_migrate_start_post_copy", "DOMAIN_MIGRATE_START_POST_COPY", lambda dom, flags: (_wd(dom), flags)),
    _one("domain_migrate_set_max_downtime", "DOMAIN_MIGRATE_SET_MAX_DOWNTIME",
         lambda dom, downtime, flags: (_wd(dom), downtime, flags)),
    _one("domain_migrate_get_max_downtime", "DOMAIN_MIGRATE_GET_MAX_DOWNTIME", lambda dom, flags: (_wd(dom), flags),
         _first),
    # the wire's "found" first: 0 is libvirt's "no job", the hook's (0, 0, 0, 0)
    _one("domain_get_block_job_info", "DOMAIN_GET_BLOCK_JOB_INFO", lambda dom, path, flags: (_wd(dom), path, flags),
         lambda w: (w[1], w[2], w[3], w[4]) if w[0] else (0, 0, 0, 0)),
    # block copy and block job control (contract 1.13)
    _one("domain_block_copy", "DOMAIN_BLOCK_COPY",
         lambda dom, path, destxml, params, flags: (_wd(dom), path, destxml, _wire_params(params), flags)),
    _one("domain_block_rebase", "DOMAIN_BLOCK_REBASE",
         lambda dom, path, base, bandwidth, flags: (_wd(dom), path, base, bandwidth, flags)),
    _one("domain_block_job_abort", "DOMAIN_BLOCK_JOB_ABORT", lambda dom, path, flags: (_wd(dom), path, flags)),
    _one("domain_block_job_set_speed", "DOMAIN_BLOCK_JOB_SET_SPEED",
         lambda dom, path, bandwidth, flags: (_wd(dom), path, bandwidth, flags)),
    _one("domain_block_pull", "DOMAIN_BLOCK_PULL", lambda dom, path, bandwidth, flags: (_wd(dom), path, bandwidth, flags)),
    _one("domain_block_commit", "DOMAIN_BLOCK_COMMIT",
         lambda dom, path, base, top, bandwidth, flags: (_wd(dom), path, base, top, bandwidth, flags)),
    # a disk's write threshold (contract 1.14)
    _one("domain_set_block_threshold", "DOMAIN_SET_BLOCK_THRESHOLD",
         lambda dom, dev, threshold, flags: (_wd(dom), dev, threshold, flags)),
    # QEMU-only block and migration tuning (contract 1.15)
    _one("domain_block_resize", "DOMAIN_BLOCK_RESIZE", lambda dom, disk, size, flags: (_wd(dom), disk, size, flags)),
    _one("domain_migrate_set_max_speed", "DOMAIN_MIGRATE_SET_MAX_SPEED",
         lambda dom, bandwidth, flags: (_wd(dom), bandwidth, flags)),
    _one("domain_migrate_get_max_speed", "DOMAIN_MIGRATE_GET_MAX_SPEED", lambda dom, flags: (_wd(dom), flags),
         _first),
    # QEMU's migration compression cache and dirty-page rate (contract 1.16)
    _one("domain_migrate_get_compression_cache", "DOMAIN_MIGRATE_GET_COMPRESSION_CACHE",
         lambda dom, flags: (_wd(dom), flags), _first),
    _one("domain_migrate_set_compression_cache", "DOMAIN_MIGRATE_SET_COMPRESSION_CACHE",
         lambda dom, size, flags: (_wd(dom), size, flags)),
    _one("domain_start_dirty_rate_calc", "DOMAIN_START_DIRTY_RATE_CALC",
         lambda dom, seconds, flags: (_wd(dom), seconds, flags)),
    # backup (contract 1.16)
    _one("domain_backup_begin", "DOMAIN_BACKUP_BEGIN",
         lambda dom, xml, checkpoint_xml, flags: (_wd(dom), xml, checkpoint_xml, flags)),
    _one("domain_backup_get_xml_desc", "DOMAIN_BACKUP_GET_XML_DESC", lambda dom, flags: (_wd(dom), flags), _first),
    # core dump (contract 1.14): virDomainCoreDump's older procedure for the raw format, as libvirt's client
    _one("domain_core_dump", "DOMAIN_CORE_DUMP_WITH_FORMAT",
         lambda dom, to, dumpformat, flags: (_wd(dom), to, dumpformat, flags),
         plain=("DOMAIN_CORE_DUMP", lambda dom, to, dumpformat, flags: None if dumpformat else (_wd(dom), to, flags))),
)
# fmt: on
