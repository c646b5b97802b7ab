"""The same client against pyvirtd: pyvirt's own daemon and pyvirt's own client agree on the wire too."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import pyvirt
from pyvirt.errors import ErrorCode, NotFoundError
from pyvirt.events import DomainEvent, LifecycleEvent

instance = pytest.importorskip("pyvirt.daemon.instance", reason="pyvirtd (pyvirt.daemon) is not in this tree")


@pytest.fixture(scope="module")
def pyvirtd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    with instance.PrivateDaemon(tmp_path_factory.mktemp("pyvirtd")) as daemon:
        yield daemon


def test_lifecycle_events_and_errors_through_pyvirtd(pyvirtd: object, tmp_path: Path) -> None:
    uri = pyvirtd.uri()  # type: ignore[attr-defined]
    seen: list[LifecycleEvent] = []
    done = threading.Event()

    def on_event(ev: LifecycleEvent) -> None:
        seen.append(ev)
        if ev.event == DomainEvent.UNDEFINED:
            done.set()

    with pyvirt.open(uri) as conn, pyvirt.open(uri) as other:
        assert conn.get_type() == "TEST"
        assert [d.name for d in conn.list_all_domains()] == ["test"]
        assert conn.lookup_domain_by_name("test").info().state == 1
        conn.register_domain_event(on_event)
        dom = other.define_domain(
            "<domain type='test'><name>via-pyvirtd</name><memory>1024</memory><os><type>hvm</type></os></domain>"
        )
        dom.create()
        dom.suspend()
        dom.resume()
        dom.destroy()
        dom.undefine()
        assert done.wait(10), seen
        assert [e.event for e in seen] == [
            DomainEvent.DEFINED, DomainEvent.STARTED, DomainEvent.SUSPENDED, DomainEvent.RESUMED,
            DomainEvent.STOPPED, DomainEvent.UNDEFINED,
        ]  # fmt: skip
        with pytest.raises(NotFoundError) as exc:
            conn.lookup_domain_by_name("via-pyvirtd")
        assert exc.value.code == ErrorCode.NO_DOMAIN
    with pyvirt.open_readonly(pyvirtd.uri(read_only=True)) as ro:  # type: ignore[attr-defined]
        with pytest.raises(pyvirt.Error) as exc2:
            ro.lookup_domain_by_name("test").destroy()
        assert exc2.value.code == ErrorCode.OPERATION_DENIED
