"""Keepalive across the network: a host whose link goes down is noticed within interval x count, on both sides.

libvirt's numbers are 5 s x 5; the test uses 1 s x 2 on both ends so that
the whole story takes seconds: the client pings a silent server and gives
up after ``count`` unanswered pings, and the server (``keepalive_interval``
and ``keepalive_count`` in pyvirtd.conf) drops the client the same way.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hosts_harness import TestHost, TestNetwork
from hosts_pki import TestCA

import pyvirt
from pyvirt.connection import Connection
from pyvirt.errors import Error
from pyvirt.remote.client import RemoteClient

_INTERVAL, _COUNT = 1, 2
_SLACK = 2.5  # the client's tick (1 s), scheduling on a shared 2-vCPU machine


@pytest.fixture
def host_b(network: TestNetwork, ca: TestCA) -> Iterator[TestHost]:
    b = network.hosts["b"]
    ca.server(b.root, [b.address])
    b.start_pyvirtd(f"keepalive_interval = {_INTERVAL}\nkeepalive_count = {_COUNT}\n", "--listen")
    yield b
    b.link(True)
    b.close_daemon()


def _client(conn: Connection) -> RemoteClient:
    """The RPC client under a remote connection (the keepalive settings are the client's, as in virsh -k/-K)."""
    remote = conn.calls._single["connect_close"].__self__  # the RemoteConnection the hooks are bound to
    client = remote.client
    assert isinstance(client, RemoteClient)
    return client


def test_dead_peer_noticed_within_interval_times_count(host_b: TestHost, ca: TestCA, tmp_path: Path) -> None:
    pki = ca.client(tmp_path / "pki")
    conn = pyvirt.open(f"test+tls://{host_b.address}/default?pkipath={pki}")
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        client = _client(conn)
        client.start_keepalive(_INTERVAL, _COUNT)
        assert conn.list_all_domains()[0].name == "test"
        host_b.link(False)
        cut = time.monotonic()
        # the call waits for a reply that cannot come, until keepalive gives up (on a thread: without
        # keepalive it would wait forever, and the test must fail, not hang)
        waiting = pool.submit(conn.list_all_domains)
        with pytest.raises(Error, match="connection closed due to keepalive timeout: no response after 2 keepalive"):
            waiting.result(timeout=_INTERVAL * (_COUNT + 1) + _SLACK + 30)
        noticed = time.monotonic() - cut
        assert noticed <= _INTERVAL * (_COUNT + 1) + _SLACK, f"client noticed after {noticed:.1f} s"
        assert not client.is_alive
        deadline = cut + _INTERVAL * (_COUNT + 1) + _SLACK
        while "keepalive: no response" not in host_b.daemon_log() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "keepalive: no response" in host_b.daemon_log(), "the server kept the dead client"
    finally:
        conn.close()  # also releases a call still waiting, had keepalive failed
        pool.shutdown(wait=False)
