"""The few fields pyvirsh's listings read of a driver's XML, read as XPath's ``string()`` reads them."""

from __future__ import annotations

import pytest

from pyvirt.cli.xml_fields import read_fields
from pyvirt.errors import ErrorCode, XMLError

SNAPSHOT = """<domainsnapshot>
  <name>s2</name>
  <description>a <b>bold</b> one</description>
  <state>running</state>
  <parent>
    <name>s1</name>
  </parent>
  <creationTime>1700000000</creationTime>
  <memory snapshot='internal'/>
  <disks>
    <disk name='vda' snapshot='internal'/>
    <disk name='vdb' snapshot='external'/>
  </disks>
  <domain type='test'><name>test</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid></domain>
</domainsnapshot>"""


def test_elements_by_path_below_the_root_with_all_their_text() -> None:
    fields = read_fields(SNAPSHOT, ("name", "parent/name", "creationTime", "description", "state"))
    # root/name only: the <name> of the <domain> copy inside is another path
    assert fields == {"name": ["s2"], "parent/name": ["s1"], "creationTime": ["1700000000"],
                      "description": ["a bold one"], "state": ["running"]}  # fmt: skip


def test_attributes_every_match_in_document_order() -> None:
    fields = read_fields(SNAPSHOT, ("memory@snapshot", "disks/disk@snapshot", "disks/disk@name", "domain@type"))
    assert fields == {"memory@snapshot": ["internal"], "disks/disk@snapshot": ["internal", "external"],
                      "disks/disk@name": ["vda", "vdb"], "domain@type": ["test"]}  # fmt: skip


def test_a_path_that_matches_nothing_is_an_empty_list() -> None:
    assert read_fields("<domainsnapshot><name>x</name></domainsnapshot>", ("parent/name", "memory@file")) == {
        "parent/name": [],
        "memory@file": [],
    }


def test_a_document_type_declaration_is_refused_so_no_entity_expands() -> None:
    laughs = '<!DOCTYPE s [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><s><name>&b;</name></s>'
    with pytest.raises(XMLError) as err:
        read_fields(laughs, ("name",))
    assert err.value.code == ErrorCode.XML_ERROR
    assert "document type declarations are not accepted" in str(err.value)


def test_a_broken_document_is_libvirts_xml_error() -> None:
    with pytest.raises(XMLError) as err:
        read_fields("<domainsnapshot><name>x</domainsnapshot>", ("name",))
    assert err.value.code == ErrorCode.XML_ERROR
    assert "mismatched tag" in str(err.value)
