"""``create`` with other XML for a defined container runs that XML and keeps the definition, as libvirt 9.0.

lxcDomainCreateXMLWithFiles adds the XML as the live definition
(VIR_DOMAIN_OBJ_LIST_ADD_LIVE); virDomainObjAssignDef keeps the persistent one
as the next, so ``dumpxml --inactive`` is unchanged while it runs and the
container is its definition again once it stops. A create that fails gives the
definition back too.
"""

from __future__ import annotations

import pytest

import pyvirt
from pyvirt.flags import DomainXMLFlags

XML = """<domain type='lxc'><name>lxckeep</name><uuid>5f1e3a4c-2b7d-4e8a-9c61-0d2f4b6a8e20</uuid>{title}
  <memory unit='MiB'>64</memory><os><type>exe</type><init>/bin/sleep</init><initarg>1000</initarg></os>
  <devices><console type='pty'/></devices></domain>"""


def test_create_of_a_defined_container_keeps_its_definition(conn: pyvirt.Connection) -> None:
    dom = conn.define_domain(XML.format(title="<title>defined</title>"))
    try:
        conn.create_domain(XML.format(title="<title>created</title>"))
        assert dom.is_active()
        assert "<title>created</title>" in dom.xml_desc()
        assert "<title>defined</title>" in dom.xml_desc(DomainXMLFlags.INACTIVE)
        dom.destroy()
        assert "<title>defined</title>" in dom.xml_desc()
        # a create that fails as the container starts (a mount source that is not there) leaves the definition
        broken = XML.format(title="<title>broken</title>").replace(
            "</devices>",
            "<filesystem type='mount'><source dir='/nonexistent'/><target dir='/mnt'/></filesystem></devices>",
        )
        with pytest.raises(pyvirt.Error, match="filesystem source '/nonexistent' is not a directory"):
            conn.create_domain(broken)
        assert not dom.is_active() and dom.is_persistent()
        assert "<title>defined</title>" in dom.xml_desc() and "broken" not in dom.xml_desc(DomainXMLFlags.INACTIVE)
    finally:
        if dom.is_active():
            dom.destroy()
        dom.undefine()
