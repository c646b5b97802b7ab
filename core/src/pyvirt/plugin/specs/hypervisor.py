"""Hypervisor driver contract: connections and domains.

Stops at first non-None result, and a connection has exactly one driver,
so each call is answered by it. Hooks that only act return None. Errors
are raised as ``pyvirt.errors.Error`` subclasses carrying libvirt's codes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyvirt.plugin import hookspec

if TYPE_CHECKING:
    from pyvirt.events import EventSink
    from pyvirt.plugin.records import (
        CheckpointRef,
        DomainInfo,
        DomainRef,
        InterfaceAddresses,
        NodeInfo,
        SecurityLabel,
        SecurityModel,
        SnapshotRef,
    )
    from pyvirt.plugin.typed_params import TypedParam
    from pyvirt.uri import URI

# ---------------------------------------------------------------- connection


@hookspec(firstresult=True)
def connect_open(uri: URI, read_only: bool, events: EventSink) -> Any:
    """Open a connection for ``uri``; implemented by the driver object of the entry point.

    :param uri: the resolved URI (scheme = this driver's entry-point name).
    :param read_only: the caller asked for a read-only connection.
    :param events: where the driver reports lifecycle events.
    :returns: the connection object (which implements the other hooks), or
        None to decline (libvirt's VIR_DRV_OPEN_DECLINED).

    Stops at first non-None result.
    """


@hookspec(firstresult=True)
def connect_close() -> None:
    """Release what the connection holds. Called once."""


@hookspec(firstresult=True)
def connect_get_type() -> str:
    """The hypervisor type name as virConnectGetType reports it (``"TEST"``, ``"QEMU"``).

    Stops at first non-None result.
    """


@hookspec(firstresult=True)
def connect_get_version() -> int:
    """Hypervisor version as major * 1,000,000 + minor * 1,000 + release.

    Stops at first non-None result.
    """


@hookspec(firstresult=True)
def connect_get_hostname() -> str:
    """The host name of the hypervisor host. Stops at first non-None result."""


@hookspec(firstresult=True)
def connect_get_capabilities() -> str:
    """The capabilities XML document. Stops at first non-None result."""


@hookspec(firstresult=True)
def connect_get_domain_capabilities(
    emulator: str | None, arch: str | None, machine: str | None, virttype: str | None, flags: int
) -> str:
    """The domainCapabilities XML: what a guest of this emulator/arch/machine/type may use.

    ``None`` arguments mean the driver's default for that axis, as in libvirt.
    Stops at first non-None result.
    """


@hookspec(firstresult=True)
def node_get_info() -> NodeInfo:
    """Host CPU and memory figures (virNodeGetInfo). Stops at first non-None result."""


@hookspec(firstresult=True)
def node_get_security_model() -> SecurityModel:
    """The primary security model and DOI of the host. Stops at first non-None result."""


@hookspec(firstresult=True)
def connect_domain_xml_to_native(native_format: str, xml: str) -> str:
    """The hypervisor's own configuration for a domain (``qemu-argv``: the command line).

    Stops at first non-None result.
    """


@hookspec(firstresult=True)
def connect_domain_xml_from_native(native_format: str, native_config: str) -> str:
    """Domain XML from the hypervisor's own configuration format (``lxc-tools`` for LXC). Added in 1.2.

    Stops at first non-None result.
    """


# ---------------------------------------------------------------- domains: lookup


@hookspec(firstresult=True)
def domain_list_all() -> list[DomainRef]:
    """Every domain the connection knows, running first (by id), then inactive (by name).

    Filtering by flags is done by core from ``domain_get_state`` and friends.
    Stops at first non-None result.
    """


@hookspec(firstresult=True)
def domain_lookup_by_name(name: str) -> DomainRef:
    """:raises NotFoundError: NO_DOMAIN, "no domain with matching name 'x'".

    Stops at first non-None result.
    """


@hookspec(firstresult=True)
def domain_lookup_by_uuid(uuid: str) -> DomainRef:
    """:param uuid: canonical lower-case UUID text. Stops at first non-None result."""


@hookspec(firstresult=True)
def domain_lookup_by_id(id: int) -> DomainRef:
    """Look a running domain up by its id. Stops at first non-None result."""


# ---------------------------------------------------------------- domains: lifecycle


@hookspec(firstresult=True)
def domain_define_xml(xml: str, flags: int) -> DomainRef:
    """Define (or redefine) a persistent domain. Stops at first non-None result."""


@hookspec(firstresult=True)
def domain_undefine(dom: DomainRef, flags: int) -> None:
    """Remove the persistent definition (a running domain becomes transient)."""


@hookspec(firstresult=True)
def domain_create_xml(xml: str, flags: int) -> DomainRef:
    """Create and start a transient domain. Stops at first non-None result."""


@hookspec(firstresult=True)
def domain_create(dom: DomainRef, flags: int) -> None:
    """Start a defined domain."""


@hookspec(firstresult=True)
def domain_destroy(dom: DomainRef, flags: int) -> None:
    """Stop a domain at once."""


@hookspec(firstresult=True)
def domain_shutdown(dom: DomainRef, flags: int) -> None:
    """Ask the guest to shut down."""


@hookspec(firstresult=True)
def domain_reboot(dom: DomainRef, flags: int) -> None:
    """Ask the guest to reboot."""


@hookspec(firstresult=True)
def domain_suspend(dom: DomainRef) -> None:
    """Pause the domain's vCPUs."""


@hookspec(firstresult=True)
def domain_resume(dom: DomainRef) -> None:
    """Resume a paused domain."""


@hookspec(firstresult=True)
def domain_save(dom: DomainRef, path: str, xml: str | None, flags: int) -> None:
    """Save the running domain's state to ``path`` and stop it."""


@hookspec(firstresult=True)
def domain_restore(path: str, xml: str | None, flags: int) -> DomainRef:
    """Start a domain from a file written by ``domain_save``. Stops at first non-None result."""


@hookspec(firstresult=True)
def domain_managed_save(dom: DomainRef, flags: int) -> None:
    """Save to the driver-managed location; the next start restores from it."""


@hookspec(firstresult=True)
def domain_managed_save_remove(dom: DomainRef, flags: int) -> None:
    """Discard the managed save image."""


# ---------------------------------------------------------------- domains: queries


@hookspec(firstresult=True)
def domain_get_info(dom: DomainRef) -> DomainInfo:
    """virDomainGetInfo. Stops at first non-None result."""


@hookspec(firstresult=True)
def domain_get_state(dom: DomainRef) -> tuple[int, int]:
    """(state, reason) with libvirt's numbers. Stops at first non-None result."""


@hookspec(firstresult=True)
def domain_get_xml_desc(dom: DomainRef, flags: int) -> str:
    """The domain XML (``flags``: SECURE 1, INACTIVE 2, UPDATE_CPU 4, MIGRATABLE 8).

    Stops at first non-None result.
    """


@hookspec(firstresult=True)
def domain_get_os_type(dom: DomainRef) -> str:
    """virDomainGetOSType: the guest's OS type. Optional; added in 1.6.

    Without it the public API reads ``<os><type>`` from the definition
    (``hvm``, ``exe``, ``xen``...), which is what most libvirt drivers answer;
    a driver answers itself when libvirt's does something else (the test
    driver's ``linux``). Stops at first non-None result.
    """


@hookspec(firstresult=True)
def domain_get_flags(dom: DomainRef) -> dict[str, bool]:
    """``persistent``, ``active``, ``autostart``, ``managed_save``, ``has_snapshot``, ``updated``.

    One call for what ``list --all`` filters need. Stops at first non-None result.
    """


@hookspec(firstresult=True)
def domain_set_autostart(dom: DomainRef, autostart: bool) -> None:
    """Start the domain when the host (or daemon) starts."""


@hookspec(firstresult=True)
def domain_attach_device(dom: DomainRef, xml: str, flags: int) -> None:
    """Add a device (``<disk>``, ``<interface>``, ...) live and/or to the persistent definition. Added in 1.3.

    ``flags``: VIR_DOMAIN_AFFECT_LIVE (1), _CONFIG (2); 0 means the current state. Stops at first non-None result.
    """


@hookspec(firstresult=True)
def domain_detach_device(dom: DomainRef, xml: str, flags: int) -> None:
    """Remove the device matching ``xml`` live and/or from the persistent definition. Added in 1.3.

    Stops at first non-None result.
    """


@hookspec(firstresult=True)
def domain_update_device(dom: DomainRef, xml: str, flags: int) -> None:
    """Change a device in place (a CD-ROM's medium, a NIC's link state), live and/or persistently. Added in 1.3.

    Stops at first non-None result.
    """


@hookspec(firstresult=True)
def domain_get_stats(dom: DomainRef, stats: int, flags: int) -> list[tuple[str, int | str]]:
    """virConnectGetAllDomainStats for one domain: (field, value) in libvirt's order. Added in 1.3.

    ``stats`` is a VIR_DOMAIN_STATS_* mask (STATE 1, CPU_TOTAL 2, BALLOON 4,
    VCPU 8, INTERFACE 16, BLOCK 32, ...); 0 asks for every group the driver
    has. Groups the driver cannot report are left out. Stops at first non-None result.
    """


@hookspec(firstresult=True)
def domain_interface_addresses(dom: DomainRef, source: int, flags: int) -> list[InterfaceAddresses]:
    """virDomainInterfaceAddresses: each NIC's addresses as the ``source`` knows them. Added in 1.4.

    ``source``: 0 the DHCP leases of the NIC's virtual network, 1 the guest agent,
    2 the host's ARP table. Stops at first non-None result.
    """


@hookspec(firstresult=True)
def domain_get_security_label(dom: DomainRef) -> list[SecurityLabel]:
    """Live labels of the domain's process, primary model first. Stops at first non-None result."""


@hookspec(firstresult=True)
def domain_open_console(dom: DomainRef, dev_name: str | None, flags: int) -> int:
    """A new file descriptor connected to the domain's console (``dev_name`` None: the first). Added in 1.2.

    The caller owns and closes it; bytes written go to the guest's console
    input, bytes read are its output. Stops at first non-None result.
    """


# ---------------------------------------------------------------- domains: scheduler and screen


@hookspec(firstresult=True)
def domain_get_scheduler_type(dom: DomainRef) -> tuple[str, int]:
    """virDomainGetSchedulerType: the host scheduler's name and how many parameters it has. Added in 1.7.

    :param dom: the domain.
    :returns: ``(type, nparams)``, e.g. ``("posix", 5)`` for QEMU on cgroups,
        ``("fair", 1)`` for libvirt's test driver.

    Stops at first non-None result.
    """


@hookspec(firstresult=True)
def domain_get_scheduler_parameters(dom: DomainRef, flags: int) -> list[TypedParam]:
    """virDomainGetSchedulerParametersFlags: the scheduler's tunables with their libvirt types. Added in 1.7.

    :param dom: the domain.
    :param flags: VIR_DOMAIN_AFFECT_LIVE (1) or _CONFIG (2), 0 for the
        current state; VIR_TYPED_PARAM_STRING_OKAY (4) when the caller takes
        STRING values. The older virDomainGetSchedulerParameters is this call
        with ``flags`` 0.
    :returns: every parameter of the scheduler, in the driver's order.

    Stops at first non-None result.
    """


@hookspec(firstresult=True)
def domain_set_scheduler_parameters(dom: DomainRef, params: list[TypedParam], flags: int) -> None:
    """virDomainSetSchedulerParametersFlags: change scheduler tunables. Added in 1.7.

    :param dom: the domain.
    :param params: the parameters to change; the driver refuses unknown
        fields, wrong types and repeats as libvirt's virTypedParamsValidate.
    :param flags: VIR_DOMAIN_AFFECT_LIVE (1) and/or _CONFIG (2), 0 for the current state.
    :returns: None; nothing is changed when any parameter is refused.
    """


@hookspec(firstresult=True)
def domain_screenshot(dom: DomainRef, screen: int, flags: int) -> tuple[str, int]:
    """virDomainScreenshot: an image of one of the guest's screens. Added in 1.7.

    :param dom: the domain.
    :param screen: which head of the video device (0: the first).
    :param flags: none defined by libvirt yet.
    :returns: ``(mime_type, fd)``: the image's MIME type (``image/png``,
        ``image/x-portable-pixmap``) and a readable descriptor that yields the
        whole image then end-of-file. The caller owns and closes it; the
        daemon relays it as the call's stream, as libvirt streams the file.

    Stops at first non-None result.
    """


@hookspec(firstresult=True)
def domain_abort_job(dom: DomainRef, flags: int) -> None:
    """virDomainAbortJobFlags: cancel the domain's running long job (a save, a snapshot). Added in 1.8.

    Optional: a driver without long jobs answers NO_SUPPORT, as libvirt's
    test driver does. The job's own caller then fails with libvirt's
    OPERATION_ABORTED ("operation aborted: job 'domain save' canceled by
    client") and the guest is left as it was before the job.

    :param dom: the domain.
    :param flags: VIR_DOMAIN_ABORT_JOB_POSTCOPY (1): only an outgoing
        migration in post-copy mode. The older virDomainAbortJob is this call
        with ``flags`` 0.
    :returns: None once the abort was requested; OPERATION_INVALID when no
        job is running or the running one cannot be aborted.
    """


# ---------------------------------------------------------------- checkpoints


@hookspec(firstresult=True)
def checkpoint_create_xml(dom: DomainRef, xml: str, flags: int) -> CheckpointRef:
    """virDomainCheckpointCreateXML: start tracking changed blocks from now (``<domaincheckpoint>``). Added in 1.7.

    :param dom: the domain.
    :param xml: the checkpoint document; a missing name becomes the creation time.
    :param flags: REDEFINE (1) restores metadata of an existing checkpoint,
        QUIESCE (2) freezes guest filesystems first, REDEFINE_VALIDATE (4).
    :returns: the new checkpoint.

    Stops at first non-None result.
    """


@hookspec(firstresult=True)
def checkpoint_list_names(dom: DomainRef, flags: int) -> list[str]:
    """virDomainListAllCheckpoints: the domain's checkpoint names. Added in 1.7.

    :param dom: the domain.
    :param flags: ROOTS (1), TOPOLOGICAL (2: parents before children),
        LEAVES (4), NO_LEAVES (8).
    :returns: the names, in creation order unless TOPOLOGICAL asks otherwise.

    Stops at first non-None result.
    """


@hookspec(firstresult=True)
def checkpoint_list_children(chk: CheckpointRef, flags: int) -> list[str]:
    """virDomainCheckpointListAllChildren: the checkpoints made after ``chk`` on its branch. Added in 1.7.

    :param chk: the checkpoint.
    :param flags: DESCENDANTS (1: all of them, not just direct children),
        TOPOLOGICAL (2), LEAVES (4), NO_LEAVES (8).
    :returns: the names.

    Stops at first non-None result.
    """


@hookspec(firstresult=True)
def checkpoint_lookup_by_name(dom: DomainRef, name: str, flags: int) -> CheckpointRef:
    """virDomainCheckpointLookupByName. Added in 1.7.

    :raises NotFoundError: NO_DOMAIN_CHECKPOINT, "no domain checkpoint with matching name 'x'".

    Stops at first non-None result.
    """


@hookspec(firstresult=True)
def checkpoint_get_xml_desc(chk: CheckpointRef, flags: int) -> str:
    """virDomainCheckpointGetXMLDesc: the ``<domaincheckpoint>`` document. Added in 1.7.

    :param chk: the checkpoint.
    :param flags: SECURE (1) includes secrets of the domain copy, NO_DOMAIN (2)
        leaves the domain copy out, SIZE (4) reports each bitmap's size (the
        domain must be running).
    :returns: the document.

    Stops at first non-None result.
    """


@hookspec(firstresult=True)
def checkpoint_get_parent(chk: CheckpointRef, flags: int) -> CheckpointRef:
    """virDomainCheckpointGetParent: the checkpoint ``chk`` was made after. Added in 1.7.

    :raises NotFoundError: NO_DOMAIN_CHECKPOINT when ``chk`` is a root.

    Stops at first non-None result.
    """


@hookspec(firstresult=True)
def checkpoint_delete(chk: CheckpointRef, flags: int) -> None:
    """virDomainCheckpointDelete: stop tracking; children move to ``chk``'s parent. Added in 1.7.

    :param chk: the checkpoint.
    :param flags: CHILDREN (1) deletes its descendants too, METADATA_ONLY (2)
        keeps the disks' bitmaps, CHILDREN_ONLY (4) deletes only the descendants.
    :returns: None.
    """


# ---------------------------------------------------------------- snapshots


@hookspec(firstresult=True)
def snapshot_create_xml(dom: DomainRef, xml: str, flags: int) -> SnapshotRef:
    """Create a snapshot from ``<domainsnapshot>`` XML. Stops at first non-None result."""


@hookspec(firstresult=True)
def snapshot_list_names(dom: DomainRef, flags: int) -> list[str]:
    """Snapshot names in creation order. Stops at first non-None result."""


@hookspec(firstresult=True)
def snapshot_lookup_by_name(dom: DomainRef, name: str) -> SnapshotRef:
    """Stops at first non-None result."""


@hookspec(firstresult=True)
def snapshot_current(dom: DomainRef) -> SnapshotRef:
    """:raises NotFoundError: NO_DOMAIN_SNAPSHOT when there is none. Stops at first non-None result."""


@hookspec(firstresult=True)
def snapshot_get_xml_desc(snap: SnapshotRef, flags: int) -> str:
    """Stops at first non-None result."""


@hookspec(firstresult=True)
def snapshot_get_parent(snap: SnapshotRef) -> SnapshotRef:
    """Stops at first non-None result."""


@hookspec(firstresult=True)
def snapshot_revert(snap: SnapshotRef, flags: int) -> None:
    """Return the domain to the snapshot's state."""


@hookspec(firstresult=True)
def snapshot_delete(snap: SnapshotRef, flags: int) -> None:
    """Delete the snapshot (children are re-parented unless flags say otherwise)."""
