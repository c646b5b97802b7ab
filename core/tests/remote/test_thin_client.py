"""The remote driver as a thin client: its hooks bound without a plugin manager, still held to the specs.

A short ``pyvirsh`` run through pyvirtd used to spend more time building a
pluggy manager and registering the remote driver's 111 hooks (and importing
pluggy and ``inspect``) than talking to the daemon. The client now binds the
generated methods directly (``pyvirt.plugin.facade.direct_calls``); pluggy's
validation of those methods against the hook specs moved here, where it runs
once per change instead of once per command.
"""

from __future__ import annotations

import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.plugin import hookimpl
from pyvirt.plugin.api import API
from pyvirt.plugin.facade import direct_calls
from pyvirt.plugin.registry import _register, bind_state_driver
from pyvirt.remote._hooks import RemoteHooks
from pyvirt.remote.driver import RemoteConnection

PYVIRSH = Path(sys.executable).parent / "pyvirsh"


def marked_copy(cls: type, names: set[str]) -> object:
    """An object whose methods ``names`` are copies of ``cls``'s, each marked with pyvirt's ``hookimpl``."""
    methods = {}
    for name in names:
        fn = getattr(cls, name)
        copy = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
        copy.__qualname__ = fn.__qualname__
        methods[name] = hookimpl(copy)
    return type("MarkedRemoteConnection", (), methods)()


class _TypedRemoteConnection(RemoteConnection, RemoteHooks):
    """The remote driver as mypy sees it: its own methods, then the generated one per call table row."""


def test_pluggy_accepts_every_remote_hook_against_the_specs() -> None:
    hooks = {name for name in API if callable(getattr(_TypedRemoteConnection, name, None))}
    pm = bind_state_driver(types.SimpleNamespace(), "empty")
    _register(pm, marked_copy(_TypedRemoteConnection, hooks), "remote")  # raises naming the hook on a mismatch
    registered = {name for name in dir(pm.hook) if not name.startswith("_") and getattr(pm.hook, name).get_hookimpls()}
    assert registered == hooks
    # what the client binds without pluggy is exactly what pluggy found and validated
    assert direct_calls(_TypedRemoteConnection.__new__(_TypedRemoteConnection))._implemented == hooks
    # and the list the client binds them from (without loading the API table) names the same hooks
    assert hooks == RemoteConnection.HOOKS
    conn = RemoteConnection.__new__(RemoteConnection)
    bound = direct_calls(conn, hooks=RemoteConnection.HOOKS, bind=conn.bind_hook)
    assert bound._implemented == hooks and not bound._direct  # each is bound on its first call


def test_a_hook_bound_from_its_row_takes_what_the_generated_method_takes() -> None:
    """At run time a call table hook is its row, bound by name (``RemoteConnection.bind_hook``), not the
    generated method pluggy checked: the row's argument converters must take the very parameters (names
    and order) of that method, so that a call by keyword (the facade's) or by position means the same."""
    import inspect

    from pyvirt.remote.calls import CALLS

    for hook, row in CALLS.items():
        generated = list(inspect.signature(getattr(RemoteHooks, hook)).parameters)[1:]
        converters = [row.args] + ([row.plain[1]] if row.plain is not None else [])
        for convert in converters:
            assert list(inspect.signature(convert).parameters) == generated, hook
        assert hook not in vars(RemoteConnection) or hook in RemoteConnection.HOOKS


def test_a_remote_hook_is_bound_when_first_called_and_answers_as_the_generated_method(
    pyvirtd: PrivateDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyvirt
    from pyvirt.remote import _remote as r

    sent = _wire_log(monkeypatch)
    with pyvirt.open(pyvirtd.uri()) as conn:
        remote = conn.calls._single["connect_close"].__self__
        assert "domain_lookup_by_name" not in conn.calls._direct
        ref = conn.lookup_domain_by_name("test").ref
        assert "domain_lookup_by_name" in conn.calls._direct and "domain_get_info" not in conn.calls._direct
        # the same call by position, by keyword and as an attribute, and what the generated method makes of it
        generated = RemoteHooks.domain_lookup_by_name(remote, "test")  # type: ignore[arg-type]
        assert remote.domain_lookup_by_name("test") == remote.domain_lookup_by_name(name="test") == ref == generated
        assert sent.count(r.REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME) == 4
        with pytest.raises(AttributeError, match="no_such_hook"):
            remote.bind_hook("no_such_hook")


def test_a_misspelled_remote_hook_parameter_would_be_caught() -> None:
    """The check above can fail: pluggy refuses a method whose parameter names are not the spec's."""
    from pyvirt.errors import Error

    class Misspelled:
        def domain_lookup_by_name(self, nmae: str) -> Any:
            raise AssertionError("never called")

    pm = bind_state_driver(types.SimpleNamespace(), "empty")
    with pytest.raises(Error, match="domain_lookup_by_name"):
        _register(pm, marked_copy(Misspelled, {"domain_lookup_by_name"}), "remote")


@pytest.fixture(scope="module")
def pyvirtd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateDaemon]:
    with PrivateDaemon(tmp_path_factory.mktemp("pyvirtd")) as daemon:
        yield daemon


def test_pyvirsh_through_pyvirtd_loads_neither_pluggy_nor_inspect(pyvirtd: PrivateDaemon) -> None:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", str(PYVIRSH), "-c", pyvirtd.uri(), "list", "--all"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert " test " in out.stdout and "running" in out.stdout
    imported = {line.rsplit("|", 1)[1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert "pyvirt.remote.driver" in imported
    assert not {"pluggy", "inspect", "pyvirt.plugin.registry"} & imported


def test_a_read_only_remote_connection_still_refuses_writes_before_the_wire(pyvirtd: PrivateDaemon) -> None:
    """The facade's read-only rule holds on the direct binding too: refused here, no call goes out."""
    import pyvirt
    from pyvirt.errors import ErrorCode, OperationDeniedError

    with pyvirt.open_readonly(pyvirtd.uri()) as conn:
        dom = conn.lookup_domain_by_name("test")
        client = conn.calls._single["connect_close"].__self__.client
        before = client._serial
        with pytest.raises(OperationDeniedError, match="read only access prevents virDomainDestroy") as err:
            dom.destroy()
        assert err.value.code == ErrorCode.OPERATION_DENIED
        assert client._serial == before
        assert dom.info().state  # the connection still answers reads


def test_pyvirsh_list_through_pyvirtd_loads_no_event_code_and_no_entry_point_index(pyvirtd: PrivateDaemon) -> None:
    """A command that registers no callback pays neither for the event records and enums nor for the
    entry-point index (JSON) that only a URI without a socket consults."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", str(PYVIRSH), "-c", pyvirtd.uri(), "list", "--all"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert " test " in out.stdout
    imported = {line.rsplit("|", 1)[1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert not {"pyvirt.events", "pyvirt.remote.events", "json", "pyvirt.plugin.entry_point_index"} & imported


def test_pyvirsh_list_through_pyvirtd_imports_none_of_the_costly_standard_modules(pyvirtd: PrivateDaemon) -> None:
    """What a short run paid for and did not need, about a third of its instructions in all: socket.py
    (selectors, enums of every AF_/SOCK_/MSG_ name; the client uses ``_socket.socket`` itself), typing
    (annotations are for mypy; records are built by ``pyvirt.util.named_tuple``), re (a URI is split by
    hand, the client config's parser loads only when the file exists), threading and contextlib (the
    client's reader and locks come from ``_thread``), importlib and warnings (command modules and codec
    modules are loaded by ``__import__``: importlib's package cost 1.5 million instructions a run), enum
    and the functools it loads (the IntEnums and the one IntFlag and Enum every run builds come from
    ``pyvirt.util.int_enum``: 15 million instructions), and the collections package (5.6 million: the
    ABCs come from ``_collections_abc``, which ``collections.abc`` re-exports and the interpreter has
    loaded already, and ``deque`` and namedtuple's field accessor from ``_collections``), and struct.py (0.4
    million: the codecs use ``_struct``, the C module it re-exports), and select (0.5 million, a shared
    library: the reader of a plain socket waits with the kernel's receive timeout, SO_RCVTIMEO)."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", str(PYVIRSH), "-c", pyvirtd.uri(), "list", "--all"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert " test " in out.stdout and "running" in out.stdout
    imported = {line.rsplit("|", 1)[1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert "_socket" in imported
    costly = {"socket", "selectors", "typing", "re", "threading", "contextlib", "importlib", "warnings", "enum",
              "functools", "collections", "types", "struct", "select"}  # fmt: skip
    assert not costly & imported
    assert "pyvirt.cli.domain_cmds" in imported  # __import__ shows in -X importtime; import_module did not


def _imported_by(*argv: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    out = subprocess.run([sys.executable, "-X", "importtime", str(PYVIRSH), *argv],
                         capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    imported = {line.rsplit("|", 1)[1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    return out, imported


def test_pyvirsh_through_pyvirtd_reads_neither_the_protocol_table_nor_the_api_table(pyvirtd: PrivateDaemon) -> None:
    """``_remote`` (518 constants, ``_WHERE``, the 443-row table with libvirt's ACL annotations: 100 KB of
    bytecode) cost every short run 4 million instructions to find five procedures; the client now reads
    their lines from ``_remote_index``'s one string. An error reply decodes without the table too. The API
    table (2 million) is read only by a read-only connection, which checks each call against it, and the
    transports module only for tcp, tls and ssh."""
    out, imported = _imported_by("-c", pyvirtd.uri(), "list", "--all")
    assert out.returncode == 0 and " test " in out.stdout
    assert "pyvirt.remote._remote_index" in imported and "pyvirt.remote._remote" not in imported
    assert "pyvirt.plugin.api" not in imported  # a read-write connection binds RemoteConnection.HOOKS
    assert "pyvirt.remote.transport" not in imported  # the local socket needs none of tcp, tls and ssh
    assert "pyvirt.remote._hooks" not in imported  # each hook is bound from its call table row when first called
    assert "pyvirt.remote.procedure_table" not in imported  # the table's record classes: the daemon's, not a client's
    # the facade's 250 typed methods (2.3 million instructions): the calls are forwarded by name
    assert "pyvirt.plugin.facade" not in imported and "pyvirt.plugin.facade_base" in imported
    out, imported = _imported_by("-c", pyvirtd.uri(), "domstate", "nosuch")
    assert out.returncode == 1
    assert "failed to get domain 'nosuch'" in out.stderr
    assert "pyvirt.remote._remote" not in imported


def test_a_short_run_through_pyvirtd_imports_at_most_the_pyvirt_modules_it_does_today(pyvirtd: PrivateDaemon) -> None:
    """Each module costs a run about 300,000 instructions and eight system calls before its own code runs
    (finding, reading, checking and unmarshalling its bytecode): a new import on this path should be a choice.
    Counted for pyvirt's modules only (the interpreter's own start-up varies with the environment)."""
    out, imported = _imported_by("-c", pyvirtd.uri(), "list", "--all")
    assert out.returncode == 0
    ours = sorted(name for name in imported if name.split(".")[0] == "pyvirt")
    # 40 before the procedure index, the unix fast path and the lazy API table; 39 with pyvirt.cli.files (the
    # CLI's file reading, its own module since stop 23), the remote driver's generated hooks no longer loaded
    # and the call table's domain rows in a module of their own; 36 with the XPath printer loaded by dumpxml
    # only (its options are the CLI framework's) and lxml's import stand-in by the first import of lxml.etree
    assert len(ours) <= 36, ours
    assert "pyvirt.remote._hooks" not in ours and "pyvirt.remote.calls_domains" in ours
    # a domain command that prints no table: what destroy loads, and the state names (pyvirt.domain_state)
    out, imported = _imported_by("-c", pyvirtd.uri(), "domstate", "test")
    assert out.returncode == 0 and out.stdout.strip() == "running"
    ours = sorted(name for name in imported if name.split(".")[0] == "pyvirt")
    assert len(ours) <= 35, ours
    assert not {"pyvirt.cli.table", "pyvirt.cli.xpath_output", "pyvirt.util.lxml_import"} & set(ours)


def test_the_procedure_index_names_the_tables_numbers_and_codecs_for_every_procedure() -> None:
    from pyvirt.remote import _remote
    from pyvirt.remote.driver import _procedure
    from pyvirt.remote.message import _error_codec

    prefix = "REMOTE_PROC_"
    for number, proc in _remote.PROCEDURES.items():
        assert proc.name.startswith(prefix)
        assert _procedure(proc.name.removeprefix(prefix)) == (number, proc.pack_args, proc.unpack_ret), proc.name
    assert _error_codec() == (_remote.pack_remote_error, _remote.unpack_remote_error)
    with pytest.raises(KeyError, match="REMOTE_PROC_DOMAIN_GET"):
        _procedure("DOMAIN_GET")  # a prefix of several names is no name


def test_the_enums_every_short_run_builds_skip_the_class_statement_checks() -> None:
    """The IntEnums of pyvirt.errors, pyvirt.domain_state and pyvirt.remote.message come from ``_int_enum``
    (``pyvirt.util.int_enum``, no ``enum`` class statement): the metaclass's member-by-member checks of a
    class statement cost every client run about 3.5 million instructions for the 54 members of the last two
    alone."""
    probe = (
        "import enum\n"
        "checked = []\n"
        "original = enum.EnumType.__new__\n"
        "def spy(mcls, name, bases, ns, **kw):\n"
        "    if not kw.get('_simple'):\n"
        "        checked.append(name)\n"
        "    return original(mcls, name, bases, ns, **kw)\n"
        "enum.EnumType.__new__ = spy\n"
        "import pyvirt.errors, pyvirt.domain_state, pyvirt.remote.message\n"
        "print(len(pyvirt.domain_state.DomainState), pyvirt.remote.message.Status(1).name, *checked)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["8", "ERROR"]


def test_each_remote_connection_has_a_reader_that_ends_when_it_closes(pyvirtd: PrivateDaemon) -> None:
    """The reader is a bare ``_thread`` thread now, invisible to ``threading``; the kernel still counts it."""
    import os
    import time

    import pyvirt

    def tasks() -> int:
        return len(os.listdir("/proc/self/task"))

    def settle(want: int) -> int:
        deadline = time.monotonic() + 5  # close() returns once the reader's function is done; its exit follows
        while tasks() != want and time.monotonic() < deadline:
            time.sleep(0.01)
        return tasks()

    before = tasks()
    for _ in range(20):
        with pyvirt.open(pyvirtd.uri()) as conn:
            assert conn.lookup_domain_by_name("test").info().state
            assert tasks() == before + 1
        assert settle(before) == before


def _wire_log(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every remote procedure number this process sends from now on."""
    from pyvirt.remote.client import RemoteClient

    sent: list[int] = []
    original = RemoteClient.call_many

    def call_many(self: RemoteClient, batch: Any, **kw: Any) -> list[Any]:
        sent.extend(item[0] for item in batch)
        return original(self, batch, **kw)

    monkeypatch.setattr(RemoteClient, "call_many", call_many)
    return sent


def test_start_and_destroy_send_no_lookup_the_caller_does_not_need(
    pyvirtd: PrivateDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    """libvirt's client does not look a domain up again after destroy; pyvirt's sent
    DOMAIN_LOOKUP_BY_UUID after every start and destroy (a round trip per ``pyvirsh destroy``).
    Now destroy knows the id is -1, and after a start the id is looked up only when asked for."""
    import pyvirt
    from pyvirt.remote import _remote as r

    sent = _wire_log(monkeypatch)
    with pyvirt.open(pyvirtd.uri()) as conn:
        dom = conn.lookup_domain_by_name("test")
        running_id = dom.id
        assert running_id > 0
        del sent[:]
        dom.destroy()
        assert sent == [r.REMOTE_PROC_DOMAIN_DESTROY]
        assert dom.id == -1 and dom.ref.id == -1
        assert sent == [r.REMOTE_PROC_DOMAIN_DESTROY]  # known without asking
        del sent[:]
        dom.start()
        assert sent == [r.REMOTE_PROC_DOMAIN_CREATE]
        new_id = dom.id  # now asked for: one lookup, as libvirt's virDomainCreate makes
        assert new_id > 0 and new_id == conn.lookup_domain_by_name("test").id
        assert sent.count(r.REMOTE_PROC_DOMAIN_LOOKUP_BY_UUID) == 1
        del sent[:]
        assert dom.id == new_id and sent == []  # and only once


_BUILT_PROBE = """
import atexit, sys
def report():  # at exit: console_main leaves through os._exit after the atexit handlers
    import pyvirt.errors as errors
    import pyvirt.plugin.records as records
    made = sorted(name for name in records.__all__ if name in vars(records))
    from pyvirt.util.int_enum import numbers  # names the members without making them
    codes = sorted(name for name in numbers(errors.ErrorCode) if name in vars(errors.ErrorCode))
    print("RECORDS", *made, file=sys.stderr)
    print("CODES", *codes, file=sys.stderr)
atexit.register(report)
sys.argv = ["pyvirsh", *sys.argv[1:]]
from pyvirt.cli.console import console_main
console_main()
"""


def _made_by(*argv: str) -> tuple[subprocess.CompletedProcess[str], dict[str, list[str]]]:
    """What a pyvirsh run made of the lazy tables: record classes, and ErrorCode members."""
    out = subprocess.run([sys.executable, "-c", _BUILT_PROBE, *argv],
                         capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    made = {}
    for line in out.stderr.splitlines():
        key, _, rest = line.partition(" ")
        if key in ("RECORDS", "CODES"):
            made[key] = rest.split()
    return out, made


def test_a_short_run_through_pyvirtd_makes_only_the_records_and_error_codes_it_reads(pyvirtd: PrivateDaemon) -> None:
    """Making every record class and every member of the error tables at import cost each short run about
    6 million instructions (the classes: 190,000 apiece; the members, and the message table whose keys
    made 60 of them, at the first error: the reader's own at connection close). Now what is read is made."""
    out, made = _made_by("-c", pyvirtd.uri(), "list", "--all")
    assert out.returncode == 0 and " test " in out.stdout
    assert made["RECORDS"] == ["DomainRef"]
    # INTERNAL_ERROR (a default argument); no longer SYSTEM_ERROR: the end of file of our own close makes no error
    assert made["CODES"] == ["INTERNAL_ERROR"], made["CODES"]
    out, made = _made_by("-c", pyvirtd.uri(), "domstate", "nosuch")
    assert out.returncode == 1 and "failed to get domain 'nosuch'" in out.stderr
    assert made["RECORDS"] == []


def test_the_call_table_index_names_each_modules_rows_and_a_call_loads_only_its_module() -> None:
    """The call table's rows live in one module per concern, found through ``calls._WHERE`` without loading any:
    the index must name exactly each module's rows (in order, so ``CALLS`` keeps the table's order), and a
    call must load its own module only (one module of all 152 rows cost every short run 2.6 million
    instructions)."""
    import importlib

    from pyvirt.remote import calls

    for module, names in calls._WHERE.items():
        rows = importlib.import_module(f"pyvirt.remote.{module}").ROWS
        assert [row.hook for row in rows] == names.split(), module
    assert len(calls.HOOK_NAMES) == sum(len(names.split()) for names in calls._WHERE.values()) == len(calls.CALLS)
    probe = (
        "import sys\n"
        "from pyvirt.remote.calls import call_row\n"
        "assert call_row('domain_destroy').procedures == ('DOMAIN_DESTROY_FLAGS',)\n"
        "print(*sorted(m for m in sys.modules if m.startswith('pyvirt.remote.calls_')))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["pyvirt.remote.calls_domains"]
    with pytest.raises(KeyError):
        calls.call_row("no_such_hook")


def test_a_client_we_closed_makes_no_error_at_the_end_of_file_yet_says_it_is_closed(pyvirtd: PrivateDaemon) -> None:
    """The reader used to make a SYSTEM_ERROR ("End of file while reading data") for the end of file our own
    close causes, which nobody reads (0.2 million instructions of every short run): now it makes none, and
    the client still reports itself closed, to a later call and to whoever asks why it ended."""
    from pyvirt.errors import InternalError
    from pyvirt.remote.client import RemoteClient, connect_unix
    from pyvirt.remote.driver import _procedure

    client = RemoteClient(connect_unix(pyvirtd.socket))
    number, pack, unpack = _procedure("CONNECT_GET_LIB_VERSION")
    assert client.is_alive
    client.close()
    assert not client.is_alive and client._dead is None  # ended, and no error was made for it
    with pytest.raises(InternalError, match="client socket is closed"):
        client.call(number, pack, None, unpack)
    assert isinstance(client.death, InternalError) and "client socket is closed" in str(client.death)


def test_the_reader_of_a_plain_socket_still_wakes_to_ping_an_idle_server(
    pyvirtd: PrivateDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without ``select``, the reader of the local socket waits with the kernel's receive timeout: it must
    still wake while nothing arrives, and ping the server once ``interval`` has passed in silence."""
    import time

    import pyvirt
    from pyvirt.remote.client import RemoteClient

    pings: list[float] = []
    original = RemoteClient.send_ping

    def send_ping(self: RemoteClient) -> None:
        pings.append(time.monotonic())
        original(self)

    monkeypatch.setattr(RemoteClient, "send_ping", send_ping)
    with pyvirt.open(pyvirtd.uri()) as conn:
        client = conn.calls._single["connect_close"].__self__.client
        assert client._poll is None  # the plain socket's path
        client.start_keepalive(0.3, 3)
        # the wait under way keeps its 1 s timeout: a ping at about 1 s, the next 0.6 s after its pong at most
        time.sleep(2.5)
        assert len(pings) >= 2, pings  # woken by the timeout, without any data arriving
        assert client.is_alive and conn.lookup_domain_by_name("test").info().state  # and answered (pongs)
