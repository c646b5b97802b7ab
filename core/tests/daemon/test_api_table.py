"""The one table of the API, checked across its users: hook specs, client rows, daemon handlers, libvirt's .x.

``pyvirt.plugin.api`` says per hook what libvirt calls it and whether a
read-only connection may call it; ``pyvirt.remote.calls`` which procedures
carry it; the daemon serves those procedures and refuses writes on read-only
clients from libvirt's own ``@acl`` annotations. These tests fail when any of
them drifts from the others.
"""

from __future__ import annotations

import pytest

from pyvirt.daemon.procedures import HANDLERS
from pyvirt.daemon.remote_program import ACL_CONDITION_VALUES, ReadOnlyRule, api_name
from pyvirt.plugin.api import ACCESS_DIFFERS_FROM_ACL, API, Access
from pyvirt.remote import _remote
from pyvirt.remote.calls import CALLS

BY_NAME = {p.name: p for p in _remote.PROCEDURES.values()}


def _rule(proc_name: str) -> ReadOnlyRule:
    proc = BY_NAME[proc_name]
    base = proc_name.removeprefix("REMOTE_PROC_").lower()
    return ReadOnlyRule(proc, _remote.FIELDS.get(f"remote_{base}_args", ()))


def test_every_procedure_the_client_sends_is_served() -> None:
    missing = sorted(
        f"{row.hook}: {proc}"
        for row in CALLS.values()
        for proc in row.procedures
        if "REMOTE_PROC_" + proc not in HANDLERS
    )
    assert not missing


def test_every_hook_has_a_row_in_both_tables() -> None:
    client_only = sorted(set(CALLS) - set(API))
    assert not client_only
    # hooks with no procedure of their own: connection set-up, and the console (a stream procedure)
    without_rpc = sorted(set(API) - set(CALLS))
    assert set(without_rpc) <= {
        "connect_open",
        "connect_close",
        "connect_set_keep_alive",
        "domain_open_console",
        "domain_restore",
        "domain_screenshot",
        "volume_upload",
        "volume_download",
        "domain_migrate_prepare_tunnel",  # a write stream, by hand in pyvirt.remote.driver
        # libvirt-qemu's: over the wire qemu_protocol.x's program (0x20008087), by hand in pyvirt.remote.driver and
        # pyvirt.daemon.qemu_program (the call table is the remote program's)
        "domain_qemu_monitor_command",
        "domain_qemu_agent_command",
        # libvirt-lxc's: lxc_protocol.x's program (0x68000), by hand in pyvirt.remote.driver and pyvirt.daemon.lxc_program
        "domain_lxc_open_namespace",
    }


def test_daemon_handlers_name_real_procedures() -> None:
    unknown = sorted(name for name in HANDLERS if name not in BY_NAME)
    assert not unknown


@pytest.mark.parametrize("hook", sorted(h for h in CALLS if len(CALLS[h].procedures) == 1))
def test_read_only_rules_agree_with_libvirts_acl(hook: str) -> None:
    rule = _rule("REMOTE_PROC_" + CALLS[hook].procedures[0])
    access = API[hook].access
    if hook in ACCESS_DIFFERS_FROM_ACL:  # libvirt's library and its daemon disagree (the reason is there)
        assert access in (Access.READ, Access.WRITE) and rule.always_write is (access is Access.READ)
        assert not rule.conditions
    elif access is Access.WRITE:
        assert rule.always_write
    elif access is Access.READ:
        assert not rule.always_write and not rule.conditions
    elif access is Access.SECURE_FLAG:
        assert not rule.always_write
        assert [(c[1], c[2]) for c in rule.conditions] == [(1, False)]
    elif access is Access.GUEST_FLAG:
        assert not rule.always_write
        assert [(c[1], c[2]) for c in rule.conditions] == [(8, False)]  # VIR_DOMAIN_VCPU_GUEST
    else:
        assert access is Access.AGENT_SOURCE
        assert not rule.always_write and [(c[1], c[2]) for c in rule.conditions] == [(1, True)]


def test_acl_condition_names_are_all_known() -> None:
    """Every flag an otherwise read-level procedure's @acl names has its value in the daemon's table."""
    for proc in _remote.PROCEDURES.values():
        for acl in proc.annotation("acl"):
            parts = acl.split(":")
            if len(parts) > 2 and parts[1] not in ("read", "getattr") and not parts[1].startswith("search_"):
                names = parts[2] if len(parts) == 3 else parts[4]
                for name in names.split("|"):
                    bare = name.lstrip("!")
                    if bare.startswith(("VIR_DOMAIN_XML", "VIR_DOMAIN_SNAPSHOT_XML", "VIR_DOMAIN_INTERFACE")):
                        assert bare in ACL_CONDITION_VALUES, (proc.name, acl)


@pytest.mark.parametrize("hook", sorted(h for h in CALLS if len(CALLS[h].procedures) == 1))
def test_procedure_names_give_libvirts_api_names(hook: str) -> None:
    row = API[hook]
    assert api_name("REMOTE_PROC_" + CALLS[hook].procedures[0]) in {row.api, row.plain_api} | _ALSO.get(hook, set())


# Where the client carries a hook by a sibling of the API the table names (same semantics, other variant).
_ALSO = {
    "domain_undefine": {"virDomainUndefineFlags"},
    "domain_get_stats": {"virConnectGetAllDomainStats"},
    "domain_get_security_label": {"virDomainGetSecurityLabelList"},
    "snapshot_list_names": {"virDomainListAllSnapshots"},
    "nodedev_list_all": {"virNodeListDevices"},
}
