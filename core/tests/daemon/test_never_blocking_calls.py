"""Where pyvirtd runs a call: on its event loop when the driver declares the hook never blocks, else a worker.

A lookup of the QEMU driver reads its in-memory table; handing it to a worker
thread and back cost more than the lookup (two thread wake-ups on a busy
2-vCPU host). Only hooks the driver declares (``pyvirt_never_blocks``) and
answers alone take the short way; everything else still runs on a worker, so
a slow driver call never stalls the loop that serves every client.
"""

from __future__ import annotations

import struct
import threading
from typing import Any, cast

import pytest

from pyvirt.daemon.remote_program import RemoteProgram
from pyvirt.daemon.server import Client
from pyvirt.daemon.state import DaemonState, SharedConnection
from pyvirt.plugin import hookimpl
from pyvirt.plugin.facade import DriverCalls
from pyvirt.plugin.records import DomainRef
from pyvirt.plugin.registry import bind_connection
from pyvirt.remote.message import REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION, Header, MessageType

_LOOKUP_BY_NAME = 23  # REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME
_GET_XML_DESC = 14  # REMOTE_PROC_DOMAIN_GET_XML_DESC
_CONNECT_CLOSE = 2  # REMOTE_PROC_CONNECT_CLOSE
_UUID = "00000000-0000-0000-0000-000000000001"


class _Conn:
    def __init__(self, never_blocks: frozenset[str]) -> None:
        self.pyvirt_never_blocks = never_blocks

    @hookimpl
    def domain_lookup_by_name(self, name: str) -> DomainRef:
        return DomainRef(name, _UUID, 3)

    @hookimpl
    def domain_get_xml_desc(self, dom: DomainRef, flags: int) -> str:
        return "<domain/>"


class _Connection:
    def __init__(self, calls: DriverCalls) -> None:
        self.calls = calls


class _Server:
    loop_thread = threading.get_ident()


class _State:
    """The daemon state's part a CONNECT_CLOSE touches: the shared connection's client count."""

    def __init__(self) -> None:
        self.released: list[SharedConnection] = []

    def release(self, shared: SharedConnection) -> None:
        self.released.append(shared)


class _Client:
    """What RemoteProgram uses of a client: it records where each call ran and what was sent."""

    def __init__(self) -> None:
        self.read_only = False
        self.state: dict[str, object] = {}
        self.server = _Server()
        self.sent: list[bytes] = []
        self.to_workers = 0

    def send(self, data: bytes | bytearray) -> None:
        self.sent.append(bytes(data))

    send_last = send

    def send_error(self, header: Header, err: BaseException) -> None:
        raise AssertionError(f"the call failed: {err}")

    def run_in_worker(self, fn: Any, *, priority: bool = False) -> None:
        self.to_workers += 1
        fn()


def _xdr_string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">I", len(raw)) + raw + b"\0" * (-len(raw) % 4)


def _dispatch(never_blocks: frozenset[str], proc: int, body: bytes, undo: bool = False) -> _Client:
    state = _State()
    program = RemoteProgram(cast(DaemonState, state))
    client = _Client()
    ctx = program.context(cast(Client, client))
    undone: list[str] = []
    if undo:  # a migration phase the client left open (procedures/migration.py registers such undos)
        ctx.on_close["migration"] = lambda: undone.append("migration")
    calls = DriverCalls(bind_connection(_Conn(never_blocks), "t"))
    shared = SharedConnection.__new__(SharedConnection)  # (its event plumbing is not what is tested here)
    shared.uri, shared.conn = "qemu:///system", cast(Any, _Connection(calls))
    ctx.shared = shared
    header = Header(REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION, proc, MessageType.CALL, 7, 0)
    program.dispatch(cast(Client, client), header, body)
    assert len(client.sent) == 1, "no reply"
    if proc == _CONNECT_CLOSE:
        assert state.released == [shared] and undone == (["migration"] if undo else [])
    return client


@pytest.mark.parametrize(
    ("declared", "on_worker"),
    [(frozenset({"domain_lookup_by_name"}), 0), (frozenset(), 1)],
    ids=["declared-never-blocks", "undeclared"],
)
def test_a_lookup_runs_on_the_loop_only_when_declared(declared: frozenset[str], on_worker: int) -> None:
    client = _dispatch(declared, _LOOKUP_BY_NAME, _xdr_string("g"))
    assert client.to_workers == on_worker
    assert _xdr_string("g") in client.sent[0]  # the reply carries the domain


def test_a_call_of_several_steps_goes_to_a_worker_whatever_the_driver_declares() -> None:
    # the XML getter's handler is not a one-hook handler (``handles(hook=...)``): it stays on a worker
    dom = _xdr_string("g") + bytes.fromhex(_UUID.replace("-", "")) + struct.pack(">i", 3)
    client = _dispatch(frozenset({"domain_lookup_by_name", "domain_get_xml_desc"}), _GET_XML_DESC,
                       dom + struct.pack(">I", 0))  # fmt: skip
    assert client.to_workers == 1


@pytest.mark.parametrize(("undo", "on_worker"), [(False, 0), (True, 1)], ids=["nothing-to-undo", "undo-pending"])
def test_a_close_runs_on_the_loop_unless_something_must_be_undone(undo: bool, on_worker: int) -> None:
    # what every pyvirsh command ends with; an undo (a migration phase left open) may wait for a guest
    assert _dispatch(frozenset(), _CONNECT_CLOSE, b"", undo=undo).to_workers == on_worker
