"""The typed facade over a connection's plugin manager: the one boundary every driver call passes.

pluggy's ``pm.hook.name(**kwargs)`` is untyped; every caller in pyvirt goes
through ``DriverCalls`` instead, whose methods mirror the hook specs with
real signatures (kept in step with ``pyvirt.plugin.specs`` and the API table
:mod:`pyvirt.plugin.api` by a test). Two of libvirt's dispatch rules are
enforced here, for every call however it was reached (public objects,
``conn.calls``, pyvirsh), from the API table:

- on a read-only connection, a call that changes state or reveals secrets
  fails with OPERATION_DENIED before the driver sees it, as libvirt's
  ``virCheckReadOnlyGoto`` in each public API;
- a hook the driver does not implement fails with libvirt's NO_SUPPORT
  error naming the libvirt API.
"""

from __future__ import annotations

from pyvirt.errors import ErrorCode
from pyvirt.plugin.facade_base import CallsBase, direct_calls

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import cast

    from pyvirt.plugin.records import (
        BlockInfo,
        BlockStats,
        CheckpointRef,
        DhcpLease,
        DomainInfo,
        DomainRef,
        FSInfo,
        InterfaceAddresses,
        InterfaceRef,
        InterfaceStats,
        IOThreadInfo,
        NetworkPortRef,
        NetworkRef,
        NodeDeviceRef,
        NodeInfo,
        NWFilterBindingRef,
        NWFilterRef,
        PoolInfo,
        PoolRef,
        SecretRef,
        SecurityLabel,
        SecurityModel,
        SnapshotRef,
        VcpuInfo,
        VolumeInfo,
        VolumeRef,
    )
    from pyvirt.plugin.typed_params import TypedParam
else:

    def cast(_type: object, value: object) -> object:
        """``typing.cast`` without importing typing: at run time a cast returns its value unchanged."""
        return value


__all__ = ["DriverCalls", "direct_calls"]

_METADATA_DESCRIPTION, _METADATA_TITLE, _METADATA_ELEMENT = 0, 1, 2  # virDomainMetadataType


def _check_set_metadata_args(type: int, metadata: str | None, key: str | None, uri: str | None) -> None:
    """virDomainSetMetadata's own argument checks, made here so every driver, pyvirtd and a client get them.

    libvirt makes them in the public entry point, before any driver: without
    them a driver met a NULL namespace as a raw XML error. The messages are
    libvirt's virReportInvalid(Non)NullArg/virReportInvalidArg words, which
    carry no "invalid argument: " before them.
    """
    from pyvirt.errors import ErrorDomain, InvalidArgumentError

    def refuse(message: str) -> InvalidArgumentError:
        return InvalidArgumentError(ErrorCode.INVALID_ARG, message, domain=ErrorDomain.DOMAIN, verbatim=True)

    if type == _METADATA_TITLE and metadata is not None and "\n" in metadata:
        raise refuse("metadata title can't contain newlines")
    if type in (_METADATA_DESCRIPTION, _METADATA_TITLE):
        for name, value in (("uri", uri), ("key", key)):
            if value is not None:
                raise refuse(f"{name} in virDomainSetMetadata must be NULL")
    elif type == _METADATA_ELEMENT:
        if uri is None:
            raise refuse("uri in virDomainSetMetadata must not be NULL")
        if metadata is not None and key is None:
            raise refuse("key in virDomainSetMetadata must not be NULL")


_DUMP_CRASH = 1  # VIR_DUMP_CRASH
_DUMP_LIVE = 2  # VIR_DUMP_LIVE
_DUMP_RESET = 8  # VIR_DUMP_RESET
_DUMP_FORMAT_LAST = 5  # VIR_DOMAIN_CORE_DUMP_FORMAT_LAST (raw, kdump-zlib, kdump-lzo, kdump-snappy, win-dmp)


def _core_dump_target(to: str, dumpformat: int, flags: int) -> str:
    """virDomainCoreDump(WithFormat)'s own checks, and the file as an absolute path.

    libvirt makes them in the public entry point, so every driver, pyvirtd and
    a client get them alike. The path is made absolute where the caller runs
    (g_canonicalize_filename: ``.`` and ``..`` folded, links kept) because the
    file is written by another process, the daemon or QEMU, whose working
    directory is not the caller's.
    """
    from pyvirt.errors import ErrorDomain, InvalidArgumentError

    def refuse(message: str) -> InvalidArgumentError:
        return InvalidArgumentError(ErrorCode.INVALID_ARG, message, domain=ErrorDomain.DOMAIN, verbatim=True)

    if not 0 <= dumpformat < _DUMP_FORMAT_LAST:
        raise refuse(f"dumpformat '{dumpformat}' is not supported")
    for first, second, a, b in (
        (_DUMP_CRASH, _DUMP_LIVE, "VIR_DUMP_CRASH", "VIR_DUMP_LIVE"),
        (_DUMP_CRASH, _DUMP_RESET, "VIR_DUMP_CRASH", "VIR_DUMP_RESET"),
        (_DUMP_LIVE, _DUMP_RESET, "VIR_DUMP_LIVE", "VIR_DUMP_RESET"),
    ):
        if flags & first and flags & second:
            raise refuse(f"Flags '{a}' and '{b}' are mutually exclusive")
    return _absolute_path(to)


def _one_restore_state(flags: int) -> None:
    """virDomainSaveImageDefineXML's and virDomainManagedSaveDefineXML's VIR_EXCLUSIVE_FLAGS check, made in
    libvirt's public entry point (so pyvirtd and every driver see it alike): an image restores running or paused."""
    from pyvirt.errors import ErrorDomain, InvalidArgumentError

    if flags & _VIR_DOMAIN_SAVE_RUNNING and flags & _VIR_DOMAIN_SAVE_PAUSED:
        raise InvalidArgumentError(
            ErrorCode.INVALID_ARG,
            "Flags 'VIR_DOMAIN_SAVE_RUNNING' and 'VIR_DOMAIN_SAVE_PAUSED' are mutually exclusive",
            domain=ErrorDomain.DOMAIN,
            verbatim=True,
        )


_VIR_DOMAIN_SAVE_RUNNING = 2
_VIR_DOMAIN_SAVE_PAUSED = 4


def _absolute_path(path: str) -> str:
    """A file path made absolute where the caller runs, as libvirt's public API makes it (g_canonicalize_filename).

    virDomainSave(Flags), virDomainRestore(Flags) and virDomainCoreDump(WithFormat)
    do it before the driver, because the file is opened by another process (the
    daemon, QEMU) whose working directory is not the caller's: a relative name
    given to pyvirsh through pyvirtd means the client's directory. ``.`` and
    ``..`` are folded textually and links kept, so ``sub/../f`` needs no ``sub``.
    """
    import os

    absolute = os.path.normpath(os.path.join(os.getcwd(), path))
    return "/" + absolute.lstrip("/")  # normpath keeps a leading "//"; g_canonicalize_filename does not


class DriverCalls(CallsBase):
    """Typed calls into the one driver bound to a connection.

    ``read_only``: the connection was opened read-only; calls the API table
    marks as writes are refused (libvirt's OPERATION_DENIED, code 29). The
    binding, that check and the dispatch are :class:`~pyvirt.plugin.facade_base.CallsBase`'s.
    """

    def connect_close(self) -> None:
        self._call("connect_close")

    def connect_get_type(self) -> str:
        return cast("str", self._call("connect_get_type"))

    def connect_get_version(self) -> int:
        return cast("int", self._call("connect_get_version"))

    def connect_get_hostname(self) -> str:
        return cast("str", self._call("connect_get_hostname"))

    def connect_get_capabilities(self) -> str:
        return cast("str", self._call("connect_get_capabilities"))

    def connect_set_keep_alive(self, interval: int, count: int) -> int:
        return cast("int", self._call("connect_set_keep_alive", interval=interval, count=count))

    def connect_get_domain_capabilities(
        self, emulator: str | None, arch: str | None, machine: str | None, virttype: str | None, flags: int
    ) -> str:
        return cast(
            "str",
            self._call(
                "connect_get_domain_capabilities",
                emulator=emulator, arch=arch, machine=machine, virttype=virttype, flags=flags,
            ),
        )  # fmt: skip

    def connect_domain_xml_to_native(self, native_format: str, xml: str) -> str:
        return cast(
            "str",
            self._call("connect_domain_xml_to_native", native_format=native_format, xml=xml),
        )

    def connect_domain_xml_from_native(self, native_format: str, native_config: str) -> str:
        return cast(
            "str",
            self._call("connect_domain_xml_from_native", native_format=native_format, native_config=native_config),
        )

    def domain_open_console(self, dom: DomainRef, dev_name: str | None, flags: int) -> int:
        return cast("int", self._call("domain_open_console", dom=dom, dev_name=dev_name, flags=flags))

    def node_get_info(self) -> NodeInfo:
        return cast("NodeInfo", self._call("node_get_info"))

    def node_get_security_model(self) -> SecurityModel:
        return cast("SecurityModel", self._call("node_get_security_model"))

    def node_get_cpu_map(self, flags: int) -> tuple[int, bytes, int]:
        return cast("tuple[int, bytes, int]", self._call("node_get_cpu_map", flags=flags))

    def connect_get_max_vcpus(self, type: str | None) -> int:
        return cast("int", self._call("connect_get_max_vcpus", type=type))

    def connect_get_sysinfo(self, flags: int) -> str:
        return cast("str", self._call("connect_get_sysinfo", flags=flags))

    def node_get_free_memory(self) -> int:
        return cast("int", self._call("node_get_free_memory"))

    def node_get_cells_free_memory(self, start_cell: int, max_cells: int) -> list[int]:
        return cast("list[int]", self._call("node_get_cells_free_memory", start_cell=start_cell, max_cells=max_cells))

    def node_get_cpu_stats(self, cpu_num: int, flags: int) -> list[tuple[str, int]]:
        return cast("list[tuple[str, int]]", self._call("node_get_cpu_stats", cpu_num=cpu_num, flags=flags))

    def connect_get_cpu_model_names(self, arch: str, flags: int) -> list[str]:
        return cast("list[str]", self._call("connect_get_cpu_model_names", arch=arch, flags=flags))

    def connect_compare_cpu(self, xml: str, flags: int) -> int:
        return cast("int", self._call("connect_compare_cpu", xml=xml, flags=flags))

    def connect_baseline_cpu(self, xml_cpus: list[str], flags: int) -> str:
        return cast("str", self._call("connect_baseline_cpu", xml_cpus=xml_cpus, flags=flags))

    def connect_compare_hypervisor_cpu(
        self,
        emulator: str | None,
        arch: str | None,
        machine: str | None,
        virttype: str | None,
        xml_cpu: str,
        flags: int,
    ) -> int:
        return cast("int", self._call("connect_compare_hypervisor_cpu", emulator=emulator, arch=arch, machine=machine,
                                      virttype=virttype, xml_cpu=xml_cpu, flags=flags))  # fmt: skip

    def connect_baseline_hypervisor_cpu(
        self,
        emulator: str | None,
        arch: str | None,
        machine: str | None,
        virttype: str | None,
        xml_cpus: list[str],
        flags: int,
    ) -> str:
        return cast("str", self._call("connect_baseline_hypervisor_cpu", emulator=emulator, arch=arch,
                                      machine=machine, virttype=virttype, xml_cpus=xml_cpus, flags=flags))  # fmt: skip

    def node_get_free_pages(self, pages: list[int], start_cell: int, cell_count: int, flags: int) -> list[int]:
        return cast(
            "list[int]",
            self._call("node_get_free_pages", pages=pages, start_cell=start_cell, cell_count=cell_count, flags=flags),
        )

    def node_get_memory_stats(self, cell_num: int, flags: int) -> list[tuple[str, int]]:
        return cast("list[tuple[str, int]]", self._call("node_get_memory_stats", cell_num=cell_num, flags=flags))

    def node_alloc_pages(
        self, pages: list[int], counts: list[int], start_cell: int, cell_count: int, flags: int
    ) -> int:
        args = {"pages": pages, "counts": counts, "start_cell": start_cell, "cell_count": cell_count, "flags": flags}
        return cast("int", self._call("node_alloc_pages", **args))

    def node_get_memory_parameters(self, flags: int) -> list[TypedParam]:
        return cast("list[TypedParam]", self._call("node_get_memory_parameters", flags=flags))

    def node_set_memory_parameters(self, params: list[TypedParam], flags: int) -> None:
        self._call("node_set_memory_parameters", params=params, flags=flags)

    def domain_list_all(self) -> list[DomainRef]:
        return cast("list[DomainRef]", self._call("domain_list_all"))

    def domain_lookup_by_name(self, name: str) -> DomainRef:
        return cast("DomainRef", self._call("domain_lookup_by_name", name=name))

    def domain_lookup_by_uuid(self, uuid: str) -> DomainRef:
        return cast("DomainRef", self._call("domain_lookup_by_uuid", uuid=uuid))

    def domain_lookup_by_id(self, id: int) -> DomainRef:
        return cast("DomainRef", self._call("domain_lookup_by_id", id=id))

    def domain_define_xml(self, xml: str, flags: int) -> DomainRef:
        return cast("DomainRef", self._call("domain_define_xml", xml=xml, flags=flags))

    def domain_undefine(self, dom: DomainRef, flags: int) -> None:
        self._call("domain_undefine", dom=dom, flags=flags)

    def domain_create_xml(self, xml: str, flags: int) -> DomainRef:
        return cast("DomainRef", self._call("domain_create_xml", xml=xml, flags=flags))

    def domain_create(self, dom: DomainRef, flags: int) -> None:
        self._call("domain_create", dom=dom, flags=flags)

    def domain_create_with_files(self, dom: DomainRef, files: list[int], flags: int) -> None:
        self._call("domain_create_with_files", dom=dom, files=files, flags=flags)

    def domain_create_xml_with_files(self, xml: str, files: list[int], flags: int) -> DomainRef:
        return cast("DomainRef", self._call("domain_create_xml_with_files", xml=xml, files=files, flags=flags))

    def domain_destroy(self, dom: DomainRef, flags: int) -> None:
        self._call("domain_destroy", dom=dom, flags=flags)

    def domain_shutdown(self, dom: DomainRef, flags: int) -> None:
        self._call("domain_shutdown", dom=dom, flags=flags)

    def domain_reboot(self, dom: DomainRef, flags: int) -> None:
        self._call("domain_reboot", dom=dom, flags=flags)

    def domain_suspend(self, dom: DomainRef) -> None:
        self._call("domain_suspend", dom=dom)

    def domain_resume(self, dom: DomainRef) -> None:
        self._call("domain_resume", dom=dom)

    def domain_save(self, dom: DomainRef, path: str, xml: str | None, flags: int) -> None:
        self._call("domain_save", dom=dom, path=_absolute_path(path), xml=xml, flags=flags)

    def domain_restore(self, path: str, xml: str | None, flags: int) -> DomainRef:
        return cast("DomainRef", self._call("domain_restore", path=_absolute_path(path), xml=xml, flags=flags))

    def domain_managed_save(self, dom: DomainRef, flags: int) -> None:
        self._call("domain_managed_save", dom=dom, flags=flags)

    def domain_managed_save_remove(self, dom: DomainRef, flags: int) -> None:
        self._call("domain_managed_save_remove", dom=dom, flags=flags)

    def domain_save_image_get_xml_desc(self, path: str, flags: int) -> str:
        if not self.read_only:  # libvirt refuses a read-only connection first; _call does that
            path = _absolute_path(path)
        return cast("str", self._call("domain_save_image_get_xml_desc", path=path, flags=flags))

    def domain_save_image_define_xml(self, path: str, xml: str, flags: int) -> None:
        if not self.read_only:  # read-only first, then the flags, as virDomainSaveImageDefineXML
            _one_restore_state(flags)
            path = _absolute_path(path)
        self._call("domain_save_image_define_xml", path=path, xml=xml, flags=flags)

    def domain_managed_save_get_xml_desc(self, dom: DomainRef, flags: int) -> str:
        return cast("str", self._call("domain_managed_save_get_xml_desc", dom=dom, flags=flags))

    def domain_managed_save_define_xml(self, dom: DomainRef, xml: str | None, flags: int) -> None:
        _one_restore_state(flags)  # before the read-only check, as virDomainManagedSaveDefineXML
        self._call("domain_managed_save_define_xml", dom=dom, xml=xml, flags=flags)

    def domain_get_info(self, dom: DomainRef) -> DomainInfo:
        return cast("DomainInfo", self._call("domain_get_info", dom=dom))

    def domain_get_state(self, dom: DomainRef) -> tuple[int, int]:
        return cast("tuple[int, int]", self._call("domain_get_state", dom=dom))

    def domain_get_xml_desc(self, dom: DomainRef, flags: int) -> str:
        return cast("str", self._call("domain_get_xml_desc", dom=dom, flags=flags))

    def domain_get_os_type(self, dom: DomainRef) -> str:
        return cast("str", self._call("domain_get_os_type", dom=dom))

    def domain_get_flags(self, dom: DomainRef) -> dict[str, bool]:
        return cast("dict[str, bool]", self._call("domain_get_flags", dom=dom))

    def domain_set_autostart(self, dom: DomainRef, autostart: bool) -> None:
        self._call("domain_set_autostart", dom=dom, autostart=autostart)

    def domain_set_memory(self, dom: DomainRef, memory_kib: int, flags: int) -> None:
        self._call("domain_set_memory", dom=dom, memory_kib=memory_kib, flags=flags)

    def domain_set_vcpus(self, dom: DomainRef, count: int, flags: int) -> None:
        self._call("domain_set_vcpus", dom=dom, count=count, flags=flags)

    def domain_set_memory_stats_period(self, dom: DomainRef, period: int, flags: int) -> None:
        self._call("domain_set_memory_stats_period", dom=dom, period=period, flags=flags)

    def domain_pin_vcpu(self, dom: DomainRef, vcpu: int, cpumap: bytes, flags: int) -> None:
        self._call("domain_pin_vcpu", dom=dom, vcpu=vcpu, cpumap=cpumap, flags=flags)

    def domain_attach_device(self, dom: DomainRef, xml: str, flags: int) -> None:
        self._call("domain_attach_device", dom=dom, xml=xml, flags=flags)

    def domain_detach_device(self, dom: DomainRef, xml: str, flags: int) -> None:
        self._call("domain_detach_device", dom=dom, xml=xml, flags=flags)

    def domain_update_device(self, dom: DomainRef, xml: str, flags: int) -> None:
        self._call("domain_update_device", dom=dom, xml=xml, flags=flags)

    def domain_get_stats(self, dom: DomainRef, stats: int, flags: int) -> list[tuple[str, int | str]]:
        return cast(
            "list[tuple[str, int | str]]",
            self._call("domain_get_stats", dom=dom, stats=stats, flags=flags),
        )

    def domain_interface_addresses(self, dom: DomainRef, source: int, flags: int) -> list[InterfaceAddresses]:
        return cast(
            "list[InterfaceAddresses]",
            self._call("domain_interface_addresses", dom=dom, source=source, flags=flags),
        )

    def network_get_dhcp_leases(self, net: NetworkRef, mac: str | None, flags: int) -> list[DhcpLease]:
        return cast(
            "list[DhcpLease]",
            self._call("network_get_dhcp_leases", net=net, mac=mac, flags=flags),
        )

    def network_update(self, net: NetworkRef, command: int, section: int, parent_index: int, xml: str,
                       flags: int) -> None:  # fmt: skip
        self._call("network_update", net=net, command=command, section=section,
                   parent_index=parent_index, xml=xml, flags=flags)  # fmt: skip

    def domain_get_security_label(self, dom: DomainRef) -> list[SecurityLabel]:
        return cast("list[SecurityLabel]", self._call("domain_get_security_label", dom=dom))

    def domain_get_scheduler_type(self, dom: DomainRef) -> tuple[str, int]:
        return cast("tuple[str, int]", self._call("domain_get_scheduler_type", dom=dom))

    def domain_get_scheduler_parameters(self, dom: DomainRef, flags: int) -> list[TypedParam]:
        return cast("list[TypedParam]", self._call("domain_get_scheduler_parameters", dom=dom, flags=flags))

    def domain_set_scheduler_parameters(self, dom: DomainRef, params: list[TypedParam], flags: int) -> None:
        self._call("domain_set_scheduler_parameters", dom=dom, params=params, flags=flags)

    def domain_screenshot(self, dom: DomainRef, screen: int, flags: int) -> tuple[str, int]:
        return cast("tuple[str, int]", self._call("domain_screenshot", dom=dom, screen=screen, flags=flags))

    def domain_abort_job(self, dom: DomainRef, flags: int) -> None:
        self._call("domain_abort_job", dom=dom, flags=flags)

    # migration (contract 1.10): the phases of libvirt's protocol version 3, see ``pyvirt.migration``
    def domain_migrate_begin(self, dom: DomainRef, params: list[TypedParam], flags: int) -> tuple[str, bytes]:
        return cast("tuple[str, bytes]", self._call("domain_migrate_begin", dom=dom, params=params, flags=flags))

    def domain_migrate_prepare(self, params: list[TypedParam], cookie: bytes, flags: int) -> tuple[bytes, str | None]:
        return cast(
            "tuple[bytes, str | None]", self._call("domain_migrate_prepare", params=params, cookie=cookie, flags=flags)
        )

    def domain_migrate_prepare_tunnel(self, params: list[TypedParam], cookie: bytes, flags: int) -> tuple[bytes, int]:
        return cast(
            "tuple[bytes, int]", self._call("domain_migrate_prepare_tunnel", params=params, cookie=cookie, flags=flags)
        )

    def domain_migrate_perform(
        self, dom: DomainRef, dconnuri: str | None, params: list[TypedParam], cookie: bytes, flags: int
    ) -> bytes:
        return cast(
            "bytes",
            self._call("domain_migrate_perform", dom=dom, dconnuri=dconnuri, params=params, cookie=cookie, flags=flags),
        )

    def domain_migrate_finish(
        self, params: list[TypedParam], cookie: bytes, flags: int, cancelled: bool
    ) -> tuple[DomainRef, bytes]:
        return cast(
            "tuple[DomainRef, bytes]",
            self._call("domain_migrate_finish", params=params, cookie=cookie, flags=flags, cancelled=cancelled),
        )

    def domain_migrate_confirm(
        self, dom: DomainRef, params: list[TypedParam], cookie: bytes, flags: int, cancelled: bool
    ) -> None:
        self._call("domain_migrate_confirm", dom=dom, params=params, cookie=cookie, flags=flags, cancelled=cancelled)

    def domain_get_job_stats(self, dom: DomainRef, flags: int) -> tuple[int, list[TypedParam]]:
        return cast("tuple[int, list[TypedParam]]", self._call("domain_get_job_stats", dom=dom, flags=flags))

    def domain_migrate_start_post_copy(self, dom: DomainRef, flags: int) -> None:
        self._call("domain_migrate_start_post_copy", dom=dom, flags=flags)

    def domain_migrate_set_max_downtime(self, dom: DomainRef, downtime: int, flags: int) -> None:
        self._call("domain_migrate_set_max_downtime", dom=dom, downtime=downtime, flags=flags)

    def domain_migrate_get_max_downtime(self, dom: DomainRef, flags: int) -> int:
        return cast("int", self._call("domain_migrate_get_max_downtime", dom=dom, flags=flags))

    # metadata, guest controls, statistics (contract 1.11)
    def domain_get_metadata(self, dom: DomainRef, type: int, uri: str | None, flags: int) -> str:
        return cast("str", self._call("domain_get_metadata", dom=dom, type=type, uri=uri, flags=flags))

    def domain_set_metadata(
        self, dom: DomainRef, type: int, metadata: str | None, key: str | None, uri: str | None, flags: int
    ) -> None:
        if not self.read_only:  # libvirt refuses a read-only connection first; _call does that
            _check_set_metadata_args(type, metadata, key, uri)
        self._call("domain_set_metadata", dom=dom, type=type, metadata=metadata, key=key, uri=uri, flags=flags)

    def domain_rename(self, dom: DomainRef, new_name: str, flags: int) -> None:
        self._call("domain_rename", dom=dom, new_name=new_name, flags=flags)

    def domain_reset(self, dom: DomainRef, flags: int) -> None:
        self._call("domain_reset", dom=dom, flags=flags)

    def domain_inject_nmi(self, dom: DomainRef, flags: int) -> None:
        self._call("domain_inject_nmi", dom=dom, flags=flags)

    def domain_send_key(self, dom: DomainRef, codeset: int, holdtime: int, keycodes: list[int], flags: int) -> None:
        self._call("domain_send_key", dom=dom, codeset=codeset, holdtime=holdtime, keycodes=keycodes, flags=flags)

    def domain_get_time(self, dom: DomainRef, flags: int) -> tuple[int, int]:
        return cast("tuple[int, int]", self._call("domain_get_time", dom=dom, flags=flags))

    def domain_set_time(self, dom: DomainRef, seconds: int, nseconds: int, flags: int) -> None:
        self._call("domain_set_time", dom=dom, seconds=seconds, nseconds=nseconds, flags=flags)

    def domain_get_hostname(self, dom: DomainRef, flags: int) -> str:
        return cast("str", self._call("domain_get_hostname", dom=dom, flags=flags))

    def domain_memory_stats(self, dom: DomainRef, max_stats: int, flags: int) -> list[tuple[int, int]]:
        return cast(
            "list[tuple[int, int]]", self._call("domain_memory_stats", dom=dom, max_stats=max_stats, flags=flags)
        )

    def domain_get_vcpus_flags(self, dom: DomainRef, flags: int) -> int:
        return cast("int", self._call("domain_get_vcpus_flags", dom=dom, flags=flags))

    def domain_get_vcpus(self, dom: DomainRef, maxinfo: int, maplen: int) -> list[VcpuInfo]:
        return cast("list[VcpuInfo]", self._call("domain_get_vcpus", dom=dom, maxinfo=maxinfo, maplen=maplen))

    def domain_get_vcpu_pin_info(self, dom: DomainRef, ncpumaps: int, maplen: int, flags: int) -> list[bytes]:
        return cast(
            "list[bytes]",
            self._call("domain_get_vcpu_pin_info", dom=dom, ncpumaps=ncpumaps, maplen=maplen, flags=flags),
        )

    def domain_block_stats(self, dom: DomainRef, path: str) -> BlockStats:
        return cast("BlockStats", self._call("domain_block_stats", dom=dom, path=path))

    def domain_interface_stats(self, dom: DomainRef, device: str) -> InterfaceStats:
        return cast("InterfaceStats", self._call("domain_interface_stats", dom=dom, device=device))

    def domain_get_block_info(self, dom: DomainRef, path: str, flags: int) -> BlockInfo:
        return cast("BlockInfo", self._call("domain_get_block_info", dom=dom, path=path, flags=flags))

    def domain_get_emulator_pin_info(self, dom: DomainRef, maplen: int, flags: int) -> bytes:
        return cast("bytes", self._call("domain_get_emulator_pin_info", dom=dom, maplen=maplen, flags=flags))

    def domain_pin_emulator(self, dom: DomainRef, cpumap: bytes, flags: int) -> None:
        self._call("domain_pin_emulator", dom=dom, cpumap=cpumap, flags=flags)

    def domain_get_iothread_info(self, dom: DomainRef, flags: int) -> list[IOThreadInfo]:
        return cast("list[IOThreadInfo]", self._call("domain_get_iothread_info", dom=dom, flags=flags))

    def domain_pin_iothread(self, dom: DomainRef, iothread_id: int, cpumap: bytes, flags: int) -> None:
        self._call("domain_pin_iothread", dom=dom, iothread_id=iothread_id, cpumap=cpumap, flags=flags)

    def domain_add_iothread(self, dom: DomainRef, iothread_id: int, flags: int) -> None:
        self._call("domain_add_iothread", dom=dom, iothread_id=iothread_id, flags=flags)

    def domain_del_iothread(self, dom: DomainRef, iothread_id: int, flags: int) -> None:
        self._call("domain_del_iothread", dom=dom, iothread_id=iothread_id, flags=flags)

    def domain_set_iothread_params(
        self, dom: DomainRef, iothread_id: int, params: list[TypedParam], flags: int
    ) -> None:
        self._call("domain_set_iothread_params", dom=dom, iothread_id=iothread_id, params=params, flags=flags)

    def domain_get_fs_info(self, dom: DomainRef, flags: int) -> list[FSInfo]:
        return cast("list[FSInfo]", self._call("domain_get_fs_info", dom=dom, flags=flags))

    def domain_fs_freeze(self, dom: DomainRef, mountpoints: list[str], flags: int) -> int:
        return cast("int", self._call("domain_fs_freeze", dom=dom, mountpoints=mountpoints, flags=flags))

    def domain_fs_thaw(self, dom: DomainRef, mountpoints: list[str], flags: int) -> int:
        return cast("int", self._call("domain_fs_thaw", dom=dom, mountpoints=mountpoints, flags=flags))

    def domain_fs_trim(self, dom: DomainRef, mountpoint: str | None, minimum: int, flags: int) -> None:
        self._call("domain_fs_trim", dom=dom, mountpoint=mountpoint, minimum=minimum, flags=flags)

    def domain_block_stats_flags(self, dom: DomainRef, path: str, flags: int) -> list[TypedParam]:
        return cast("list[TypedParam]", self._call("domain_block_stats_flags", dom=dom, path=path, flags=flags))

    def domain_get_block_job_info(self, dom: DomainRef, path: str, flags: int) -> tuple[int, int, int, int]:
        return cast(
            "tuple[int, int, int, int]", self._call("domain_get_block_job_info", dom=dom, path=path, flags=flags)
        )

    def domain_block_copy(self, dom: DomainRef, path: str, destxml: str, params: list[TypedParam], flags: int) -> None:
        self._call("domain_block_copy", dom=dom, path=path, destxml=destxml, params=params, flags=flags)

    def domain_block_rebase(self, dom: DomainRef, path: str, base: str | None, bandwidth: int, flags: int) -> None:
        self._call("domain_block_rebase", dom=dom, path=path, base=base, bandwidth=bandwidth, flags=flags)

    def domain_set_block_threshold(self, dom: DomainRef, dev: str, threshold: int, flags: int) -> None:
        self._call("domain_set_block_threshold", dom=dom, dev=dev, threshold=threshold, flags=flags)

    def domain_block_resize(self, dom: DomainRef, disk: str, size: int, flags: int) -> None:
        self._call("domain_block_resize", dom=dom, disk=disk, size=size, flags=flags)

    def domain_migrate_set_max_speed(self, dom: DomainRef, bandwidth: int, flags: int) -> None:
        self._call("domain_migrate_set_max_speed", dom=dom, bandwidth=bandwidth, flags=flags)

    def domain_migrate_get_max_speed(self, dom: DomainRef, flags: int) -> int:
        return cast("int", self._call("domain_migrate_get_max_speed", dom=dom, flags=flags))

    def domain_migrate_get_compression_cache(self, dom: DomainRef, flags: int) -> int:
        return cast("int", self._call("domain_migrate_get_compression_cache", dom=dom, flags=flags))

    def domain_migrate_set_compression_cache(self, dom: DomainRef, size: int, flags: int) -> None:
        self._call("domain_migrate_set_compression_cache", dom=dom, size=size, flags=flags)

    def domain_start_dirty_rate_calc(self, dom: DomainRef, seconds: int, flags: int) -> None:
        self._call("domain_start_dirty_rate_calc", dom=dom, seconds=seconds, flags=flags)

    def domain_backup_begin(self, dom: DomainRef, xml: str, checkpoint_xml: str | None, flags: int) -> None:
        self._call("domain_backup_begin", dom=dom, xml=xml, checkpoint_xml=checkpoint_xml, flags=flags)

    def domain_backup_get_xml_desc(self, dom: DomainRef, flags: int) -> str:
        return cast("str", self._call("domain_backup_get_xml_desc", dom=dom, flags=flags))

    def domain_qemu_monitor_command(self, dom: DomainRef, cmd: str, flags: int) -> str:
        return cast("str", self._call("domain_qemu_monitor_command", dom=dom, cmd=cmd, flags=flags))

    def domain_qemu_agent_command(self, dom: DomainRef, cmd: str, timeout: int, flags: int) -> str:
        return cast("str", self._call("domain_qemu_agent_command", dom=dom, cmd=cmd, timeout=timeout, flags=flags))

    def domain_fd_associate(self, dom: DomainRef, name: str, files: list[int], flags: int) -> None:
        self._call("domain_fd_associate", dom=dom, name=name, files=files, flags=flags)

    def domain_lxc_open_namespace(self, dom: DomainRef, flags: int) -> list[int]:
        return cast("list[int]", self._call("domain_lxc_open_namespace", dom=dom, flags=flags))

    def domain_core_dump(self, dom: DomainRef, to: str, dumpformat: int, flags: int) -> None:
        if not self.read_only:  # libvirt refuses a read-only connection first; _call does that
            to = _core_dump_target(to, dumpformat, flags)
        self._call("domain_core_dump", dom=dom, to=to, dumpformat=dumpformat, flags=flags)

    def domain_block_job_abort(self, dom: DomainRef, path: str, flags: int) -> None:
        self._call("domain_block_job_abort", dom=dom, path=path, flags=flags)

    def domain_block_job_set_speed(self, dom: DomainRef, path: str, bandwidth: int, flags: int) -> None:
        self._call("domain_block_job_set_speed", dom=dom, path=path, bandwidth=bandwidth, flags=flags)

    def domain_block_pull(self, dom: DomainRef, path: str, bandwidth: int, flags: int) -> None:
        self._call("domain_block_pull", dom=dom, path=path, bandwidth=bandwidth, flags=flags)

    def domain_block_commit(
        self, dom: DomainRef, path: str, base: str | None, top: str | None, bandwidth: int, flags: int
    ) -> None:
        self._call("domain_block_commit", dom=dom, path=path, base=base, top=top, bandwidth=bandwidth, flags=flags)

    def domain_get_disk_errors(self, dom: DomainRef, flags: int) -> list[tuple[str, int]]:
        return cast("list[tuple[str, int]]", self._call("domain_get_disk_errors", dom=dom, flags=flags))

    def domain_get_control_info(self, dom: DomainRef, flags: int) -> tuple[int, int, int]:
        return cast("tuple[int, int, int]", self._call("domain_get_control_info", dom=dom, flags=flags))

    def domain_get_cpu_stats(self, dom: DomainRef, start_cpu: int, ncpus: int, flags: int) -> list[list[TypedParam]]:
        return cast(
            "list[list[TypedParam]]",
            self._call("domain_get_cpu_stats", dom=dom, start_cpu=start_cpu, ncpus=ncpus, flags=flags),
        )

    def domain_get_blkio_parameters(self, dom: DomainRef, flags: int) -> list[TypedParam]:
        return cast("list[TypedParam]", self._call("domain_get_blkio_parameters", dom=dom, flags=flags))

    def domain_set_blkio_parameters(self, dom: DomainRef, params: list[TypedParam], flags: int) -> None:
        self._call("domain_set_blkio_parameters", dom=dom, params=params, flags=flags)

    def domain_get_memory_parameters(self, dom: DomainRef, flags: int) -> list[TypedParam]:
        return cast("list[TypedParam]", self._call("domain_get_memory_parameters", dom=dom, flags=flags))

    def domain_set_memory_parameters(self, dom: DomainRef, params: list[TypedParam], flags: int) -> None:
        self._call("domain_set_memory_parameters", dom=dom, params=params, flags=flags)

    def domain_get_block_io_tune(self, dom: DomainRef, disk: str, flags: int) -> list[TypedParam]:
        return cast("list[TypedParam]", self._call("domain_get_block_io_tune", dom=dom, disk=disk, flags=flags))

    def domain_set_block_io_tune(self, dom: DomainRef, disk: str, params: list[TypedParam], flags: int) -> None:
        self._call("domain_set_block_io_tune", dom=dom, disk=disk, params=params, flags=flags)

    def domain_get_numa_parameters(self, dom: DomainRef, flags: int) -> list[TypedParam]:
        return cast("list[TypedParam]", self._call("domain_get_numa_parameters", dom=dom, flags=flags))

    def domain_set_numa_parameters(self, dom: DomainRef, params: list[TypedParam], flags: int) -> None:
        self._call("domain_set_numa_parameters", dom=dom, params=params, flags=flags)

    def domain_get_perf_events(self, dom: DomainRef, flags: int) -> list[TypedParam]:
        return cast("list[TypedParam]", self._call("domain_get_perf_events", dom=dom, flags=flags))

    def domain_set_perf_events(self, dom: DomainRef, params: list[TypedParam], flags: int) -> None:
        self._call("domain_set_perf_events", dom=dom, params=params, flags=flags)

    def domain_get_interface_parameters(self, dom: DomainRef, device: str, flags: int) -> list[TypedParam]:
        return cast(
            "list[TypedParam]", self._call("domain_get_interface_parameters", dom=dom, device=device, flags=flags)
        )

    def domain_set_interface_parameters(
        self, dom: DomainRef, device: str, params: list[TypedParam], flags: int
    ) -> None:
        self._call("domain_set_interface_parameters", dom=dom, device=device, params=params, flags=flags)

    def domain_set_lifecycle_action(self, dom: DomainRef, type: int, action: int, flags: int) -> None:
        self._call("domain_set_lifecycle_action", dom=dom, type=type, action=action, flags=flags)

    def domain_send_process_signal(self, dom: DomainRef, pid_value: int, signum: int, flags: int) -> None:
        self._call("domain_send_process_signal", dom=dom, pid_value=pid_value, signum=signum, flags=flags)

    def domain_set_user_password(self, dom: DomainRef, user: str, password: str, flags: int) -> None:
        self._call("domain_set_user_password", dom=dom, user=user, password=password, flags=flags)

    def domain_get_launch_security_info(self, dom: DomainRef, flags: int) -> list[TypedParam]:
        return cast("list[TypedParam]", self._call("domain_get_launch_security_info", dom=dom, flags=flags))

    def domain_get_guest_info(self, dom: DomainRef, types: int, flags: int) -> list[TypedParam]:
        return cast("list[TypedParam]", self._call("domain_get_guest_info", dom=dom, types=types, flags=flags))

    def domain_get_guest_vcpus(self, dom: DomainRef, flags: int) -> list[TypedParam]:
        return cast("list[TypedParam]", self._call("domain_get_guest_vcpus", dom=dom, flags=flags))

    def domain_set_guest_vcpus(self, dom: DomainRef, cpumap: str, state: int, flags: int) -> None:
        self._call("domain_set_guest_vcpus", dom=dom, cpumap=cpumap, state=state, flags=flags)

    def domain_authorized_ssh_keys_get(self, dom: DomainRef, user: str, flags: int) -> list[str]:
        return cast("list[str]", self._call("domain_authorized_ssh_keys_get", dom=dom, user=user, flags=flags))

    def domain_authorized_ssh_keys_set(self, dom: DomainRef, user: str, keys: list[str], flags: int) -> None:
        self._call("domain_authorized_ssh_keys_set", dom=dom, user=user, keys=keys, flags=flags)

    def domain_agent_set_response_timeout(self, dom: DomainRef, timeout: int, flags: int) -> None:
        self._call("domain_agent_set_response_timeout", dom=dom, timeout=timeout, flags=flags)

    def domain_pm_suspend_for_duration(self, dom: DomainRef, target: int, duration: int, flags: int) -> None:
        self._call("domain_pm_suspend_for_duration", dom=dom, target=target, duration=duration, flags=flags)

    def domain_pm_wakeup(self, dom: DomainRef, flags: int) -> None:
        self._call("domain_pm_wakeup", dom=dom, flags=flags)

    def domain_set_vcpu(self, dom: DomainRef, cpumap: str, state: int, flags: int) -> None:
        self._call("domain_set_vcpu", dom=dom, cpumap=cpumap, state=state, flags=flags)

    def domain_detach_device_alias(self, dom: DomainRef, alias: str, flags: int) -> None:
        self._call("domain_detach_device_alias", dom=dom, alias=alias, flags=flags)

    def checkpoint_create_xml(self, dom: DomainRef, xml: str, flags: int) -> CheckpointRef:
        return cast("CheckpointRef", self._call("checkpoint_create_xml", dom=dom, xml=xml, flags=flags))

    def checkpoint_list_names(self, dom: DomainRef, flags: int) -> list[str]:
        return cast("list[str]", self._call("checkpoint_list_names", dom=dom, flags=flags))

    def checkpoint_list_children(self, chk: CheckpointRef, flags: int) -> list[str]:
        return cast("list[str]", self._call("checkpoint_list_children", chk=chk, flags=flags))

    def checkpoint_lookup_by_name(self, dom: DomainRef, name: str, flags: int) -> CheckpointRef:
        return cast("CheckpointRef", self._call("checkpoint_lookup_by_name", dom=dom, name=name, flags=flags))

    def checkpoint_get_xml_desc(self, chk: CheckpointRef, flags: int) -> str:
        return cast("str", self._call("checkpoint_get_xml_desc", chk=chk, flags=flags))

    def checkpoint_get_parent(self, chk: CheckpointRef, flags: int) -> CheckpointRef:
        return cast("CheckpointRef", self._call("checkpoint_get_parent", chk=chk, flags=flags))

    def checkpoint_delete(self, chk: CheckpointRef, flags: int) -> None:
        self._call("checkpoint_delete", chk=chk, flags=flags)

    def snapshot_create_xml(self, dom: DomainRef, xml: str, flags: int) -> SnapshotRef:
        return cast(
            "SnapshotRef",
            self._call("snapshot_create_xml", dom=dom, xml=xml, flags=flags),
        )

    def snapshot_list_names(self, dom: DomainRef, flags: int) -> list[str]:
        return cast("list[str]", self._call("snapshot_list_names", dom=dom, flags=flags))

    def snapshot_lookup_by_name(self, dom: DomainRef, name: str) -> SnapshotRef:
        return cast("SnapshotRef", self._call("snapshot_lookup_by_name", dom=dom, name=name))

    def snapshot_current(self, dom: DomainRef) -> SnapshotRef:
        return cast("SnapshotRef", self._call("snapshot_current", dom=dom))

    def snapshot_get_xml_desc(self, snap: SnapshotRef, flags: int) -> str:
        return cast("str", self._call("snapshot_get_xml_desc", snap=snap, flags=flags))

    def snapshot_get_parent(self, snap: SnapshotRef) -> SnapshotRef:
        return cast("SnapshotRef", self._call("snapshot_get_parent", snap=snap))

    def snapshot_revert(self, snap: SnapshotRef, flags: int) -> None:
        self._call("snapshot_revert", snap=snap, flags=flags)

    def snapshot_delete(self, snap: SnapshotRef, flags: int) -> None:
        self._call("snapshot_delete", snap=snap, flags=flags)

    def network_list_all(self) -> list[NetworkRef]:
        return cast("list[NetworkRef]", self._call("network_list_all"))

    def network_lookup_by_name(self, name: str) -> NetworkRef:
        return cast("NetworkRef", self._call("network_lookup_by_name", name=name))

    def network_lookup_by_uuid(self, uuid: str) -> NetworkRef:
        return cast("NetworkRef", self._call("network_lookup_by_uuid", uuid=uuid))

    def network_define_xml(self, xml: str, flags: int) -> NetworkRef:
        return cast("NetworkRef", self._call("network_define_xml", xml=xml, flags=flags))

    def network_create_xml(self, xml: str, flags: int) -> NetworkRef:
        return cast("NetworkRef", self._call("network_create_xml", xml=xml, flags=flags))

    def network_undefine(self, net: NetworkRef) -> None:
        self._call("network_undefine", net=net)

    def network_create(self, net: NetworkRef) -> None:
        self._call("network_create", net=net)

    def network_destroy(self, net: NetworkRef) -> None:
        self._call("network_destroy", net=net)

    def network_get_xml_desc(self, net: NetworkRef, flags: int) -> str:
        return cast("str", self._call("network_get_xml_desc", net=net, flags=flags))

    def network_get_flags(self, net: NetworkRef) -> dict[str, bool]:
        return cast("dict[str, bool]", self._call("network_get_flags", net=net))

    def network_get_bridge_name(self, net: NetworkRef) -> str:
        return cast("str", self._call("network_get_bridge_name", net=net))

    def network_set_autostart(self, net: NetworkRef, autostart: bool) -> None:
        self._call("network_set_autostart", net=net, autostart=autostart)

    def network_list_all_ports(self, net: NetworkRef, flags: int) -> list[NetworkPortRef]:
        return cast("list[NetworkPortRef]", self._call("network_list_all_ports", net=net, flags=flags))

    def network_port_lookup_by_uuid(self, net: NetworkRef, uuid: str) -> NetworkPortRef:
        return cast("NetworkPortRef", self._call("network_port_lookup_by_uuid", net=net, uuid=uuid))

    def network_port_create_xml(self, net: NetworkRef, xml: str, flags: int) -> NetworkPortRef:
        return cast("NetworkPortRef", self._call("network_port_create_xml", net=net, xml=xml, flags=flags))

    def network_port_get_xml_desc(self, port: NetworkPortRef, flags: int) -> str:
        return cast("str", self._call("network_port_get_xml_desc", port=port, flags=flags))

    def network_port_delete(self, port: NetworkPortRef, flags: int) -> None:
        self._call("network_port_delete", port=port, flags=flags)

    def pool_list_all(self) -> list[PoolRef]:
        return cast("list[PoolRef]", self._call("pool_list_all"))

    def pool_lookup_by_name(self, name: str) -> PoolRef:
        return cast("PoolRef", self._call("pool_lookup_by_name", name=name))

    def pool_lookup_by_uuid(self, uuid: str) -> PoolRef:
        return cast("PoolRef", self._call("pool_lookup_by_uuid", uuid=uuid))

    def pool_define_xml(self, xml: str, flags: int) -> PoolRef:
        return cast("PoolRef", self._call("pool_define_xml", xml=xml, flags=flags))

    def pool_create_xml(self, xml: str, flags: int) -> PoolRef:
        return cast("PoolRef", self._call("pool_create_xml", xml=xml, flags=flags))

    def pool_undefine(self, pool: PoolRef) -> None:
        self._call("pool_undefine", pool=pool)

    def pool_create(self, pool: PoolRef, flags: int) -> None:
        self._call("pool_create", pool=pool, flags=flags)

    def pool_destroy(self, pool: PoolRef) -> None:
        self._call("pool_destroy", pool=pool)

    def pool_refresh(self, pool: PoolRef, flags: int) -> None:
        self._call("pool_refresh", pool=pool, flags=flags)

    def pool_build(self, pool: PoolRef, flags: int) -> None:
        self._call("pool_build", pool=pool, flags=flags)

    def pool_delete(self, pool: PoolRef, flags: int) -> None:
        self._call("pool_delete", pool=pool, flags=flags)

    def pool_get_info(self, pool: PoolRef) -> PoolInfo:
        return cast("PoolInfo", self._call("pool_get_info", pool=pool))

    def pool_get_xml_desc(self, pool: PoolRef, flags: int) -> str:
        return cast("str", self._call("pool_get_xml_desc", pool=pool, flags=flags))

    def pool_get_flags(self, pool: PoolRef) -> dict[str, bool]:
        return cast("dict[str, bool]", self._call("pool_get_flags", pool=pool))

    def pool_set_autostart(self, pool: PoolRef, autostart: bool) -> None:
        self._call("pool_set_autostart", pool=pool, autostart=autostart)

    def volume_list_all(self, pool: PoolRef) -> list[VolumeRef]:
        return cast("list[VolumeRef]", self._call("volume_list_all", pool=pool))

    def volume_lookup_by_name(self, pool: PoolRef, name: str) -> VolumeRef:
        return cast("VolumeRef", self._call("volume_lookup_by_name", pool=pool, name=name))

    def volume_lookup_by_key(self, key: str) -> VolumeRef:
        return cast("VolumeRef", self._call("volume_lookup_by_key", key=key))

    def volume_lookup_by_path(self, path: str) -> VolumeRef:
        return cast("VolumeRef", self._call("volume_lookup_by_path", path=path))

    def volume_create_xml(self, pool: PoolRef, xml: str, flags: int) -> VolumeRef:
        return cast("VolumeRef", self._call("volume_create_xml", pool=pool, xml=xml, flags=flags))

    def volume_delete(self, vol: VolumeRef, flags: int) -> None:
        self._call("volume_delete", vol=vol, flags=flags)

    def volume_get_info(self, vol: VolumeRef) -> VolumeInfo:
        return cast("VolumeInfo", self._call("volume_get_info", vol=vol))

    def volume_get_xml_desc(self, vol: VolumeRef, flags: int) -> str:
        return cast("str", self._call("volume_get_xml_desc", vol=vol, flags=flags))

    def volume_get_path(self, vol: VolumeRef) -> str:
        return cast("str", self._call("volume_get_path", vol=vol))

    def volume_upload(self, vol: VolumeRef, offset: int, length: int, flags: int) -> int:
        return cast("int", self._call("volume_upload", vol=vol, offset=offset, length=length, flags=flags))

    def volume_download(self, vol: VolumeRef, offset: int, length: int, flags: int) -> int:
        return cast("int", self._call("volume_download", vol=vol, offset=offset, length=length, flags=flags))

    def volume_create_xml_from(self, pool: PoolRef, xml: str, source: VolumeRef, flags: int) -> VolumeRef:
        return cast("VolumeRef", self._call("volume_create_xml_from", pool=pool, xml=xml, source=source, flags=flags))

    def volume_wipe(self, vol: VolumeRef, algorithm: int, flags: int) -> None:
        self._call("volume_wipe", vol=vol, algorithm=algorithm, flags=flags)

    def volume_resize(self, vol: VolumeRef, capacity: int, flags: int) -> None:
        self._call("volume_resize", vol=vol, capacity=capacity, flags=flags)

    def secret_list_all(self) -> list[SecretRef]:
        return cast("list[SecretRef]", self._call("secret_list_all"))

    def secret_lookup_by_uuid(self, uuid: str) -> SecretRef:
        return cast("SecretRef", self._call("secret_lookup_by_uuid", uuid=uuid))

    def secret_lookup_by_usage(self, usage_type: int, usage_id: str) -> SecretRef:
        return cast(
            "SecretRef",
            self._call("secret_lookup_by_usage", usage_type=usage_type, usage_id=usage_id),
        )

    def secret_define_xml(self, xml: str, flags: int) -> SecretRef:
        return cast("SecretRef", self._call("secret_define_xml", xml=xml, flags=flags))

    def secret_undefine(self, secret: SecretRef) -> None:
        self._call("secret_undefine", secret=secret)

    def secret_get_xml_desc(self, secret: SecretRef, flags: int) -> str:
        return cast("str", self._call("secret_get_xml_desc", secret=secret, flags=flags))

    def secret_set_value(self, secret: SecretRef, value: bytes, flags: int) -> None:
        self._call("secret_set_value", secret=secret, value=value, flags=flags)

    def secret_get_value(self, secret: SecretRef, flags: int) -> bytes:
        return cast("bytes", self._call("secret_get_value", secret=secret, flags=flags))

    def nodedev_list_all(self, cap: str | None) -> list[NodeDeviceRef]:
        return cast("list[NodeDeviceRef]", self._call("nodedev_list_all", cap=cap))

    def nodedev_lookup_by_name(self, name: str) -> NodeDeviceRef:
        return cast("NodeDeviceRef", self._call("nodedev_lookup_by_name", name=name))

    def nodedev_get_xml_desc(self, dev: NodeDeviceRef, flags: int) -> str:
        return cast("str", self._call("nodedev_get_xml_desc", dev=dev, flags=flags))

    def nodedev_get_parent(self, dev: NodeDeviceRef) -> str:
        return cast("str", self._call("nodedev_get_parent", dev=dev))

    def pool_find_sources(self, type: str, src_spec: str | None, flags: int) -> str:
        return cast("str", self._call("pool_find_sources", type=type, src_spec=src_spec, flags=flags))

    def pool_get_capabilities(self, flags: int) -> str:
        return cast("str", self._call("pool_get_capabilities", flags=flags))

    def nodedev_create_xml(self, xml: str, flags: int) -> NodeDeviceRef:
        return cast("NodeDeviceRef", self._call("nodedev_create_xml", xml=xml, flags=flags))

    def nodedev_destroy(self, dev: NodeDeviceRef) -> None:
        self._call("nodedev_destroy", dev=dev)

    def interface_list_all(self) -> list[InterfaceRef]:
        return cast("list[InterfaceRef]", self._call("interface_list_all"))

    def interface_lookup_by_name(self, name: str) -> InterfaceRef:
        return cast("InterfaceRef", self._call("interface_lookup_by_name", name=name))

    def interface_get_xml_desc(self, iface: InterfaceRef, flags: int) -> str:
        return cast("str", self._call("interface_get_xml_desc", iface=iface, flags=flags))

    def interface_is_active(self, iface: InterfaceRef) -> bool:
        return cast("bool", self._call("interface_is_active", iface=iface))

    def interface_define_xml(self, xml: str, flags: int) -> InterfaceRef:
        return cast("InterfaceRef", self._call("interface_define_xml", xml=xml, flags=flags))

    def interface_undefine(self, iface: InterfaceRef) -> None:
        self._call("interface_undefine", iface=iface)

    def interface_create(self, iface: InterfaceRef, flags: int) -> None:
        self._call("interface_create", iface=iface, flags=flags)

    def interface_destroy(self, iface: InterfaceRef, flags: int) -> None:
        self._call("interface_destroy", iface=iface, flags=flags)

    def interface_change_begin(self, flags: int) -> None:
        self._call("interface_change_begin", flags=flags)

    def interface_change_commit(self, flags: int) -> None:
        self._call("interface_change_commit", flags=flags)

    def interface_change_rollback(self, flags: int) -> None:
        self._call("interface_change_rollback", flags=flags)

    def nwfilter_list_all(self) -> list[NWFilterRef]:
        return cast("list[NWFilterRef]", self._call("nwfilter_list_all"))

    def nwfilter_lookup_by_name(self, name: str) -> NWFilterRef:
        return cast("NWFilterRef", self._call("nwfilter_lookup_by_name", name=name))

    def nwfilter_lookup_by_uuid(self, uuid: str) -> NWFilterRef:
        return cast("NWFilterRef", self._call("nwfilter_lookup_by_uuid", uuid=uuid))

    def nwfilter_define_xml(self, xml: str, flags: int) -> NWFilterRef:
        return cast("NWFilterRef", self._call("nwfilter_define_xml", xml=xml, flags=flags))

    def nwfilter_undefine(self, nwfilter: NWFilterRef) -> None:
        self._call("nwfilter_undefine", nwfilter=nwfilter)

    def nwfilter_get_xml_desc(self, nwfilter: NWFilterRef, flags: int) -> str:
        return cast("str", self._call("nwfilter_get_xml_desc", nwfilter=nwfilter, flags=flags))

    def nwfilter_binding_list_all(self) -> list[NWFilterBindingRef]:
        return cast("list[NWFilterBindingRef]", self._call("nwfilter_binding_list_all"))

    def nwfilter_binding_lookup_by_port_dev(self, portdev: str) -> NWFilterBindingRef:
        return cast("NWFilterBindingRef", self._call("nwfilter_binding_lookup_by_port_dev", portdev=portdev))

    def nwfilter_binding_create_xml(self, xml: str, flags: int) -> NWFilterBindingRef:
        return cast("NWFilterBindingRef", self._call("nwfilter_binding_create_xml", xml=xml, flags=flags))

    def nwfilter_binding_delete(self, binding: NWFilterBindingRef) -> None:
        self._call("nwfilter_binding_delete", binding=binding)

    def nwfilter_binding_get_xml_desc(self, binding: NWFilterBindingRef, flags: int) -> str:
        return cast("str", self._call("nwfilter_binding_get_xml_desc", binding=binding, flags=flags))
