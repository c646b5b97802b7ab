"""The ``remote`` driver: a pyvirt connection served by a daemon over libvirt's RPC protocol.

``test+unix:///default?socket=PATH`` or ``qemu+unix:///system`` open a Unix
socket to the daemon (pyvirtd, or libvirt's own libvirtd/virtqemud), do what
libvirt's remote driver does on open (``AUTH_LIST``, the keepalive feature
probe, ``CONNECT_OPEN`` with the URI minus its transport and the remote
driver's own parameters), and then carry every hook of
:data:`pyvirt.remote.calls.CALLS` as RPC calls. Lifecycle events are
registered with the server on the first local callback
(``CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY``) and delivered to the
connection's ``EventSink`` from the client's event thread.
"""

from __future__ import annotations

import _thread
import sys

from pyvirt.errors import ConnectionError, Error, ErrorCode, ErrorDomain, InternalError, XMLError
from pyvirt.remote.calls import HOOK_NAMES, call_row, domain_ref, typed_param_to_wire, wire_domain, wire_volume
from pyvirt.remote.client import RemoteClient, connect_unix, default_socket
from pyvirt.uri import URI

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from pyvirt.connection import Connection
    from pyvirt.events import EventSink
    from pyvirt.plugin.records import DomainRef, VolumeRef
    from pyvirt.plugin.typed_params import TypedParam
    from pyvirt.remote._hooks import RemoteHooks as _TypedHooks
    from pyvirt.remote.calls import RemoteCall
    from pyvirt.remote.message import Header
    from pyvirt.remote.xdr import Pack, Unpack
else:
    # The generated methods (``pyvirt.remote._hooks``) are what mypy and pluggy check: one per row of the
    # call table, with the spec's signature. At run time each hook is bound from its row when first called
    # (``bind_hook``): a short run calls three or four of the 150, and importing them all (45 KB of
    # bytecode, a class of 150 methods) cost it 1.7 million instructions.
    _TypedHooks = object

__all__ = ["RemoteConnection", "open_remote", "wire_uri"]

# The remote driver's own URI parameters (libvirt's doRemoteOpen consumes them; the server never sees them).
_REMOTE_PARAMS = frozenset(
    ("name", "command", "socket", "auth", "netcat", "keyfile", "no_verify", "no_tty", "no_sanity", "pkipath", "known_hosts",
     "known_hosts_verify", "sshauth", "mode", "proxy", "tls_priority")
)  # fmt: skip
_VIR_CONNECT_RO = 1
_AUTH_NONE, _AUTH_SASL, _AUTH_POLKIT = 0, 1, 2
_FEATURE_PROGRAM_KEEPALIVE = 10  # VIR_DRV_FEATURE_PROGRAM_KEEPALIVE
_LIFECYCLE = 0  # VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_NETWORK_EVENT_ID_LIFECYCLE


def wire_uri(uri: URI) -> str:
    """The URI the server is asked to open: no transport, no host, none of the remote driver's parameters.

    ``?name=`` overrides it all, as in libvirt.
    """
    name = uri.param("name")
    if name is not None:
        return name
    rest = [(k, v) for k, v in uri.params if k not in _REMOTE_PARAMS]
    query = ""
    if rest:
        from urllib.parse import urlencode  # only for URIs that carry driver parameters

        query = "?" + urlencode(rest)
    return f"{uri.driver}://{uri.path}{query}"


def _procedures() -> Any:
    from pyvirt.remote import _remote

    return _remote


def _procedure(name: str) -> tuple[int, Pack | None, Unpack | None]:
    """Procedure ``name`` (``DOMAIN_GET_STATE``): its number and the codec functions of its args and reply.

    Read from the generated one-string index (``_remote_index``), not from
    ``_remote``'s table: loading that module cost a short ``pyvirsh`` run 4
    million instructions (see ``pyvirt.remote.xdrgen._client_index``).
    """
    from pyvirt.remote._remote_index import INDEX

    start = INDEX.find(f"\n{name} ") + 1
    if not start:
        raise KeyError(f"REMOTE_PROC_{name}")
    _, number, args_type, args_module, ret_type, ret_module = INDEX[start : INDEX.index("\n", start)].split(" ")
    pack = _codec(args_module, f"pack_{args_type}") if args_type != "-" else None
    unpack = _codec(ret_module, f"unpack_{ret_type}") if ret_type != "-" else None
    return int(number), pack, unpack


def _codec(module: str, function: str) -> Any:
    name = f"pyvirt.remote._{module}"
    __import__(name)  # not importlib: its package cost a short run 1.5 million instructions
    return getattr(sys.modules[name], function)


class RemoteConnection(_TypedHooks):
    """One open remote connection: the hook implementations (the call table's rows) over one :class:`RemoteClient`."""

    # Every hook this driver answers: one per row of the call table, and those written out below (streams,
    # keepalive, close, restore's two forms). Given to ``direct_calls``, it spares a read-write connection
    # the API table; a test checks it is exactly the API table's hooks this class has methods for.
    HOOKS = HOOK_NAMES.union((
        "connect_close", "connect_set_keep_alive", "domain_restore", "domain_open_console", "domain_screenshot",
        "volume_download", "volume_upload", "domain_migrate_prepare_tunnel", "domain_qemu_monitor_command",
        "domain_qemu_agent_command", "domain_lxc_open_namespace",
    ))  # fmt: skip

    def __init__(self, client: RemoteClient, events: EventSink | None = None) -> None:
        self._client = client
        self._events = events
        self._plans: dict[str, list[tuple[int, Pack | None, Unpack | None]]] = {}
        self._event_lock = _thread.allocate_lock()  # not threading: a short run need not import it
        self._domain_callback: int | None = None
        self._network_callback: int | None = None
        self._typed_callbacks: dict[str, int] = {}  # event kind -> the server's callback id for it
        self._server_keepalive = False  # the server answered the keepalive feature probe
        if events is not None:
            from pyvirt.remote.events import RemoteEventSink

            if isinstance(events, RemoteEventSink):
                events.attach(self)

    def event_sink(self) -> EventSink:
        """The sink of this connection's events, made when first needed (a callback registered).

        A short command never registers one; it then imports neither the event
        records nor the code that asks the server for events.
        """
        with self._event_lock:
            if self._events is None:
                from pyvirt.remote.events import RemoteEventSink

                sink = RemoteEventSink()
                sink.attach(self)
                self._events = sink
            return self._events

    @property
    def client(self) -> RemoteClient:
        return self._client

    # ------------------------------------------------------------------ open
    @classmethod
    def open(cls, uri: URI, read_only: bool, events: EventSink | None = None) -> RemoteConnection:
        name = wire_uri(uri)
        unix = default_socket(read_only, uri.path == "/session")
        if uri.transport == "unix" or (uri.transport is None and not uri.server):
            # the local socket, as transport_of picks it, without loading the transports module for the
            # others (tcp, tls, ssh): over half a million instructions of a short pyvirsh run
            sock = connect_unix(uri.param("socket") or unix)
        else:
            from pyvirt.remote.transport import open_socket  # tcp, tls or ssh, as the URI says

            sock = open_socket(uri, read_only, name, unix)
        client = RemoteClient(sock)
        try:
            conn = cls(client, events)
            conn._handshake(name, read_only)
        except Error as e:
            # a transport that died before the first call (ssh refused, no helper) says why; the call
            # itself only learnt that the socket is closed
            cause = client.death
            client.close()
            if cause is not None and cause is not e:
                raise cause from None
            raise
        except BaseException:
            client.close()
            raise
        return conn

    def _handshake(self, name: str, read_only: bool) -> None:
        """libvirt's remote open sequence (virsh sends the same calls): AUTH_LIST, keepalive probe, CONNECT_OPEN.

        The three go out together, one round trip instead of three: on a
        socket without authentication (root's, or any with ``auth_unix_* =
        none``) that is all there is. When the server asks for
        authentication, the two later calls were refused; they are made
        again once it is done.
        """
        batch = [self._wire("AUTH_LIST", None), self._wire("CONNECT_SUPPORTS_FEATURE", (_FEATURE_PROGRAM_KEEPALIVE,)),
                 self._wire("CONNECT_OPEN", (name, _VIR_CONNECT_RO if read_only else 0))]  # fmt: skip
        auth, keepalive, opened = self._client.call_many(batch, errors_in_place=True)
        if isinstance(auth, Error):
            raise auth
        types = auth[0]
        if types and _AUTH_NONE not in types:
            if _AUTH_POLKIT not in types:
                raise ConnectionError(
                    ErrorCode.AUTH_FAILED, f"unsupported authentication type {types[0]}", domain=ErrorDomain.REMOTE
                )
            self.call("AUTH_POLKIT", None)
            keepalive, opened = self._client.call_many(batch[1:])
        for result in (keepalive, opened):
            if isinstance(result, Error):
                raise result
        self._server_keepalive = bool(keepalive[0])
        if self._server_keepalive:
            self._client.start_keepalive()

    def connect_set_keep_alive(self, interval: int, count: int) -> int:
        """remoteConnectSetKeepAlive: 1 (nothing done) when the server has no keepalive, else start or stop it."""
        if not self._server_keepalive:
            return 1
        if interval > 0:
            self._client.start_keepalive(float(interval), count)
        else:
            self._client.stop_keepalive()
        return 0

    def _wire(self, procedure: str, args: Any) -> tuple[int, Pack | None, Any, Unpack | None]:
        number, pack, unpack = _procedure(procedure)
        return (number, pack, args, unpack)

    # ------------------------------------------------------------------ calls
    def call(self, procedure: str, args: Any) -> Any:
        """One remote procedure by name (``DOMAIN_LOOKUP_BY_NAME``), args as the ``_args`` tuple."""
        number, pack, _, unpack = self._wire(procedure, None)
        return self._client.call(number, pack, args, unpack)

    def _plan(self, key: str, procedures: tuple[str, ...]) -> list[tuple[int, Pack | None, Unpack | None]]:
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = [_procedure(name) for name in procedures]
        return plan

    def _invoke(self, hook: str, /, *args: Any, **kwargs: Any) -> Any:
        """Call table hook ``hook`` with the spec's arguments (its row's ``args`` takes the spec's names)."""
        row = call_row(hook)
        if row.fds is not None:
            return self._invoke_with_fds(row, args, kwargs)
        if row.plain is not None:
            plain_args = row.plain[1](*args, **kwargs)
            if plain_args is not None:  # no flags: the older procedure, as libvirt's client sends it
                number, pack, unpack = self._plan(row.plain[0], (row.plain[0],))[0]
                return row.ret(self._client.call(number, pack, plain_args, unpack))
        plan = self._plan(hook, row.procedures)
        wire_args = row.args(*args, **kwargs)
        if len(plan) == 1:
            number, pack, unpack = plan[0]
            reply = self._client.call(number, pack, wire_args, unpack)
            return row.ret(reply, wire_args) if row.ret_takes_args else row.ret(reply)
        batch = [(n, p, a, u) for (n, p, u), a in zip(plan, wire_args, strict=True)]
        return row.ret(self._client.call_many(batch))

    def _invoke_with_fds(self, row: RemoteCall, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """A call whose descriptors travel with it (CALL_WITH_FDS), as libvirt's client sends them.

        libvirt's client duplicates each descriptor first (close-on-exec), so a
        bad one is the caller's error before anything is sent ("Cannot
        duplicate FD"), and sends the duplicates; only a local socket carries
        them (virNetSocketHasPassFD). Descriptors a reply would bring back are
        closed: no such procedure returns any.
        """
        import os

        from pyvirt.errors import SystemCallError

        assert row.fds is not None
        number, pack, unpack = self._plan(row.hook, row.procedures)[0]
        dups: list[int] = []
        try:
            for fd in row.fds(*args, **kwargs):
                try:
                    dups.append(os.dup(fd))
                except OSError as exc:
                    raise SystemCallError(exc.errno or 9, f"Cannot duplicate FD {fd}", domain=ErrorDomain.RPC) from None
            if dups and not self._client.passes_fds:
                raise InternalError(
                    ErrorCode.INTERNAL_ERROR,
                    "Sending file descriptors is not supported on this socket",
                    domain=ErrorDomain.RPC,
                )
            reply, returned = self._client.call_with_fds(number, pack, row.args(*args, **kwargs), unpack, dups)
        finally:
            for fd in dups:
                os.close(fd)
        for fd in returned:
            os.close(fd)
        return row.ret(reply)

    def bind_hook(self, hook: str) -> Callable[..., Any]:
        """The call of ``hook`` on this connection: a method written out here, else its call table row's.

        The facade binds each hook this way on its first call
        (:func:`pyvirt.plugin.facade.direct_calls`); the call takes the hook
        spec's arguments, by position or name, as the generated method does.
        """
        if hook in vars(RemoteConnection):  # streams, close, keepalive, restore: written out below
            method: Callable[..., Any] = getattr(self, hook)
            return method
        if hook not in HOOK_NAMES:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {hook!r}")
        invoke = self._invoke

        def call(*args: Any, **kwargs: Any) -> Any:
            return invoke(hook, *args, **kwargs)

        call.__name__ = call.__qualname__ = hook
        return call

    if not TYPE_CHECKING:  # for mypy the generated methods are there

        def __getattr__(self, name: str) -> Any:
            """A call table hook read as an attribute (``conn.domain_destroy``), as if it were a method."""
            if name.startswith("_"):
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            return self.bind_hook(name)

    def connect_close(self) -> None:
        """CONNECT_CLOSE, then the socket. A daemon already gone is no error: the connection is closed either way."""
        try:
            if self._client.is_alive:
                self._client.expect_hang_up()  # the server hangs up after its reply (libvirt's delayed close)
                try:  # noqa: SIM105 - not contextlib.suppress: a short run need not import contextlib
                    self.call("CONNECT_CLOSE", None)
                except Error:
                    pass
        finally:
            self._client.close()

    def domain_restore(self, path: str, xml: str | None, flags: int) -> DomainRef:
        """RESTORE_FLAGS answers with nothing, so the domain is found by the name in the image's XML.

        The name comes from ``xml`` when the caller replaces the definition,
        else from the image (SAVE_IMAGE_GET_XML_DESC), read before the
        restore consumes it; then one lookup returns the running domain.
        """
        import re  # only restores pay for it

        try:
            definition = xml if xml is not None else self.call("DOMAIN_SAVE_IMAGE_GET_XML_DESC", (path, 0))[0]
        except Error as exc:
            if exc.code != ErrorCode.NO_SUPPORT:
                raise
            return self._restore_and_find_new_id(path, flags)
        found = re.search(r"<name>([^<]*)</name>", definition or "")
        if xml is None and not flags:  # virDomainRestore, as libvirt's client sends it
            self.call("DOMAIN_RESTORE", (path,))
        else:
            self.call("DOMAIN_RESTORE_FLAGS", (path, xml, flags))
        if found is None:
            raise XMLError(ErrorCode.XML_ERROR, "missing name in the saved domain XML", domain=ErrorDomain.REMOTE)
        from html import unescape  # XML's entities in the name; only restores pay for the import

        return domain_ref(self.call("DOMAIN_LOOKUP_BY_NAME", (unescape(found.group(1)),))[0])

    def _restore_and_find_new_id(self, path: str, flags: int) -> DomainRef:
        """A daemon that cannot read save images (no virDomainSaveImageGetXMLDesc): the restored domain is the
        one running domain whose id was not there before (ids are never reused while the daemon runs)."""
        before = set(self.call("CONNECT_LIST_DOMAINS", (16384,))[0])  # REMOTE_DOMAIN_LIST_MAX
        if not flags:
            self.call("DOMAIN_RESTORE", (path,))
        else:
            self.call("DOMAIN_RESTORE_FLAGS", (path, None, flags))
        new = [i for i in self.call("CONNECT_LIST_DOMAINS", (16384,))[0] if i not in before]
        if len(new) != 1:  # another client started a domain meanwhile
            raise InternalError(ErrorCode.INTERNAL_ERROR, "cannot tell which domain the restore started",
                                domain=ErrorDomain.REMOTE)  # fmt: skip
        return domain_ref(self.call("DOMAIN_LOOKUP_BY_ID", (new[0],))[0])

    def domain_open_console(self, dom: DomainRef, dev_name: str | None, flags: int) -> int:
        """The console as a local socket bridged to the RPC stream of DOMAIN_OPEN_CONSOLE.

        The caller gets one end of a socket pair (and owns it); two threads
        carry bytes between the other end and the stream: the guest's output
        to the socket, what the caller writes to the guest. Closing the
        socket finishes the stream; the stream's end closes the socket.
        """
        import contextlib
        import socket
        import threading

        number, pack, _, unpack = self._wire("DOMAIN_OPEN_CONSOLE", None)
        _, stream = self._client.open_stream(number, pack, (wire_domain(dom), dev_name, flags), unpack)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)

        def to_caller() -> None:
            try:
                while chunk := stream.recv():
                    ours.sendall(chunk)
            except (Error, OSError):
                pass  # the stream failed or the caller went away: either way the console is over
            with contextlib.suppress(OSError):
                ours.shutdown(socket.SHUT_WR)

        def to_guest() -> None:
            try:
                while data := ours.recv(65536):
                    stream.send(data)
                stream.finish()
            except (Error, OSError):
                stream.abort()
            finally:
                ours.close()

        for target in (to_caller, to_guest):
            threading.Thread(target=target, name="pyvirt-console", daemon=True).start()
        return theirs.detach()

    def domain_screenshot(self, dom: DomainRef, screen: int, flags: int) -> tuple[str, int]:
        """DOMAIN_SCREENSHOT's read stream as the read end of a pipe, filled by a thread until the image ends."""
        import os
        import threading

        number, pack, _, unpack = self._wire("DOMAIN_SCREENSHOT", None)
        (mime,), stream = self._client.open_stream(number, pack, (wire_domain(dom), screen, flags), unpack)
        read_end, write_end = os.pipe2(os.O_CLOEXEC)

        def copy() -> None:
            try:
                while chunk := stream.recv():
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(write_end, view) :]
                stream.finish()
            except (Error, OSError, TimeoutError):
                stream.abort()  # the caller closed its end, or the stream failed: the image ends short
            finally:
                os.close(write_end)

        threading.Thread(target=copy, name="pyvirt-screenshot", daemon=True).start()
        return (mime or "", read_end)

    def volume_download(self, vol: VolumeRef, offset: int, length: int, flags: int) -> int:
        """STORAGE_VOL_DOWNLOAD's read stream as the read end of a pipe, filled by a thread to the volume's end."""
        import os
        import threading

        number, pack, _, unpack = self._wire("STORAGE_VOL_DOWNLOAD", None)
        _, stream = self._client.open_stream(number, pack, (wire_volume(vol), offset, length, flags), unpack)
        read_end, write_end = os.pipe2(os.O_CLOEXEC)

        def copy() -> None:
            try:
                while chunk := stream.recv():
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(write_end, view) :]
                stream.finish()
            except (Error, OSError, TimeoutError):
                stream.abort()  # the caller closed its end, or the stream failed: the data ends short
            finally:
                os.close(write_end)

        threading.Thread(target=copy, name="pyvirt-vol-download", daemon=True).start()
        return read_end

    def volume_upload(self, vol: VolumeRef, offset: int, length: int, flags: int) -> int:
        """STORAGE_VOL_UPLOAD's write stream behind a socket, with the hook's contract (specs.secondary)."""
        return self._write_stream("STORAGE_VOL_UPLOAD", (wire_volume(vol), offset, length, flags), "vol-upload")[1]

    def node_get_memory_stats(self, cell_num: int, flags: int) -> list[tuple[str, int]]:
        """NODE_GET_MEMORY_STATS twice, as virsh calls it: the count, then exactly that many figures.

        libvirt's drivers refuse any other count ("nparams in virHostMemGetStatsLinux must be 4").
        """
        count = self.call("NODE_GET_MEMORY_STATS", (0, cell_num, flags))[1]
        if count == 0:
            return []
        reply = self.call("NODE_GET_MEMORY_STATS", (count, cell_num, flags))
        return [(p[0], p[1]) for p in reply[0]]

    def domain_migrate_prepare_tunnel(self, params: list[TypedParam], cookie: bytes, flags: int) -> tuple[bytes, int]:
        """DOMAIN_MIGRATE_PREPARE_TUNNEL3_PARAMS: (Prepare's cookie, a socket whose data, QEMU's migration stream
        written by the source's QEMU, travels through this connection to the destination's QEMU)."""
        wire = [typed_param_to_wire(p) for p in params]
        reply, fd = self._write_stream("DOMAIN_MIGRATE_PREPARE_TUNNEL3_PARAMS", (wire, cookie, flags), "migrate-tunnel")
        return bytes(reply[0]), fd

    def domain_qemu_monitor_command(self, dom: DomainRef, cmd: str, flags: int) -> str:
        """libvirt-qemu's QEMU_PROC_DOMAIN_MONITOR_COMMAND: the QEMU program (qemu_protocol.x), same connection."""
        result: str = self._qemu_call("DOMAIN_MONITOR_COMMAND", (wire_domain(dom), cmd, flags))
        return result

    def domain_qemu_agent_command(self, dom: DomainRef, cmd: str, timeout: int, flags: int) -> str:
        """libvirt-qemu's QEMU_PROC_DOMAIN_AGENT_COMMAND (its result is a remote_string: never empty on success)."""
        return self._qemu_call("DOMAIN_AGENT_COMMAND", (wire_domain(dom), cmd, timeout, flags)) or ""

    def domain_lxc_open_namespace(self, dom: DomainRef, flags: int) -> list[int]:
        """libvirt-lxc's LXC_PROC_DOMAIN_OPEN_NAMESPACE (lxc_protocol.x, program 0x68000): the descriptors come in
        the reply (REPLY_WITH_FDS), as libvirt's remoteDomainLxcOpenNamespace receives them."""
        from pyvirt.remote import _lxc

        proc = _lxc.PROCEDURES[_lxc.LXC_PROC_DOMAIN_OPEN_NAMESPACE]
        _, fds = self._client.call_with_fds(proc.number, proc.pack_args, (wire_domain(dom), flags), proc.unpack_ret,
                                            prog=_lxc.PROGRAM, vers=_lxc.PROTOCOL_VERSION)  # fmt: skip
        return fds

    def _qemu_call(self, procedure: str, args: Any) -> Any:
        """One call of the QEMU program, whose procedures the remote program's table does not hold."""
        from pyvirt.remote import _qemu

        proc = _qemu.PROCEDURES[getattr(_qemu, f"QEMU_PROC_{procedure}")]
        reply = self._client.call(proc.number, proc.pack_args, args, proc.unpack_ret, prog=_qemu.PROGRAM,
                                  vers=_qemu.PROTOCOL_VERSION)  # fmt: skip
        return None if reply is None else reply[0]  # (None: a procedure without a return value)

    def _write_stream(self, procedure: str, args: Any, name: str) -> tuple[Any, int]:
        """A write stream behind a socket: (the call's reply, the caller's end of the socket).

        A thread sends what the caller writes; at the caller's end of data it
        finishes the stream, which the server confirms once the data is
        stored, and only then closes the socket, after the server's error
        message if it had one.
        """
        import contextlib
        import socket
        import threading

        number, pack, _, unpack = self._wire(procedure, None)
        reply, stream = self._client.open_stream(number, pack, args, unpack)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)

        def copy() -> None:
            error = ""
            try:
                while data := ours.recv(1 << 20):
                    stream.send(data)
                stream.finish()
            except (Error, OSError, TimeoutError) as e:
                error = e.message if isinstance(e, Error) else str(e)
                stream.abort()
                with contextlib.suppress(OSError):  # let the caller finish writing, then tell it why
                    while ours.recv(1 << 20):
                        pass
            finally:
                with contextlib.suppress(OSError):
                    if error:
                        ours.sendall(error.encode())
                    ours.shutdown(socket.SHUT_WR)
                ours.close()

        threading.Thread(target=copy, name=f"pyvirt-{name}", daemon=True).start()
        return reply, theirs.detach()

    # ------------------------------------------------------------------ events
    def _on_message(self, header: Header, msg: bytes) -> None:
        from pyvirt.remote.events import deliver
        from pyvirt.remote.message import HEADER_SIZE, LEN_SIZE
        from pyvirt.remote.xdr import decode

        if header.prog == _QEMU_PROGRAM:  # (libvirt-qemu's program sends its monitor events)
            self._on_qemu_message(header, msg)
            return
        mod = _procedures()
        proc = mod.PROCEDURES.get(header.proc)
        if proc is None or not proc.is_message or self._events is None:
            return
        value = decode(proc.unpack_args, msg, LEN_SIZE + HEADER_SIZE)
        # The server may send the first event right behind its reply to the registration: waiting for
        # the lock lets the registering thread store the callback id first. Callbacks run without it.
        with self._event_lock:
            callbacks = (self._domain_callback, self._network_callback, dict(self._typed_callbacks))
        deliver(self._events, proc.name, value, callbacks)

    def want_domain_events(self, on: bool) -> None:
        """Register (or drop) this connection's one lifecycle callback on the server."""
        with self._event_lock:
            if on and self._domain_callback is None:
                self._client.set_event_handler(self._on_message)
                self._domain_callback = self.call("CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY", (_LIFECYCLE, None))[0]
            elif not on and self._domain_callback is not None:
                callback, self._domain_callback = self._domain_callback, None
                self.call("CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY", (callback,))

    def _on_qemu_message(self, header: Header, msg: bytes) -> None:
        """libvirt-qemu's QEMU_PROC_DOMAIN_MONITOR_EVENT, for this connection's callback, to the sink."""
        from pyvirt.remote import _qemu
        from pyvirt.remote.message import HEADER_SIZE, LEN_SIZE
        from pyvirt.remote.xdr import decode

        proc = _qemu.PROCEDURES.get(header.proc)
        if proc is None or not proc.is_message or self._events is None:
            return
        callback_id, dom, event, seconds, micros, details = decode(proc.unpack_args, msg, LEN_SIZE + HEADER_SIZE)
        with self._event_lock:
            ours = self._typed_callbacks.get("qemu-monitor")
        if callback_id == ours:
            self._events.qemu_monitor_event(domain_ref(dom), event, seconds, micros, details)

    def want_typed_events(self, kind: str, on: bool) -> None:
        """Register (or drop) this connection's one callback for an event kind of the generic path."""
        from pyvirt.remote.events import TYPED

        if kind == "qemu-monitor":  # libvirt-qemu's program; every event comes, the local callbacks filter
            with self._event_lock:
                callback = self._typed_callbacks.get(kind)
                if on and callback is None:
                    self._client.set_event_handler(self._on_message)
                    self._typed_callbacks[kind] = self._qemu_call("CONNECT_DOMAIN_MONITOR_EVENT_REGISTER",
                                                                  (None, None, 0))  # fmt: skip
                elif not on and callback is not None:
                    del self._typed_callbacks[kind]
                    self._qemu_call("CONNECT_DOMAIN_MONITOR_EVENT_DEREGISTER", (callback,))
            return
        register, deregister, event_id, _ = TYPED[kind]
        with self._event_lock:
            callback = self._typed_callbacks.get(kind)
            if on and callback is None:
                self._client.set_event_handler(self._on_message)
                self._typed_callbacks[kind] = self.call(register, (event_id, None))[0]
            elif not on and callback is not None:
                del self._typed_callbacks[kind]
                self.call(deregister, (callback,))

    def want_network_events(self, on: bool) -> None:
        with self._event_lock:
            if on and self._network_callback is None:
                self._client.set_event_handler(self._on_message)
                self._network_callback = self.call("CONNECT_NETWORK_EVENT_REGISTER_ANY", (_LIFECYCLE, None))[0]
            elif not on and self._network_callback is not None:
                callback, self._network_callback = self._network_callback, None
                self.call("CONNECT_NETWORK_EVENT_DEREGISTER_ANY", (callback,))


_QEMU_PROGRAM = 0x20008087  # libvirt-qemu's program (pyvirt.remote._qemu.PROGRAM, not imported per message)

# libvirt's client starts the session daemon itself (virNetSocketNewConnectUNIX with spawnDaemon):
# ``libvirtd --timeout=120`` in the background, then it retries the socket for a while.
_SESSION_TIMEOUT = "120"
_SPAWN_WAIT = 20.0


def ensure_session_daemon(path: str) -> None:
    """Start the user's session pyvirtd when nothing listens on ``path`` yet.

    ``pyvirtd -d`` returns once the daemon serves its sockets (or has failed,
    with its reason on stderr, which becomes this error). Two clients racing
    are fine: the second daemon finds the pid file locked and exits, and both
    clients connect to the first.
    """
    import errno as _errno
    import socket as _socket
    import subprocess
    import time

    def listening() -> bool:
        probe = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        try:
            probe.connect(path)
        except OSError as exc:
            # anything but "nobody there" is for the real connect to report
            return exc.errno not in (_errno.ENOENT, _errno.ECONNREFUSED)
        finally:
            probe.close()
        return True

    if listening():
        return
    started = subprocess.run(
        [sys.executable, "-m", "pyvirt.daemon", "--session", "--daemon", "--timeout", _SESSION_TIMEOUT],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False,
    )  # fmt: skip
    deadline = time.monotonic() + _SPAWN_WAIT
    while not listening():
        # A failed spawn may have lost a race with another client's daemon, which is still starting: worth
        # waiting for only while that daemon lives. Otherwise the failure is final (libvirt's client, which
        # serializes spawns on a lock file, gives up at once too), not something to wait out for 20 s.
        if time.monotonic() > deadline or (started.returncode != 0 and not _session_daemon_alive()):
            why = started.stderr.decode(errors="replace").strip().removeprefix("pyvirtd: ")
            raise ConnectionError(
                ErrorCode.NO_CONNECT,
                f"Failed to start the session daemon: {why or f'exit status {started.returncode}'}",
                domain=ErrorDomain.RPC,
                verbatim=True,
            )
        time.sleep(0.02)


def _session_daemon_alive() -> bool:
    """Whether the session daemon's pid file (the one ``pyvirtd --session`` takes) names a live process.

    A pid file that exists but holds no pid yet belongs to a daemon between
    taking its lock and writing it: alive. One whose process is gone was left
    by a killed daemon. (Reading the pid, not probing the lock: taking even a
    shared lock for a moment could make a third client's daemon fail its own.)
    """
    import os

    from pyvirt.daemon.sockets import daemon_paths

    try:
        with open(daemon_paths(system=False).pid_file, encoding="ascii", errors="replace") as f:
            text = f.read().strip()
    except OSError:
        return False
    if not text.isdigit():
        return True
    try:
        os.kill(int(text), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def open_remote(uri: URI, read_only: bool, *, spawn_session: bool = False) -> Connection:
    """``pyvirt.open`` for a URI with a transport: a Connection whose driver is the daemon behind the socket.

    The connection's hooks are bound without a plugin manager
    (:func:`pyvirt.plugin.facade.direct_calls`), each on its first call: the
    methods generated from the hook specs are checked against them by pluggy
    in the tests, and registering them anew at every open cost a short
    ``pyvirsh`` run more than its RPC calls.
    """
    from pyvirt.connection import Connection
    from pyvirt.plugin.facade_base import direct_calls

    if spawn_session and uri.param("socket") is None:
        ensure_session_daemon(default_socket(read_only, True))
    conn_obj = RemoteConnection.open(uri, read_only)
    calls = direct_calls(conn_obj, read_only=read_only, hooks=RemoteConnection.HOOKS, bind=conn_obj.bind_hook)
    return Connection(uri, calls, uri.driver, read_only, conn_obj.event_sink)
