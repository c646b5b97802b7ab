"""The remote call table agrees with the hook specs, the API table and libvirt's own procedure annotations."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable
from typing import Any

from pyvirt.daemon.remote_program import api_name
from pyvirt.plugin.api import ACCESS_DIFFERS_FROM_ACL, API, Access
from pyvirt.plugin.records import (
    CheckpointRef,
    DomainRef,
    InterfaceRef,
    NetworkPortRef,
    NetworkRef,
    NodeDeviceRef,
    NWFilterBindingRef,
    NWFilterRef,
    PoolRef,
    SecretRef,
    SnapshotRef,
    VolumeRef,
)
from pyvirt.plugin.specs import hypervisor, secondary
from pyvirt.plugin.typed_params import typed_param
from pyvirt.remote import _remote
from pyvirt.remote.calls import CALLS, domain_ref, uuid_bytes, uuid_text, wire_domain
from pyvirt.remote.xdr import decode, encode

# Hooks the remote driver does not carry yet, and why (a new hook must be added to the table or here).
NOT_CARRIED = {
    "connect_open": "the handshake itself (AUTH_LIST, CONNECT_OPEN), not a table row",
    "connect_close": "CONNECT_CLOSE and the socket, in RemoteConnection",
    "connect_set_keep_alive": "the client's own pings (libvirt's remote driver sends no procedure for it)",
    "domain_restore": "three calls in sequence (image XML, restore, lookup), written by hand in RemoteConnection",
    "domain_open_console": "a stream bridged to a socket, written by hand in RemoteConnection",
    "domain_screenshot": "a read stream copied into a pipe, written by hand in RemoteConnection",
    "volume_download": "a read stream copied into a pipe, written by hand in RemoteConnection",
    "volume_upload": "a write stream fed from a socket, finished before the socket closes, by hand",
    "domain_migrate_prepare_tunnel": "a write stream fed from a socket (the tunnelled migration), by hand",
    "domain_qemu_monitor_command": "libvirt-qemu's QEMU program (qemu_protocol.x), not the remote one, by hand",
    "domain_qemu_agent_command": "libvirt-qemu's QEMU program (qemu_protocol.x), not the remote one, by hand",
    "domain_lxc_open_namespace": "libvirt-lxc's LXC program (lxc_protocol.x), descriptors in the reply, by hand",
}
_READ_PERMISSIONS = ("getattr", "read")
_UUID = str(uuid.UUID(int=0x1234))
_SAMPLES = {
    "DomainRef": DomainRef("d", _UUID, 3),
    "NetworkRef": NetworkRef("n", _UUID),
    "NetworkPortRef": NetworkPortRef(NetworkRef("n", _UUID), _UUID),
    "PoolRef": PoolRef("p", _UUID),
    "VolumeRef": VolumeRef("p", "v", "/k"),
    "SecretRef": SecretRef(_UUID, 1, "usage"),
    "NodeDeviceRef": NodeDeviceRef("dev"),
    "InterfaceRef": InterfaceRef("eth0", "52:54:00:00:00:01"),
    "SnapshotRef": SnapshotRef(DomainRef("d", _UUID, 3), "s"),
    "CheckpointRef": CheckpointRef(DomainRef("d", _UUID, 3), "c"),
    "NWFilterRef": NWFilterRef("f", _UUID),
    "NWFilterBindingRef": NWFilterBindingRef("vnet0", "f"),
    "list[TypedParam]": [typed_param("weight", 2, 10), typed_param("on", 6, True), typed_param("s", 7, "x")],
    "str": "text",
    "str | None": None,
    "int": 1,
    "bool": True,
    "bytes": b"secret",
    "list[int]": [30, 48],  # send-key's key codes
    "list[str]": ["/", "/home"],  # fs-freeze's and fs-thaw's mount points
}


def spec_functions() -> dict[str, Callable[..., Any]]:
    out: dict[str, Callable[..., Any]] = {}
    for mod in (hypervisor, secondary):
        for name, fn in vars(mod).items():
            if inspect.isfunction(fn) and hasattr(fn, "pyvirt_spec"):
                out[name] = fn
    return out


def test_every_hook_is_carried_or_named_as_missing() -> None:
    specs = spec_functions()
    assert set(CALLS) <= set(specs)
    assert set(CALLS) <= set(API)
    assert set(specs) - set(CALLS) == set(NOT_CARRIED)


def test_every_row_names_real_call_procedures() -> None:
    for row in CALLS.values():
        for name in row.procedures:
            number = getattr(_remote, f"REMOTE_PROC_{name}")
            proc = _remote.PROCEDURES[number]
            assert not proc.is_message, row.hook
            assert proc.annotation("generate"), row.hook  # every real procedure is annotated


def _acl_kind(acls: list[str]) -> tuple[bool, bool]:
    """(needs more than read access unconditionally, needs more only for some flags or arguments)."""
    always = [a.split(":")[1] for a in acls if len(a.split(":")) == 2]
    sometimes = [a.split(":")[1] for a in acls if len(a.split(":")) > 2]
    write = any(p not in _READ_PERMISSIONS and not p.startswith("search_") for p in always)
    conditional = any(p not in _READ_PERMISSIONS for p in sometimes)
    return write, conditional


def test_read_only_access_in_the_api_table_matches_libvirts_acl_annotations() -> None:
    """A hook is a write in pyvirt.plugin.api exactly when libvirt's .x asks more than read access for it."""
    for row in CALLS.values():
        acls = [a for name in row.procedures for a in _remote.PROCEDURES[getattr(_remote, f"REMOTE_PROC_{name}")]
                .annotation("acl")]  # fmt: skip
        write, conditional = _acl_kind(acls)
        access = API[row.hook].access
        if row.hook in ACCESS_DIFFERS_FROM_ACL:  # libvirt's library and its daemon disagree (the reason is there)
            assert access in (Access.READ, Access.WRITE) and write is (access is Access.READ), (row.hook, acls)
            assert not conditional, (row.hook, acls)
        elif access is Access.WRITE:
            assert write, (row.hook, acls)
        elif access is Access.READ:
            assert not write and not conditional, (row.hook, acls)
        else:  # secure flag / agent source: read access, more only for those arguments
            assert not write and conditional, (row.hook, acls)


def test_argument_adapters_build_what_the_procedures_encode() -> None:
    specs = spec_functions()
    for row in CALLS.values():
        params = inspect.signature(specs[row.hook]).parameters.values()
        args = [_UUID if p.name == "uuid" else _SAMPLES[str(p.annotation)] for p in params]
        wire = row.args(*args)
        batch = wire if len(row.procedures) > 1 else [wire]
        assert len(batch) == len(row.procedures), row.hook
        for name, value in zip(row.procedures, batch, strict=True):
            proc = _remote.PROCEDURES[getattr(_remote, f"REMOTE_PROC_{name}")]
            if proc.pack_args is None:
                assert value is None, row.hook
            else:
                assert len(encode(proc.pack_args, value)) >= 4, row.hook


def test_uuid_and_domain_conversions_round_trip() -> None:
    raw = uuid_bytes(_UUID)
    assert len(raw) == 16 and uuid_text(raw) == _UUID
    dom = DomainRef("d", _UUID, 9)
    assert domain_ref(wire_domain(dom)) == dom


def test_typed_params_keep_their_type_on_the_wire() -> None:
    from pyvirt.remote.calls import typed_param_from_wire, typed_param_to_wire

    params = [typed_param("weight", 2, 10), typed_param("cap", 3, -1), typed_param("ratio", 5, 0.5),
              typed_param("on", 6, True), typed_param("name", 7, "x")]  # fmt: skip
    wire = [typed_param_to_wire(p) for p in params]
    assert wire[0] == ("weight", (2, 10)) and wire[3] == ("on", (6, 1))
    encoded = encode(
        _remote.pack_remote_domain_set_scheduler_parameters_flags_args, (wire_domain(DomainRef("d", _UUID, 1)), wire, 0)
    )
    decoded = decode(_remote.unpack_remote_domain_set_scheduler_parameters_flags_args, encoded)
    assert [typed_param_from_wire(w) for w in decoded[1]] == params


# Rows whose procedure is not the one of the API the table names, and why.
OTHER_PROCEDURE = {
    "nodedev_list_all": "the capability filter of the hook is NODE_LIST_DEVICES's argument",
}


def test_each_procedure_is_the_one_of_the_libvirt_api_the_api_table_names() -> None:
    """One table names the API (pyvirt.plugin.api), the other the procedure: they must be the same call,
    and a row with an older flag-less API (``plain_api``) sends that API's procedure when it has no flags.

    The names are compared through pyvirtd's ``api_name`` (procedure -> API), the one place that knows how
    libvirt spells the words its procedure names upper-case (DOMAIN_GET_IOTHREAD_INFO is
    virDomainGetIOThreadInfo)."""
    assert api_name("REMOTE_PROC_DOMAIN_LOOKUP_BY_UUID") == "virDomainLookupByUUID"
    assert api_name("REMOTE_PROC_DOMAIN_GET_IOTHREAD_INFO") == "virDomainGetIOThreadInfo"
    for row in CALLS.values():
        api = API[row.hook]
        if len(row.procedures) == 1 and row.hook not in OTHER_PROCEDURE:
            assert api_name(f"REMOTE_PROC_{row.procedures[0]}") == api.api, row.hook
        if api.plain_api is None:
            assert row.plain is None, row.hook
        else:
            assert row.plain is not None and api_name(f"REMOTE_PROC_{row.plain[0]}") == api.plain_api, row.hook


def test_plain_procedures_are_used_exactly_when_there_are_no_flags() -> None:
    specs = spec_functions()
    for row in CALLS.values():
        if row.plain is None:
            continue
        params = list(inspect.signature(specs[row.hook]).parameters.values())
        args = [_UUID if p.name == "uuid" else _SAMPLES[str(p.annotation)] for p in params]
        names = [p.name for p in params]
        # the arguments the older API lacks (flags, mostly; virStorageVolWipe has flags but no algorithm)
        for name in API[row.hook].plain_args:
            args[names.index(name)] = None if name == "xml" else 0
        plain_args = row.plain[1](*args)
        proc = _remote.PROCEDURES[getattr(_remote, f"REMOTE_PROC_{row.plain[0]}")]
        assert plain_args is not None and len(encode(proc.pack_args, plain_args)) >= 4, row.hook
        first = API[row.hook].plain_args[0]
        args[names.index(first)] = "<x/>" if first == "xml" else 1
        assert row.plain[1](*args) is None, row.hook
