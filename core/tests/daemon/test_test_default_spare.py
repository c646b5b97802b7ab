"""CONNECT_OPEN in pyvirtd: test:///default built ahead from its fixture, installed drivers found once.

libvirt's test driver shares test:///default's state between the connections
open at one time and drops it with the last one, so the next client starts
from the fixture again. pyvirtd builds that next connection while nobody uses
the URI (a "spare"), so a tool that opens, asks once and closes (virsh list)
no longer waits for the driver to be built and bound inside its CONNECT_OPEN.
These tests hold both halves: nobody ever sees another client's changes
through a spare, and the open after a close takes the spare instead of
building one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import pyvirt
import pyvirt.daemon.state as daemon_state
from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.daemon.sockets import daemon_paths
from pyvirt.daemon.state import TEST_DEFAULT, DaemonState

GUEST = "<domain type='test'><name>{}</name><memory>1024</memory><os><type>hvm</type></os></domain>"


def names(conn: pyvirt.Connection) -> set[str]:
    return {dom.name for dom in conn.list_all_domains()}


@pytest.fixture
def state(tmp_path: Path) -> Iterator[DaemonState]:
    st = DaemonState(daemon_paths(root=str(tmp_path)))
    yield st
    st.cleanup()


def wait_spare(st: DaemonState) -> None:
    thread = st._spare_thread
    if thread is not None:
        thread.join(30)


def test_the_open_after_the_last_close_takes_the_spare_built_from_the_fixture(
    state: DaemonState, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = state.acquire(TEST_DEFAULT)
    first.conn.define_domain(GUEST.format("left-behind"))
    assert "left-behind" in names(first.conn)
    state.release(first)
    wait_spare(state)

    built: list[str] = []
    real_open = daemon_state._open_local
    monkeypatch.setattr(daemon_state, "_open_local", lambda uri: built.append(uri) or real_open(uri))
    second = state.acquire(TEST_DEFAULT)
    assert built == [], "the client's CONNECT_OPEN built test:///default itself instead of taking the spare"
    assert names(second.conn) == {"test"}, "a new client saw what the previous one defined"
    state.release(second)


def test_clients_open_together_share_the_state_and_the_next_one_starts_afresh(state: DaemonState) -> None:
    a = state.acquire(TEST_DEFAULT)
    b = state.acquire(TEST_DEFAULT)
    a.conn.define_domain(GUEST.format("shared"))
    state.release(a)
    assert "shared" in names(b.conn)  # b is still open: the state lives on, as in libvirt
    state.release(b)
    c = state.acquire(TEST_DEFAULT)
    assert names(c.conn) == {"test"}
    state.release(c)


def test_no_client_ever_sees_another_ones_changes_while_spares_are_built(state: DaemonState) -> None:
    """Clients opening, changing and closing from several threads at once, with spares built between them."""
    seen: list[set[str]] = []
    failures: list[BaseException] = []

    def client(n: int) -> None:
        try:
            for i in range(15):
                shared = state.acquire(TEST_DEFAULT)
                try:
                    seen.append(names(shared.conn))
                    shared.conn.define_domain(GUEST.format(f"c{n}-{i}"))
                finally:
                    state.release(shared)
        except BaseException as e:  # reported below, with the thread's own traceback
            failures.append(e)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, failures
    wait_spare(state)
    last = state.acquire(TEST_DEFAULT)
    assert names(last.conn) == {"test"}, "the spare carried a closed client's domains"
    state.release(last)
    # whatever a client saw at its open was the fixture plus domains of clients open at the same time
    assert all("test" in s for s in seen)


def test_a_daemon_shutdown_closes_the_spare(tmp_path: Path) -> None:
    st = DaemonState(daemon_paths(root=str(tmp_path)))
    st.prepare_spare()
    wait_spare(st)
    spare = st._spare
    assert spare is not None
    st.cleanup()
    assert st._spare is None
    with pytest.raises(pyvirt.Error):
        spare.conn.list_all_domains()  # closed


def test_each_virsh_like_client_of_the_daemon_starts_from_the_fixture(pyvirtd: PrivateDaemon) -> None:
    uri = pyvirtd.uri("test:///default")
    for round_ in range(3):
        with pyvirt.open(uri) as conn:
            assert names(conn) == {"test"}, f"round {round_}: a client saw the previous client's domain"
            conn.define_domain(GUEST.format(f"round{round_}"))


def test_a_connect_open_does_not_read_the_entry_point_index_again(
    state: DaemonState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The installed drivers are found once per daemon, as libvirtd loads its drivers once: every CONNECT_OPEN
    used to stat each sys.path entry and parse the index file, twice."""
    asked: list[str] = []
    real = daemon_state.entry_point_value
    monkeypatch.setattr(daemon_state, "entry_point_value", lambda group, name: asked.append(name) or real(group, name))
    first = state.local_uri(None)
    for _ in range(3):
        assert state.local_uri(None) == first
        assert state.local_uri("test:///default") == ("test:///default", "test:///default")
    assert len(asked) == len(set(asked)), f"drivers looked up again for each open: {asked}"
    with pytest.raises(pyvirt.Error, match="no connection driver available"):
        state.local_uri("nosuchdriver:///system")
