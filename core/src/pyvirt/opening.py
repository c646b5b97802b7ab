"""``open`` / ``open_readonly``: URI -> driver -> bound connection.

Only the driver named by the URI scheme is imported. Where a connection goes
follows libvirt's library:

- a URI with a ``+transport`` or a host: the remote driver (``pyvirt.remote``),
  libvirt's RPC protocol to the daemon behind the socket;
- ``DRIVER:///system`` and ``DRIVER:///session`` of a driver with host state
  (qemu, lxc, network, storage): pyvirtd, which owns those drivers (its
  system socket, or the session daemon, started on demand as libvirt starts
  its session daemon), unless the URI says ``?mode=direct``;
- everything else runs in this process: ``test:///``, ``DRIVER:///embed?root=DIR``,
  ``?mode=direct``, and every URI inside pyvirtd itself (:func:`serve_in_process`),
  where the drivers live.
"""

from __future__ import annotations

from os import environ

from pyvirt.config import load_client_config
from pyvirt.uri import URI, resolve_uri

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pyvirt.connection import Connection
    from pyvirt.events import EventSink
    from pyvirt.plugin.facade import DriverCalls

__all__ = ["in_daemon", "open", "open_local", "open_readonly", "serve_in_process"]

# libvirt's client-side drivers: they never need a daemon (its test driver runs in the caller).
_CLIENT_SIDE = frozenset({"test"})
# libvirt's client-side drivers that reach their host themselves (the ESX driver speaks the vSphere API to
# the host in the URI): a host in their URI is theirs, not the remote driver's; their storage and network
# objects are theirs too, never this machine's.
_OWN_TRANSPORT = frozenset({"esx", "vpx", "gsx"})
_DAEMON_PATHS = frozenset({"/system", "/session"})
# set once by pyvirtd (a list, not a rebound global: the flag is process state, read on every open)
_in_daemon: list[bool] = []
_logging_checked: list[bool] = []


def serve_in_process() -> None:
    """Called by pyvirtd at start: from now on every URI opens the driver in this process.

    The daemon is where drivers run; a driver that opens ``storage:///system``
    for a disk of ``type='volume'`` must reach the storage driver beside it,
    never dial the daemon it is part of.
    """
    _in_daemon.append(True)


def in_daemon() -> bool:
    """Whether this process is pyvirtd (:func:`serve_in_process` was called).

    A driver whose state pyvirtd creates owns its paths alone there, and can
    drop what several processes on one set of paths need (the QEMU driver's
    second monitor, its per-domain file locks).
    """
    return bool(_in_daemon)


def _via_daemon(uri: URI) -> bool:
    if _in_daemon or uri.driver in _CLIENT_SIDE or uri.path not in _DAEMON_PATHS:
        return False
    from pyvirt.plugin.entry_point_index import entry_point_value  # (its JSON index: not for a URI with a socket)

    # a driver not installed here is not in this host's daemon either: say which package is missing
    return uri.param("mode") != "direct" and entry_point_value("pyvirt.hypervisor", uri.driver) is not None


def open(uri: str | None = None, *, read_only: bool = False) -> Connection:
    """Open a connection (``None``: the default URI). Use as a context manager."""
    if not _logging_checked:  # libvirt reads LIBVIRT_DEBUG & co. when first used; pyvirt its PYVIRT_* names
        _logging_checked.append(True)
        if "PYVIRT_DEBUG" in environ or "PYVIRT_LOG_FILTERS" in environ or "PYVIRT_LOG_OUTPUTS" in environ:
            from pyvirt.util.logsetup import configure_from_environment

            configure_from_environment()
    resolved = resolve_uri(uri, load_client_config())
    if resolved.is_remote and not (resolved.transport is None and resolved.driver in _OWN_TRANSPORT):
        from pyvirt.remote.driver import open_remote  # only URIs with a transport or host pay for the protocol

        return open_remote(resolved, read_only)
    if _via_daemon(resolved):
        from pyvirt.remote.driver import open_remote

        return open_remote(resolved, read_only, spawn_session=resolved.path == "/session")
    if resolved.param("mode") is not None:
        resolved = _without_mode(resolved)
    return _open_in_process(resolved, read_only)


def _without_mode(uri: URI) -> URI:
    """``?mode=`` chooses where the driver runs; the driver itself never sees it."""
    from urllib.parse import urlencode

    params = tuple((k, v) for k, v in uri.params if k != "mode")
    text = f"{uri.scheme}://{uri.path}" + ("?" + urlencode(params) if params else "")
    return uri._replace(params=params, text=text)


def open_local(uri: str, *, read_only: bool = False) -> Connection:
    """The driver in this process, whatever the URI's defaults say: what pyvirtd runs its drivers with."""
    return _open_in_process(resolve_uri(uri, load_client_config(), use_aliases=False), read_only)


def _open_in_process(resolved: URI, read_only: bool) -> Connection:
    # Imported here, not at the top: a connection through pyvirtd needs neither pluggy nor the
    # registry (``open_remote`` binds the generated remote hooks directly), and every short
    # ``pyvirsh`` run against the daemon would pay for them.
    from pyvirt.connection import Connection
    from pyvirt.errors import ErrorCode
    from pyvirt.events import EventSink

    if resolved.is_embed:
        resolved.embed_root()
    from pyvirt.errors import ConnectionError
    from pyvirt.plugin.entry_point_index import entry_point_value

    entry_point = entry_point_value("pyvirt.hypervisor", resolved.driver)
    if entry_point is None:
        from pyvirt.plugin.registry import install_hint

        # libvirt's words: "no connection driver available for URI"
        raise ConnectionError(ErrorCode.NO_CONNECT, resolved.text + install_hint(resolved.driver))
    if entry_point == _CORE_TEST_DRIVER:
        events = EventSink()
        calls = _open_core_test_driver(resolved, read_only, events)
        return Connection(resolved, calls, resolved.driver, read_only, events)
    from functools import partial

    from pyvirt.plugin.facade import DriverCalls
    from pyvirt.plugin.registry import bind_connection, load_driver, open_with_manager

    try:
        driver = load_driver("hypervisor", resolved.driver)
    except ConnectionError as err:
        # libvirt's "no connection driver available for URI", then why: the driver failed to load or was refused
        raise ConnectionError(ErrorCode.NO_CONNECT, f"{resolved.text}: {err.detail}") from err
    events = EventSink()
    conn_obj, pm = open_with_manager(driver, resolved.driver, uri=resolved, read_only=read_only, events=events)
    if conn_obj is None:
        raise ConnectionError(ErrorCode.NO_CONNECT, str(resolved))
    pm = bind_connection(conn_obj, resolved.driver, pm)
    own = resolved.driver in ("test", "storage", "network", "nwfilter") or resolved.driver in _OWN_TRANSPORT
    secondary = None if own else partial(_secondary_calls, resolved, read_only, events)
    return Connection(resolved, DriverCalls(pm, secondary, read_only=read_only), resolved.driver, read_only, events)


# The entry point core declares for its own test driver (core/pyproject.toml).
_CORE_TEST_DRIVER = "pyvirt.drivers.test.driver:TestDriver"


def _open_core_test_driver(resolved: URI, read_only: bool, events: EventSink) -> DriverCalls:
    """core's own test driver, its hooks bound directly: no plugin manager, no pluggy import.

    Why: every short ``pyvirsh`` run on ``test:///`` opens it, and building a
    plugin manager to register and validate the driver and its connection cost
    such a run about a fifth of its instructions, importing pluggy with
    ``inspect`` another fifth. Registration only re-checked at every open what
    ``core/tests/drivers/test_test_driver_binding.py`` proves with pluggy: that
    every hook of this driver matches its spec, and that these direct calls are
    exactly the hooks pluggy binds. A third-party driver, or another package's
    entry point under the ``test`` name, goes through pluggy as always.
    """
    from pyvirt.drivers.test.driver import TestDriver
    from pyvirt.errors import ConnectionError, ErrorCode
    from pyvirt.plugin.facade_base import direct_calls

    conn_obj = TestDriver().connect_open(uri=resolved, read_only=read_only, events=events)
    if conn_obj is None:
        raise ConnectionError(ErrorCode.NO_CONNECT, str(resolved))
    # each hook bound on its first call: the driver's rarely used hook groups load only when called
    return direct_calls(conn_obj, read_only=read_only, hooks=conn_obj.hook_names(), bind=conn_obj.bind_hook)


def _secondary_calls(hypervisor: URI, read_only: bool, events: EventSink, kind: str) -> DriverCalls | None:
    """The ``storage``, ``network`` or ``nwfilter`` driver for the same mode as a hypervisor URI
    (``qemu:///system`` -> ``storage:///system``).

    None when that driver is not installed: the call then fails as unsupported.
    """
    from pyvirt.plugin.entry_point_index import entry_point_value

    if entry_point_value("pyvirt.hypervisor", kind) is None:
        return None
    from urllib.parse import urlencode  # only when a hypervisor connection reaches for storage or network

    from pyvirt.plugin.facade import DriverCalls
    from pyvirt.plugin.registry import bind_connection, load_driver, open_with_manager

    query = "?" + urlencode(hypervisor.params) if hypervisor.params else ""
    uri = resolve_uri(f"{kind}://{hypervisor.path}{query}", load_client_config())
    driver = load_driver("hypervisor", kind)
    conn_obj, pm = open_with_manager(driver, kind, uri=uri, read_only=read_only, events=events)
    return None if conn_obj is None else DriverCalls(bind_connection(conn_obj, kind, pm), read_only=read_only)


def open_readonly(uri: str | None = None) -> Connection:
    """A connection whose write calls fail with OPERATION_DENIED."""
    return open(uri, read_only=True)
