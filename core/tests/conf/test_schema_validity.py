"""Every XML document pyvirt emits validates against libvirt's own RNG schemas (Debian's libvirt0)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import pyvirt
from pyvirt.conf.schema import SCHEMA_DIR, validate

DATA = Path(__file__).resolve().parent.parent / "data"
pytestmark = pytest.mark.skipif(
    not os.path.exists(os.path.join(SCHEMA_DIR, "domain.rng")),
    reason=f"libvirt's RNG schemas are not installed in {SCHEMA_DIR} (Debian package libvirt0)",
)


@pytest.fixture
def conn() -> Iterator[pyvirt.Connection]:
    with pyvirt.open("test:///default") as c:
        yield c


def test_domains_validate(conn: pyvirt.Connection) -> None:
    x = conn.define_domain((DATA / "guest-x.xml").read_text())
    for dom in conn.list_all_domains():
        for flags in (0, 1, 2):
            validate(dom.xml_desc(flags), "domain")
    x.create()
    validate(x.xml_desc(), "domain")
    x.destroy()
    x.undefine()


def test_every_other_document_validates(conn: pyvirt.Connection) -> None:
    validate(conn.get_capabilities(), "capabilities")
    conn.define_network((DATA / "net-n2.xml").read_text())
    for net in conn.list_all_networks():
        validate(net.xml_desc(), "network")
    pool = conn.lookup_storage_pool_by_name("default-pool")
    validate(pool.xml_desc(), "pool")
    vol = pool.create_volume("<volume><name>v.qcow2</name><capacity unit='M'>10</capacity></volume>")
    validate(vol.xml_desc(), "volume")
    for dev in conn.list_all_node_devices():
        validate(dev.xml_desc(), "device")
    for iface in conn.list_all_interfaces():
        validate(iface.xml_desc(), "interface")
    sec = conn.define_secret(
        "<secret ephemeral='no' private='yes'><usage type='volume'><volume>/v</volume></usage></secret>"
    )
    validate(sec.xml_desc(), "secret")
    snap = conn.lookup_domain_by_name("test").snapshot_create("<domainsnapshot><name>s</name></domainsnapshot>")
    validate(snap.xml_desc(), "domainsnapshot")


def test_invalid_documents_are_reported_with_the_schema_error() -> None:
    with pytest.raises(pyvirt.XMLError) as e:
        validate("<domain type='bogus'><name>x</name><bogus/></domain>", "domain")
    assert e.value.code == pyvirt.ErrorCode.XML_INVALID_SCHEMA
    assert "Unable to validate doc against" in e.value.message
