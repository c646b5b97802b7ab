"""The ``<domaincheckpoint>`` model: what a new checkpoint takes from its document, what a redefinition keeps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pyvirt.conf import checkpoint as conf_checkpoint
from pyvirt.conf.checkpoint import Checkpoint, CheckpointDisk, format_checkpoint, parse_checkpoint
from pyvirt.errors import ErrorCode, InternalError, XMLError

FULL = """<domaincheckpoint>
  <name>c2</name>
  <description>nightly</description>
  <parent>
    <name>c1</name>
  </parent>
  <creationTime>1700000000</creationTime>
  <disks>
    <disk name='vda' checkpoint='bitmap' bitmap='c2'/>
    <disk name='vdb' checkpoint='no'/>
  </disks>
  <domain type='test'>
    <name>test</name>
  </domain>
</domaincheckpoint>
"""


@pytest.fixture
def without_schema(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As on a host without Debian's libvirt0: the schema's extra rules are checked by the model itself."""
    monkeypatch.setattr(conf_checkpoint, "_SCHEMA", "/nonexistent/domaincheckpoint.rng")
    conf_checkpoint._relaxng.cache_clear()
    yield
    conf_checkpoint._relaxng.cache_clear()


def test_a_new_checkpoint_takes_only_name_description_and_disks() -> None:
    chk = parse_checkpoint(FULL)
    assert (chk.name, chk.description, chk.parent, chk.creation_time, chk.domain_xml) == (
        "c2", "nightly", None, None, None
    )  # fmt: skip
    assert chk.disks == [CheckpointDisk(name="vda", checkpoint="bitmap", bitmap="c2"),
                         CheckpointDisk(name="vdb", checkpoint="no")]  # fmt: skip


def test_a_redefinition_round_trips_its_document() -> None:
    chk = parse_checkpoint(FULL, redefine=True)
    assert (chk.parent, chk.creation_time) == ("c1", 1700000000)
    assert chk.domain_xml is not None and chk.domain_xml.startswith('<domain type="test">')
    chk.domain_xml = "<domain type='test'>\n  <name>test</name>\n</domain>"
    assert format_checkpoint(chk) == FULL
    with pytest.raises(XMLError, match="a redefined checkpoint must have a name"):
        parse_checkpoint("<domaincheckpoint><creationTime>1</creationTime></domaincheckpoint>", redefine=True)
    with pytest.raises(InternalError, match="missing creationTime from existing checkpoint"):
        parse_checkpoint("<domaincheckpoint><name>x</name></domaincheckpoint>", redefine=True)


def test_an_empty_document_formats_as_libvirt_writes_it() -> None:
    assert format_checkpoint(Checkpoint(name="c")) == "<domaincheckpoint>\n  <name>c</name>\n</domaincheckpoint>\n"
    copy = Checkpoint(domain_xml="<domain type='test'/>")
    assert format_checkpoint(copy) == "<domaincheckpoint>\n  <domain type='test'/>\n</domaincheckpoint>\n"


@pytest.mark.usefixtures("without_schema")
def test_schema_rules_hold_without_the_schema() -> None:
    for xml, words in (
        ("<domaincheckpoint><name>.x</name></domaincheckpoint>", "invalid checkpoint name '.x'"),
        ("<domaincheckpoint><name>a\nb</name></domaincheckpoint>", "invalid checkpoint name"),
        ("<domaincheckpoint><disks><disk name='vda' checkpoint='maybe'/></disks></domaincheckpoint>",
         "invalid checkpoint type 'maybe' for disk 'vda'"),
        ("<domaincheckpoint><disks><disk name='vda' checkpoint='no' bitmap='b'/></disks></domaincheckpoint>",
         "disk 'vda' with checkpoint='no' cannot have a bitmap"),
        ("<domaincheckpoint><disks><disk checkpoint='no'/></disks></domaincheckpoint>",
         "Element disk failed to validate attributes"),
        ("<domaincheckpoint><disks/></domaincheckpoint>", "Expecting an element disk, got nothing"),
    ):  # fmt: skip
        with pytest.raises(XMLError) as info:
            parse_checkpoint(xml)
        assert info.value.code == ErrorCode.XML_INVALID_SCHEMA and words in info.value.message, xml
    assert parse_checkpoint("<domaincheckpoint><name>ok-1.x</name></domaincheckpoint>").name == "ok-1.x"
