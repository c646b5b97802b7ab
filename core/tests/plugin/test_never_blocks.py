"""A driver's declared non-blocking hooks: honoured for the hooks it answers alone, never through a wrapper.

pyvirtd answers a call of such a hook on its event loop (``DriverCalls.never_blocks``);
a wrapper (audit, a user hook script, metrics) may wait for anything, so a hook it
wraps goes to a worker again, whatever the driver says.
"""

from __future__ import annotations

from collections.abc import Generator

from pyvirt.plugin import hookimpl
from pyvirt.plugin.facade import DriverCalls
from pyvirt.plugin.records import DomainRef
from pyvirt.plugin.registry import bind_connection


class _Conn:
    pyvirt_never_blocks = frozenset({"domain_lookup_by_name", "domain_lookup_by_uuid"})

    @hookimpl
    def domain_lookup_by_name(self, name: str) -> DomainRef:
        return DomainRef(name, "00000000-0000-0000-0000-000000000001", -1)

    @hookimpl
    def domain_get_xml_desc(self, dom: DomainRef, flags: int) -> str:
        return "<domain/>"


class _Audit:
    @hookimpl(wrapper=True)
    def domain_lookup_by_name(self, name: str) -> Generator[None, DomainRef, DomainRef]:
        return (yield)


def test_declared_hooks_the_driver_implements() -> None:
    calls = DriverCalls(bind_connection(_Conn(), "t"))
    assert calls.never_blocks("domain_lookup_by_name")
    assert not calls.never_blocks("domain_get_xml_desc"), "a hook the driver did not declare"
    assert not calls.never_blocks("domain_lookup_by_uuid"), "declared, but the driver does not implement it"
    assert calls.domain_lookup_by_name(name="g").name == "g"


def test_a_wrapped_hook_may_block() -> None:
    pm = bind_connection(_Conn(), "t")
    pm.register(_Audit(), name="audit")
    calls = DriverCalls(pm)
    assert not calls.never_blocks("domain_lookup_by_name")
    assert calls.domain_lookup_by_name(name="g").name == "g"


def test_a_driver_that_declares_nothing() -> None:
    class Plain:
        @hookimpl
        def domain_lookup_by_name(self, name: str) -> DomainRef:
            return DomainRef(name, "00000000-0000-0000-0000-000000000001", -1)

    assert not DriverCalls(bind_connection(Plain(), "t")).never_blocks("domain_lookup_by_name")
