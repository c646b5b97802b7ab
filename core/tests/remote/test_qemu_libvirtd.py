"""The remote driver against Debian's libvirtd 9.0 with its QEMU driver (``qemu+unix:///system``).

The daemon runs privately (its config, state and cache on tmpfs); the test
defines and inspects guests without starting them, and compares what it
sees with libvirt's own client on the same daemon.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

import pyvirt
from pyvirt.errors import ErrorCode, ErrorDomain, NotFoundError

GUEST = """<domain type='qemu'>
  <name>{name}</name>
  <uuid>{uuid}</uuid>
  <memory unit='KiB'>65536</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices>
</domain>"""

ORACLE = """
import json, sys, libvirt
c = libvirt.open(sys.argv[1])
d = c.lookupByName(sys.argv[2])
print(json.dumps({'type': c.getType(), 'version': c.getVersion(), 'caps': c.getCapabilities(),
                  'xml': d.XMLDesc(0), 'state': d.state(), 'persistent': d.isPersistent()}))
"""


def test_define_and_inspect_a_guest_on_libvirtds_qemu_driver(
    libvirtd_factory: Callable[..., Any], system_libvirt: Callable[..., str]
) -> None:
    daemon = libvirtd_factory(driver="qemu")
    uri = daemon.uri(base="qemu+unix:///system")
    name, ident = "pyvirt-remote-qemu", str(uuid.uuid4())
    with pyvirt.open(uri) as conn:
        assert conn.get_type() == "QEMU"
        assert conn.list_all_domains() == []
        dom = conn.define_domain(GUEST.format(name=name, uuid=ident))
        oracle = json.loads(system_libvirt(ORACLE, uri, name))
        assert conn.get_version() == oracle["version"]
        assert conn.get_capabilities() == oracle["caps"]
        assert dom.xml_desc() == oracle["xml"]
        assert list(dom.state()) == oracle["state"]
        assert dom.is_persistent() and oracle["persistent"] == 1
        assert [d.name for d in conn.list_all_domains()] == [name]
        assert conn.lookup_domain_by_uuid(ident).name == name
        with pytest.raises(NotFoundError) as exc:
            conn.lookup_domain_by_name("nope")
        assert (exc.value.code, exc.value.domain) == (ErrorCode.NO_DOMAIN, ErrorDomain.QEMU)
        assert str(exc.value) == "Domain not found: no domain with matching name 'nope'"
        # contract 1.12's calls on libvirt's own driver: pinning kept in the definition, counters only while running
        dom.pin_emulator(b"\x01", 2)  # VIR_DOMAIN_AFFECT_CONFIG
        assert dom.emulator_pin_info(1, 2) == b"\x01"
        assert "<emulatorpin cpuset='0'/>" in dom.xml_desc()
        for call in (lambda: dom.block_stats_flags("vda"), lambda: dom.block_job_info("vda")):
            with pytest.raises(pyvirt.Error) as err:
                call()
            assert err.value.code == ErrorCode.OPERATION_INVALID and err.value.message.endswith("domain is not running")
        dom.undefine()
        assert conn.list_all_domains() == []
