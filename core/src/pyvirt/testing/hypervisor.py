"""Contract tests for a hypervisor driver, run through the public API as pyvirsh and pyvirtd use it.

Subclass :class:`HypervisorDriverContract` in a test module and provide two
fixtures (a conftest or the subclass itself)::

    class TestMyDriver(HypervisorDriverContract):
        @pytest.fixture
        def contract_uri(self, tmp_path):
            return f"mydrv:///embed?root={tmp_path}"    # a fresh instance per test

        @pytest.fixture
        def contract_domain_xml(self):
            return lambda name: f"<domain type='mydrv'><name>{name}</name>...</domain>"

A read-only driver sets ``lifecycle = False``: the define, lifecycle and
event tests are then skipped, with that reason. Domains the tests define
are named ``contract-*`` and undefined again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import ClassVar

import pytest

import pyvirt
from pyvirt.errors import ErrorCode
from pyvirt.events import LifecycleEvent

__all__ = ["HypervisorDriverContract"]

# libvirt's virDomainState and virDomainEventType values
RUNNING, PAUSED, SHUTOFF = 1, 3, 5
DEFINED, UNDEFINED, STARTED, SUSPENDED, RESUMED, STOPPED = 0, 1, 2, 3, 4, 5
EVENT_WAIT_S = 10.0
# a call in the wrong state: libvirt's QEMU and LXC drivers say OPERATION_INVALID ("domain is not
# running"), its test driver INTERNAL_ERROR ("domain 'x' not running"); both are libvirt's behaviour
_WRONG_STATE = (ErrorCode.OPERATION_INVALID, ErrorCode.INTERNAL_ERROR)


def _alive(conn: pyvirt.Connection) -> bool:
    """Read afresh each time (a property mypy would otherwise take as fixed across ``close()``)."""
    return conn.is_alive


class HypervisorDriverContract:
    """What every hypervisor driver must do; fixtures ``contract_uri`` and ``contract_domain_xml`` come from you."""

    lifecycle: ClassVar[bool] = True
    """False for a read-only driver (no define, start or events)."""

    @pytest.fixture
    def contract_conn(self, contract_uri: str) -> Iterator[pyvirt.Connection]:
        with pyvirt.open(contract_uri) as conn:
            yield conn

    def _needs_lifecycle(self) -> None:
        if not self.lifecycle:
            pytest.skip("a read-only driver (lifecycle = False)")

    # ---------------------------------------------------------------- connection

    def test_open_reports_a_type_and_close_ends_the_connection(self, contract_uri: str) -> None:
        conn = pyvirt.open(contract_uri)
        kind = conn.get_type()
        assert isinstance(kind, str) and kind, "connect_get_type must name the hypervisor"
        assert _alive(conn)
        conn.close()
        assert not _alive(conn)
        with pytest.raises(pyvirt.Error) as err:
            conn.list_all_domains()
        assert err.value.code == ErrorCode.INVALID_CONN

    # ---------------------------------------------------------------- list and lookup

    def test_every_listed_domain_is_found_by_name_uuid_and_id(self, contract_conn: pyvirt.Connection) -> None:
        for dom in contract_conn.list_all_domains():
            assert contract_conn.lookup_domain_by_name(dom.name).uuid == dom.uuid
            assert contract_conn.lookup_domain_by_uuid(dom.uuid).name == dom.name
            if dom.is_active():
                assert contract_conn.lookup_domain_by_id(dom.id).name == dom.name

    def test_an_unknown_domain_is_no_domain(self, contract_conn: pyvirt.Connection) -> None:
        with pytest.raises(pyvirt.Error) as err:
            contract_conn.lookup_domain_by_name("contract-no-such-domain")
        assert err.value.code == ErrorCode.NO_DOMAIN
        assert isinstance(err.value, pyvirt.NotFoundError)
        with pytest.raises(pyvirt.Error) as err:
            contract_conn.lookup_domain_by_uuid("00000000-0000-4000-8000-00000000c0de")
        assert err.value.code == ErrorCode.NO_DOMAIN

    # ---------------------------------------------------------------- define, undefine, lifecycle

    def test_define_and_undefine_round_trip(
        self, contract_conn: pyvirt.Connection, contract_domain_xml: Callable[[str], str]
    ) -> None:
        self._needs_lifecycle()
        dom = contract_conn.define_domain(contract_domain_xml("contract-define"))
        try:
            assert dom.name == "contract-define" and dom.is_persistent() and not dom.is_active()
            assert dom.state()[0] == SHUTOFF
            assert "<name>contract-define</name>" in dom.xml_desc()
            assert "contract-define" in [d.name for d in contract_conn.list_all_domains()]
            again = contract_conn.define_domain(dom.xml_desc())  # redefining its own XML is accepted
            assert again.uuid == dom.uuid
        finally:
            dom.undefine()
        with pytest.raises(pyvirt.Error) as err:
            contract_conn.lookup_domain_by_name("contract-define")
        assert err.value.code == ErrorCode.NO_DOMAIN

    def test_the_lifecycle_state_machine(
        self, contract_conn: pyvirt.Connection, contract_domain_xml: Callable[[str], str]
    ) -> None:
        self._needs_lifecycle()
        dom = contract_conn.define_domain(contract_domain_xml("contract-life"))
        try:
            dom.create()
            assert dom.is_active() and dom.state()[0] == RUNNING and dom.id > 0
            with pytest.raises(pyvirt.Error) as err:
                dom.create()  # already running
            assert err.value.code in _WRONG_STATE
            assert dom.state()[0] == RUNNING
            dom.suspend()
            assert dom.state()[0] == PAUSED
            dom.resume()
            assert dom.state()[0] == RUNNING
            dom.destroy()
            assert not dom.is_active() and dom.state()[0] == SHUTOFF
            with pytest.raises(pyvirt.Error) as err:
                dom.suspend()  # not running
            assert err.value.code in _WRONG_STATE
        finally:
            if dom.is_active():
                dom.destroy()
            dom.undefine()

    def test_lifecycle_events_arrive_in_order(
        self, contract_conn: pyvirt.Connection, contract_domain_xml: Callable[[str], str]
    ) -> None:
        self._needs_lifecycle()
        seen: list[LifecycleEvent] = []
        callback = contract_conn.register_domain_event(seen.append)
        try:
            dom = contract_conn.define_domain(contract_domain_xml("contract-events"))
            dom.create()
            dom.destroy()
            dom.undefine()
            deadline = time.monotonic() + EVENT_WAIT_S
            while len([e for e in seen if e.domain.name == "contract-events"]) < 4 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            contract_conn.deregister_domain_event(callback)
        events = [e.event for e in seen if e.domain.name == "contract-events"]
        assert events == [DEFINED, STARTED, STOPPED, UNDEFINED], events

    # ---------------------------------------------------------------- read-only connections

    def test_a_read_only_connection_reads_and_is_refused_writes(
        self, contract_uri: str, contract_domain_xml: Callable[[str], str]
    ) -> None:
        with pyvirt.open_readonly(contract_uri) as conn:
            conn.list_all_domains()
            with pytest.raises(pyvirt.Error) as err:
                conn.define_domain(contract_domain_xml("contract-read-only"))
            assert err.value.code == ErrorCode.OPERATION_DENIED
            assert err.value.message == "operation forbidden: read only access prevents virDomainDefineXML"
