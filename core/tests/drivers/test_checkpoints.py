"""Checkpoints on test:///default: the rules, relations and documents of libvirt's test driver."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

import pyvirt
from pyvirt.conf.schema import SCHEMA_DIR
from pyvirt.errors import (
    ErrorCode,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    NotSupportedError,
    OperationFailedError,
    OperationInvalidError,
    XMLError,
)

GUEST = """<domain type='test'><name>two-disks</name><memory>65536</memory><os><type>hvm</type></os>
<devices>
  <disk type='file' device='disk'><source file='/a.img'/><target dev='vda' bus='virtio'/></disk>
  <disk type='file' device='disk'><source file='/b.img'/><target dev='vdb' bus='virtio'/><readonly/></disk>
  <disk type='file' device='cdrom'><target dev='vdc' bus='virtio'/></disk>
  <disk type='file' device='disk'><source file='/d.img'/><target dev='vdd' bus='virtio'/></disk>
</devices></domain>"""


@pytest.fixture
def conn() -> Iterator[pyvirt.Connection]:
    with pyvirt.open("test:///default") as c:
        yield c


def _doc(text: str) -> etree._Element:
    return etree.fromstring(text.encode())


def _create(dom: pyvirt.Domain, name: str, body: str = "") -> str:
    return dom.checkpoint_create(f"<domaincheckpoint><name>{name}</name>{body}</domaincheckpoint>").name


def test_a_checkpoint_with_nothing_given_covers_every_disk(conn: pyvirt.Connection) -> None:
    dom = conn.lookup_domain_by_name("test")
    before = int(time.time())
    chk = dom.checkpoint_create("<domaincheckpoint/>")
    doc = _doc(chk.xml_desc())
    created = int(doc.findtext("creationTime") or 0)
    assert before <= created <= int(time.time()) + 1
    assert chk.name == str(created)  # libvirt names it after its creation time
    assert [(d.get("name"), d.get("checkpoint"), d.get("bitmap")) for d in doc.iterfind("disks/disk")] == [
        ("vda", "bitmap", chk.name)
    ]
    copy = doc.find("domain")
    assert copy is not None and copy.findtext("name") == "test" and copy.get("id") is None  # the inactive form
    assert _doc(chk.xml_desc(2)).find("domain") is None  # NO_DOMAIN
    assert [c.name for c in dom.list_checkpoints()] == [chk.name]
    assert dom.checkpoint_lookup_by_name(chk.name) == chk


def test_disks_are_aligned_as_libvirt_aligns_them(conn: pyvirt.Connection) -> None:
    dom = conn.define_domain(GUEST)
    dom.create()
    everything = _doc(dom.checkpoint_create("<domaincheckpoint><name>all</name></domaincheckpoint>").xml_desc())
    # without <disks>: a bitmap on every writable disk; read-only and empty ones get none
    assert [(d.get("name"), d.get("checkpoint")) for d in everything.iterfind("disks/disk")] == [
        ("vda", "bitmap"), ("vdb", "no"), ("vdc", "no"), ("vdd", "bitmap")
    ]  # fmt: skip
    # with <disks>: the listed ones (named by target or source path), the others not at all
    some = _create(dom, "some", "<disks><disk name='/d.img' bitmap='mine'/></disks>")
    listed = _doc(dom.checkpoint_lookup_by_name(some).xml_desc()).findall("disks/disk")
    assert [(d.get("name"), d.get("checkpoint"), d.get("bitmap")) for d in listed] == [
        ("vda", "no", None), ("vdb", "no", None), ("vdc", "no", None), ("vdd", "bitmap", "mine")
    ]  # fmt: skip
    refused = [
        ("<disk name='vdz'/>", "no disk named 'vdz'"),
        ("<disk name='vda'/><disk name='/a.img'/>", "disk '/a.img' specified twice"),
        ("<disk name='vdb'/>", "disk 'vdb' is empty or readonly"),
        ("<disk name='vdc' checkpoint='bitmap'/>", "disk 'vdc' is empty or readonly"),
        ("".join(f"<disk name='vd{c}'/>" for c in "efghi"), "too many disk checkpoint requests for domain"),
    ]
    for disks, message in refused:
        with pytest.raises(NotSupportedError) as info:
            _create(dom, "bad", f"<disks>{disks}</disks>")
        assert (info.value.code, info.value.message) == (
            ErrorCode.CONFIG_UNSUPPORTED, f"unsupported configuration: {message}"
        )  # fmt: skip
    assert [c.name for c in dom.list_checkpoints()] == ["all", "some"]  # a refused one leaves nothing
    dom.destroy()
    dom.undefine()


def test_only_running_domains_without_snapshots_get_checkpoints(conn: pyvirt.Connection) -> None:
    dom = conn.lookup_domain_by_name("test")
    snap = dom.snapshot_create("<domainsnapshot><name>s</name></domainsnapshot>")
    with pytest.raises(NotSupportedError, match="cannot create checkpoint while snapshot exists") as info:
        dom.checkpoint_create("<domaincheckpoint/>")
    assert info.value.code == ErrorCode.OPERATION_UNSUPPORTED
    snap.delete()
    _create(dom, "c1")
    with pytest.raises(NotSupportedError, match="cannot create snapshot while checkpoint exists"):
        dom.snapshot_create("<domainsnapshot/>")
    with pytest.raises(OperationFailedError, match="domain moment c1 already exists"):
        _create(dom, "c1")
    dom.destroy()
    with pytest.raises(NotSupportedError, match="cannot create checkpoint for inactive domain"):
        _create(dom, "c2")
    # the checkpoints stay with the stopped domain; asking their sizes needs it running
    assert [c.name for c in dom.list_checkpoints()] == ["c1"]
    with pytest.raises(OperationInvalidError, match="domain is not running"):
        dom.checkpoint_lookup_by_name("c1").xml_desc(4)


def test_parents_current_and_list_filters(conn: pyvirt.Connection) -> None:
    dom = conn.lookup_domain_by_name("test")
    for name in ("a", "b", "c"):
        _create(dom, name)
    a, b, c = (dom.checkpoint_lookup_by_name(n) for n in "abc")
    assert (b.parent().name, c.parent().name) == ("a", "b")
    with pytest.raises(NotFoundError) as info:
        a.parent()
    assert (info.value.code, info.value.message) == (
        ErrorCode.NO_DOMAIN_CHECKPOINT, "Domain checkpoint not found: checkpoint 'a' does not have a parent"
    )  # fmt: skip

    def names(items: list[pyvirt.domain.Checkpoint]) -> list[str]:
        return [i.name for i in items]

    assert names(dom.list_checkpoints(1)) == ["a"]  # ROOTS
    assert names(dom.list_checkpoints(4)) == ["c"]  # LEAVES
    assert names(dom.list_checkpoints(8)) == ["a", "b"]  # NO_LEAVES
    assert names(dom.list_checkpoints(4 | 8)) == ["a", "b", "c"]
    assert names(a.list_children()) == ["b"]
    assert names(a.list_children(1)) == ["b", "c"]  # DESCENDANTS
    assert names(c.list_children()) == []
    with pytest.raises(
        InvalidArgumentError, match=r"unsupported flags \(0x10\) in function testDomainListAllCheckpoints"
    ):
        dom.list_checkpoints(16)


def test_deleting_reparents_or_takes_the_children(conn: pyvirt.Connection) -> None:
    dom = conn.lookup_domain_by_name("test")
    for name in ("a", "b", "c"):
        _create(dom, name)
    dom.checkpoint_lookup_by_name("b").delete()
    assert dom.checkpoint_lookup_by_name("c").parent().name == "a"
    _create(dom, "d")  # made after the current one, c
    assert dom.checkpoint_lookup_by_name("d").parent().name == "c"
    dom.checkpoint_lookup_by_name("a").delete(4)  # CHILDREN_ONLY
    assert [c.name for c in dom.list_checkpoints()] == ["a"]
    _create(dom, "e")  # the current checkpoint went back to a with its children
    assert dom.checkpoint_lookup_by_name("e").parent().name == "a"
    dom.checkpoint_lookup_by_name("a").delete(1)  # CHILDREN: a and everything after it
    assert dom.list_checkpoints() == []
    _create(dom, "f")
    with pytest.raises(NotFoundError, match="does not have a parent"):
        dom.checkpoint_lookup_by_name("f").parent()
    with pytest.raises(NotFoundError, match="no domain checkpoint with matching name 'gone'"):
        dom.checkpoint_lookup_by_name("gone")


def test_redefining_restores_a_checkpoint_from_its_own_document(conn: pyvirt.Connection) -> None:
    dom = conn.lookup_domain_by_name("test")
    _create(dom, "a", "<description>first</description>")
    _create(dom, "b")
    saved = {n: dom.checkpoint_lookup_by_name(n).xml_desc() for n in ("a", "b")}
    dom.checkpoint_lookup_by_name("a").delete(1)
    for name in ("a", "b"):
        dom.checkpoint_create(saved[name], 1)  # REDEFINE
    assert {n: dom.checkpoint_lookup_by_name(n).xml_desc() for n in ("a", "b")} == saved
    _create(dom, "c")
    assert dom.checkpoint_lookup_by_name("c").parent().name == "b"  # the redefined b became current
    refused = [
        ("<domaincheckpoint><name>x</name></domaincheckpoint>", InternalError,
         "internal error: missing creationTime from existing checkpoint"),
        ("<domaincheckpoint><name>x</name><creationTime>5</creationTime><parent><name>zz</name></parent>"
         "</domaincheckpoint>", InvalidArgumentError, "invalid argument: parent zz for moment x not found"),
        ("<domaincheckpoint><name>a</name><creationTime>5</creationTime><parent><name>c</name></parent>"
         "</domaincheckpoint>", InvalidArgumentError, "invalid argument: parent b would create cycle to a"),
        ("<domaincheckpoint><name>x</name><creationTime>5</creationTime><parent><name>x</name></parent>"
         "</domaincheckpoint>", InvalidArgumentError, "invalid argument: cannot set moment x as its own parent"),
        (saved["a"].replace("6695eb01-f6a4-8304-79aa-97f2502e193f", "6695eb01-f6a4-8304-79aa-97f2502e1940"),
         InvalidArgumentError,
         "invalid argument: definition for checkpoint a must use uuid 6695eb01-f6a4-8304-79aa-97f2502e193f"),
    ]  # fmt: skip
    for xml, error, message in refused:
        with pytest.raises(error) as info:
            dom.checkpoint_create(xml, 1)
        assert info.value.message == message
    assert [c.name for c in dom.list_checkpoints()] == ["a", "b", "c"]


def test_documents_libvirts_schema_refuses_are_refused_in_its_words(conn: pyvirt.Connection) -> None:
    dom = conn.lookup_domain_by_name("test")
    for xml, complaint in (
        ("<domaincheckpoint><name>.hidden</name></domaincheckpoint>", "Extra element name in interleave"),
        ("<domaincheckpoint><name>a/b</name></domaincheckpoint>", "Extra element name in interleave"),
        ("<domaincheckpoint><disks><disk name='vda' checkpoint='maybe'/></disks></domaincheckpoint>", ""),
        ("<domaincheckpoint><memory snapshot='no'/></domaincheckpoint>", "has extra content: memory"),
    ):
        with pytest.raises(XMLError) as info:
            dom.checkpoint_create(xml)
        assert info.value.code == ErrorCode.XML_INVALID_SCHEMA
        assert info.value.message.startswith(
            "XML document failed to validate against schema: Unable to validate doc against "
        )
        assert complaint in info.value.message
    with pytest.raises(XMLError, match="expecting root element of 'domaincheckpoint'"):
        dom.checkpoint_create("<domainsnapshot/>")
    assert dom.list_checkpoints() == []


def test_every_document_validates_against_libvirts_schema(conn: pyvirt.Connection) -> None:
    schema_path = Path(SCHEMA_DIR) / "domaincheckpoint.rng"
    if not schema_path.exists():
        pytest.skip("libvirt's RNG schemas (Debian's libvirt0) are not installed")
    schema = etree.RelaxNG(etree.parse(str(schema_path)))
    dom = conn.define_domain(GUEST)
    dom.create()
    _create(dom, "a", "<description>x &amp; y</description>")
    _create(dom, "b", "<disks><disk name='vdd' bitmap='mine'/></disks>")
    for chk in dom.list_checkpoints():
        for flags in (0, 1, 2, 4):
            doc = _doc(chk.xml_desc(flags))
            assert schema.validate(doc), (chk.name, flags, schema.error_log)
    dom.destroy()
    dom.undefine(2)
