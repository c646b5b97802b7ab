"""``open`` / ``open_readonly``: URI -> driver -> bound connection.

Only the driver named by the URI scheme is imported. A URI with a
``+transport`` or a host goes to the remote driver (``pyvirt.remote``), which
speaks libvirt's RPC protocol to the daemon behind the socket.
"""

from __future__ import annotations

from functools import partial

from pyvirt.config import load_client_config
from pyvirt.connection import Connection
from pyvirt.errors import Error, ErrorCode
from pyvirt.events import EventSink
from pyvirt.plugin.entry_point_index import entry_point_value
from pyvirt.plugin.facade import DriverCalls
from pyvirt.plugin.registry import bind_connection, load_driver, open_with_manager
from pyvirt.uri import URI, resolve_uri

__all__ = ["open", "open_local", "open_readonly"]


def open(uri: str | None = None, *, read_only: bool = False) -> Connection:
    """Open a connection (``None``: the default URI). Use as a context manager."""
    resolved = resolve_uri(uri, load_client_config())
    if resolved.is_remote:
        from pyvirt.remote.driver import open_remote  # only URIs with a transport or host pay for the protocol

        return open_remote(resolved, read_only)
    return _open_in_process(resolved, read_only)


def open_local(uri: str, *, read_only: bool = False) -> Connection:
    """The driver in this process, whatever the URI's defaults say: what pyvirtd runs its drivers with."""
    return _open_in_process(resolve_uri(uri, load_client_config(), use_aliases=False), read_only)


def _open_in_process(resolved: URI, read_only: bool) -> Connection:
    if resolved.is_embed:
        resolved.embed_root()
    driver = load_driver("hypervisor", resolved.driver)
    events = EventSink()
    conn_obj, pm = open_with_manager(driver, resolved.driver, uri=resolved, read_only=read_only, events=events)
    if conn_obj is None:
        raise Error(ErrorCode.NO_CONNECT, str(resolved))
    pm = bind_connection(conn_obj, resolved.driver, pm)
    own = resolved.driver in ("test", "storage", "network")
    secondary = None if own else partial(_secondary_calls, resolved, read_only, events)
    return Connection(resolved, DriverCalls(pm, secondary, read_only=read_only), resolved.driver, read_only, events)


def _secondary_calls(hypervisor: URI, read_only: bool, events: EventSink, kind: str) -> DriverCalls | None:
    """The ``storage`` or ``network`` driver for the same mode as a hypervisor URI
    (``qemu:///system`` -> ``storage:///system``).

    None when that driver is not installed: the call then fails as unsupported.
    """
    if entry_point_value("pyvirt.hypervisor", kind) is None:
        return None
    from urllib.parse import urlencode  # only when a hypervisor connection reaches for storage or network

    query = "?" + urlencode(hypervisor.params) if hypervisor.params else ""
    uri = resolve_uri(f"{kind}://{hypervisor.path}{query}", load_client_config())
    driver = load_driver("hypervisor", kind)
    conn_obj, pm = open_with_manager(driver, kind, uri=uri, read_only=read_only, events=events)
    return None if conn_obj is None else DriverCalls(bind_connection(conn_obj, kind, pm), read_only=read_only)


def open_readonly(uri: str | None = None) -> Connection:
    """A connection whose write calls fail with OPERATION_DENIED."""
    return open(uri, read_only=True)
