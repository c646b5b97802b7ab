"""The test driver's metadata-change event through the public API, in process (libvirt's testDomainSetMetadata).

Every successful ``set_metadata`` raises one event with the metadata type and
the namespace as the caller gave it; a failed one raises none. The same
events through pyvirtd and libvirtd are compared in
core/tests/remote/test_metadata_event_libvirtd.py.
"""

from __future__ import annotations

import pytest

import pyvirt
from pyvirt.events import MetadataChangeEvent


def test_set_metadata_raises_metadata_change() -> None:
    with pyvirt.open("test:///default") as conn:
        dom = conn.lookup_domain_by_name("test")
        got: list[MetadataChangeEvent] = []
        cid = conn.register_event("metadata-change", got.append, dom.uuid)
        others: list[MetadataChangeEvent] = []
        conn.register_event("metadata-change", others.append, "00000000-0000-0000-0000-000000000000")
        dom.set_metadata(1, "a title", None, None, 0)  # VIR_DOMAIN_METADATA_TITLE
        dom.set_metadata(2, "<x/>", "px", "http://pyvirt.org/x", 0)  # ELEMENT
        dom.set_metadata(0, None, None, None, 0)  # DESCRIPTION, removed
        with pytest.raises(pyvirt.Error):
            dom.set_metadata(5, "x", None, None, 0)  # no such metadata type: no event
        assert [(ev.domain.name, ev.type, ev.nsuri) for ev in got] == [
            ("test", 1, None), ("test", 2, "http://pyvirt.org/x"), ("test", 0, None)]  # fmt: skip
        assert all(isinstance(ev, MetadataChangeEvent) for ev in got) and others == []
        conn.deregister_event(cid)
        dom.set_metadata(1, "again", None, None, 0)
        assert len(got) == 3
