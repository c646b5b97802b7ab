"""qemu.conf's ``keepalive_interval`` / ``keepalive_count`` on a peer-to-peer migration's connection.

libvirt sets them on the source's connection to the destination right after
opening it (qemuMigrationSrcPerformPeer2Peer's virConnectSetKeepAlive): they
decide how soon a silent destination fails the migration. A stopped daemon
(SIGSTOP: its socket still accepts, nothing answers) is the silent peer here;
the whole migration through a cut network is test_migration_network_cut.py.
"""

from __future__ import annotations

import os
import signal
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyvirt_qemu import driver as qemu_driver
from pyvirt_qemu.migration_jobs import Peer as _Peer
from pyvirt_qemu.migration_peer import open_destination as _open_destination

import pyvirt
from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.errors import ErrorCode


@pytest.fixture
def peer_daemon(tmp_path: Path) -> Iterator[PrivateDaemon]:
    with PrivateDaemon(tmp_path / "peer") as daemon:
        yield daemon


def _client(conn: pyvirt.Connection) -> Any:
    return conn.calls._single["connect_close"].__self__.client


def _state_of(conn: pyvirt.Connection, root: Path) -> Any:
    return next(st for st in qemu_driver._states.values() if str(root) in str(st.paths.config))


def test_qemu_conf_keepalive_reaches_the_driver_state(qemu_root: Path) -> None:
    (qemu_root / "etc").mkdir(parents=True)
    conf = qemu_root / "etc" / "qemu.conf"
    conf.write_text("keepalive_interval = 1\nkeepalive_count = 2\n")
    with pyvirt.open(f"qemu:///embed?root={qemu_root}") as conn:
        assert _state_of(conn, qemu_root).migration_keepalive == (1, 2)


def test_qemu_conf_keepalive_defaults_are_libvirts(qemu_root: Path) -> None:
    with pyvirt.open(f"qemu:///embed?root={qemu_root}") as conn:
        assert _state_of(conn, qemu_root).migration_keepalive == (5, 5)


def test_a_negative_keepalive_count_is_refused_with_its_line(qemu_root: Path) -> None:
    (qemu_root / "etc").mkdir(parents=True)
    (qemu_root / "etc" / "qemu.conf").write_text("keepalive_interval = -1\nkeepalive_count = -1\n")
    with pytest.raises(pyvirt.Error) as info:
        pyvirt.open(f"qemu:///embed?root={qemu_root}")
    assert info.value.code == ErrorCode.CONF_SYNTAX
    assert "qemu.conf:2: keepalive_count: " in info.value.message


def test_the_destination_connection_uses_qemu_conf_keepalive(peer_daemon: PrivateDaemon) -> None:
    """1 s x 1: a destination that stops answering is noticed in about 2 s (libvirt's default 5 x 5: 30 s)."""
    state = types.SimpleNamespace(migration_keepalive=(1, 1))
    dest = _open_destination(state, peer_daemon.uri())  # type: ignore[arg-type]
    peer = _Peer(peer_daemon.uri(), dest)
    assert peer_daemon.proc is not None
    try:
        assert _client(dest)._keepalive == (1.0, 1)
        assert not peer.lost.wait(1.5)  # an answering destination is not lost
        started = time.monotonic()
        os.kill(peer_daemon.proc.pid, signal.SIGSTOP)
        try:
            assert peer.lost.wait(10), "the stopped destination was never noticed"
        finally:
            os.kill(peer_daemon.proc.pid, signal.SIGCONT)
        took = time.monotonic() - started
        assert took < 6, f"noticed after {took:.1f} s: not the configured 1 s x 1"
        assert "keepalive timeout" in str(_client(dest).death)
    finally:
        peer.stop()
        dest.close()


def test_interval_minus_one_sends_no_pings(peer_daemon: PrivateDaemon) -> None:
    """qemu.conf's -1: the source does not ping the destination (its own pings are still answered)."""
    dest = _open_destination(types.SimpleNamespace(migration_keepalive=(-1, 5)), peer_daemon.uri())  # type: ignore[arg-type]
    try:
        assert _client(dest)._keepalive is None
        assert dest.list_all_domains()
    finally:
        dest.close()
