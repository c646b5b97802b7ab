"""What pyvirtd owns: one in-process connection per driver URI, shared by every client, and the event fan-out.

libvirtd's drivers are created once by ``stateInitialize`` and every client's
``virConnectOpen`` reaches the same driver state. pyvirtd does the same with
pyvirt's in-process drivers, through their state hooks
(``pyvirt.plugin.specs.state``): at start each installed stateful driver
creates and holds its state for this instance (configurations and status
files loaded, running guests reconnected, autostart once per host boot),
then the daemon opens one connection per driver on that state, and a
client's ``CONNECT_OPEN`` gets the already-open connection for its URI.
Read-only clients share it too; the remote program refuses their write
calls before they reach the driver, from libvirt's own ACL annotations.
SIGHUP is ``state_reload``; SIGTERM is ``state_shutdown_prepare``,
``state_shutdown_wait`` (30 seconds at most, as libvirtd) and
``state_cleanup``, in the reverse order of initialisation. Guests keep
running. A driver without state hooks is simply opened, as before.

Events: the daemon registers once per shared connection and fans each event
out to the clients that asked for it, so an event caused by one client (or by
a guest) reaches every registered client, as with libvirtd.

Instances: the system instance serves ``DRIVER:///system``, a session instance
``DRIVER:///session``; an instance started with ``--root DIR`` serves the same
URIs from ``DRIVER:///embed?root=DIR``, so tests and several daemons can share
one machine. ``test:///default`` (and ``test:///FILE``) are served by any instance.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pyvirt.daemon.sockets import DaemonPaths
from pyvirt.daemon.state_calls import StateCalls
from pyvirt.errors import ConnectionError, Error, ErrorCode, ErrorDomain
from pyvirt.events import EVENT_KINDS, LifecycleEvent, NetworkLifecycleEvent
from pyvirt.plugin.entry_point_index import entry_point_value
from pyvirt.uri import parse_uri

if TYPE_CHECKING:
    from pyvirt.connection import Connection

__all__ = ["DaemonState", "SharedConnection"]

log = logging.getLogger("pyvirt.daemon.state")

# Drivers with host state, initialised at start in this order (libvirtd's: network and storage before
# the hypervisors that use them).
_STATEFUL = ("network", "nwfilter", "storage", "qemu", "lxc")
# A client's CONNECT_OPEN without a URI probes these, as libvirtd probes its drivers.
_PROBE_ORDER = ("qemu", "lxc", "test")
# The URI whose state lives exactly as long as its connections (see ``DaemonState.prepare_spare``).
TEST_DEFAULT = "test:///default"
# libvirtd's shutdown gives the drivers' shutdown-wait this long before it exits regardless.
SHUTDOWN_WAIT = 30.0

DomainListener = Callable[[LifecycleEvent], None]
NetworkListener = Callable[[NetworkLifecycleEvent], None]


class SharedConnection:
    """One driver connection of the daemon and the clients' event listeners on it."""

    def __init__(self, uri: str, conn: Connection) -> None:
        self.uri = uri
        self.conn = conn
        self.clients = 0
        self._lock = threading.Lock()
        self._domain: dict[int, tuple[DomainListener, str | None]] = {}
        self._network: dict[int, tuple[NetworkListener, str | None]] = {}
        # the generic path (reboot, device-removed, agent-lifecycle, pool-lifecycle): kind -> key -> listener
        self._typed: dict[str, dict[int, tuple[Callable[[Any], None], str | None]]] = {k: {} for k in EVENT_KINDS}
        self._next = 0
        conn.register_domain_event(self._on_domain)
        with contextlib.suppress(Error):  # a driver without networks
            conn.register_network_event(self._on_network)
        for kind in EVENT_KINDS:
            conn.register_event(kind, functools.partial(self._on_typed, kind))

    def _on_typed(self, kind: str, ev: Any) -> None:
        with self._lock:
            targets = list(self._typed[kind].values())
        subject = getattr(ev[0], "uuid", None)
        for listener, uuid in targets:
            if uuid is None or uuid == subject:
                listener(ev)

    def listen(self, kind: str, listener: Callable[[Any], None], uuid: str | None) -> int:
        """Add a client's listener for one kind of :data:`pyvirt.events.EVENT_KINDS`; returns its key."""
        with self._lock:
            self._next += 1
            self._typed[kind][self._next] = (listener, uuid)
            return self._next

    def _on_domain(self, ev: LifecycleEvent) -> None:
        with self._lock:
            targets = list(self._domain.values())
        for listener, uuid in targets:
            if uuid is None or uuid == ev.domain.uuid:
                listener(ev)

    def _on_network(self, ev: NetworkLifecycleEvent) -> None:
        with self._lock:
            targets = list(self._network.values())
        for listener, uuid in targets:
            if uuid is None or uuid == ev.network.uuid:
                listener(ev)

    def listen_domain(self, listener: DomainListener, uuid: str | None) -> int:
        with self._lock:
            self._next += 1
            self._domain[self._next] = (listener, uuid)
            return self._next

    def listen_network(self, listener: NetworkListener, uuid: str | None) -> int:
        with self._lock:
            self._next += 1
            self._network[self._next] = (listener, uuid)
            return self._next

    def unlisten(self, key: int) -> None:
        with self._lock:
            self._domain.pop(key, None)
            self._network.pop(key, None)
            for listeners in self._typed.values():
                listeners.pop(key, None)


class DaemonState:
    """The instance's driver connections: opened at start, shared by clients, closed at shutdown."""

    def __init__(self, paths: DaemonPaths) -> None:
        self.paths = paths
        self._lock = threading.Lock()
        self._conns: dict[str, SharedConnection] = {}
        # test:///default built from its fixture ahead of the client that will open it (see ``_make_spare``)
        self._spare: SharedConnection | None = None
        self._spare_thread: threading.Thread | None = None
        self._test_lock = threading.Lock()
        self._closing = False
        # whether each hypervisor driver is installed, looked up once per daemon (libvirtd loads its drivers once)
        self._installed: dict[str, bool] = {}
        # the drivers whose state is held, in initialisation order
        self._states: list[StateCalls] = []
        self._prepared = False
        self._reloading: threading.Thread | None = None

    # -- URIs -------------------------------------------------------------------------------
    @property
    def mode_path(self) -> str:
        return "/system" if self.paths.system else "/session"

    def local_uri(self, requested: str | None) -> tuple[str, str]:
        """(the URI the client sees, the in-process URI that serves it) for a CONNECT_OPEN name."""
        if not requested:
            for driver in _PROBE_ORDER:
                if driver != "test" and self._has_driver(driver):
                    requested = f"{driver}://{self.mode_path}"
                    break
            else:
                requested = "test:///default"
        try:
            uri = parse_uri(requested)
        except Error as e:
            raise ConnectionError(ErrorCode.NO_CONNECT, e.message, domain=ErrorDomain.REMOTE) from None
        if uri.is_remote:
            raise ConnectionError(ErrorCode.NO_CONNECT, requested, domain=ErrorDomain.REMOTE)
        if not self._has_driver(uri.driver):
            raise ConnectionError(ErrorCode.NO_CONNECT, requested, domain=ErrorDomain.REMOTE)
        if uri.driver == "test":
            return requested, requested
        if uri.path not in ("/system", "/session") or uri.param("root") is not None:
            raise ConnectionError(
                ErrorCode.NO_CONNECT,
                f"unexpected {uri.driver} URI path '{uri.path}', try {uri.driver}://{self.mode_path}",
                domain=ErrorDomain.REMOTE,
            )
        if uri.path != self.mode_path:
            other = "system" if self.mode_path == "/session" else "session"
            raise ConnectionError(
                ErrorCode.NO_CONNECT,
                f"this daemon serves {uri.driver}://{self.mode_path}; {uri.driver}:///{other} belongs to another instance",
                domain=ErrorDomain.REMOTE,
            )
        if self.paths.root is not None:
            return requested, f"{uri.driver}:///embed?root={self.paths.root}"
        return requested, requested

    # -- state driver lifecycle -------------------------------------------------------------
    def initialize(self) -> None:
        """libvirt's stateInitialize: every installed stateful driver creates and holds its state, in order.

        A driver that cannot start (no KVM, no cgroups, ...) is logged and the
        daemon goes on without it.
        """
        for driver in _STATEFUL:
            if not self._has_driver(driver):
                continue
            try:
                held = self._initialize_state(driver)
                if held is False:
                    log.info("%s driver: state initialization skipped", driver)
                    continue
                _shown, local = self.local_uri(f"{driver}://{self.mode_path}")
                self.acquire(local)  # the daemon's own share: events fan out from it, busy() looks at it
            except Error as e:
                log.error("%s driver not available: %s", driver, e.message)
            else:
                log.info("%s driver initialised", driver)
        self._initialize_third_party_states()
        self.prepare_spare()

    def _initialize_third_party_states(self) -> None:
        """The state hooks of installed hypervisor drivers pyvirt does not ship, after pyvirt's own, by name.

        pyvirt's own drivers without state (test, esx, xen) are never loaded for
        this. A third party's driver that fails to load or to initialize, however
        it fails, is logged and the daemon goes on without its state: it must
        not take the other drivers down.
        """
        from pyvirt.plugin.entry_point_index import entry_point_names
        from pyvirt.plugin.registry import OWN_HYPERVISOR_DRIVERS

        for driver in entry_point_names("pyvirt.hypervisor"):
            if driver in OWN_HYPERVISOR_DRIVERS:
                continue
            try:
                held = self._initialize_state(driver)
                if not held:  # no state hooks, or nothing to hold for this kind of instance
                    continue
                _shown, local = self.local_uri(f"{driver}://{self.mode_path}")
                self.acquire(local)
            except Error as e:
                log.error("%s driver not available: %s", driver, e.message)
            except Exception:
                log.exception("%s driver not available", driver)
            else:
                log.info("%s driver initialised", driver)

    def _initialize_state(self, driver: str) -> bool | None:
        """``state_initialize`` of one driver: True (held), False (skipped) or None (no state hooks)."""
        from pyvirt.plugin.registry import load_driver

        calls = StateCalls.bind(load_driver("hypervisor", driver), driver)
        if calls is None:
            return None
        log.info("%s: state_initialize", driver)
        result = calls.initialize(privileged=self.paths.system, root=self.paths.root)
        if result:
            self._states.append(calls)
        return result

    def _each_state(self, step: Callable[[StateCalls], None], name: str, reverse: bool = False) -> None:
        """One step (``name``: its hook, for the log) for every held driver state in turn; a failure is
        logged and the others still run."""
        for calls in reversed(self._states) if reverse else list(self._states):
            log.info("%s: %s", calls.name, name)
            try:
                step(calls)
            except Exception:
                log.exception("%s: %s failed", calls.name, name)

    def acquire(self, local_uri: str) -> SharedConnection:
        """The shared connection for ``local_uri``, opened on first use."""
        if local_uri != TEST_DEFAULT:
            return self._acquire(local_uri)
        with self._test_lock:  # never beside a spare being built, nor a last connection being closed
            return self._acquire(local_uri)

    def _acquire(self, local_uri: str) -> SharedConnection:
        with self._lock:
            shared = self._conns.get(local_uri)
            if shared is None:
                if local_uri == TEST_DEFAULT and self._spare is not None:
                    shared, self._spare = self._spare, None
                else:
                    shared = SharedConnection(local_uri, _open_local(local_uri))
                self._conns[local_uri] = shared
            shared.clients += 1
            return shared

    def release(self, shared: SharedConnection) -> None:
        if shared.uri != TEST_DEFAULT:
            self._release(shared)
        else:
            with self._test_lock:
                dropped = self._release(shared)
            if dropped:
                self.prepare_spare()

    def _release(self, shared: SharedConnection) -> bool:
        """One client fewer; True when that dropped the connection (and with it a test driver's state)."""
        with self._lock:
            shared.clients -= 1
            # libvirt's test driver drops test:///default's state with its last connection (testConnectClose):
            # the next client starts from the fixture again, as it does against libvirtd
            drop = shared.clients == 0 and shared.uri.startswith("test:") and self._conns.get(shared.uri) is shared
            if drop:
                del self._conns[shared.uri]
        if drop:
            shared.conn.close()
        return drop

    def prepare_spare(self) -> None:
        """Build the next ``test:///default`` from its fixture now, in a thread of its own, unless one waits.

        Why: a tool such as virsh opens test:///default, makes one call and
        closes it, so each run paid for building the driver and binding it to
        pluggy (the fixture parsed, a hundred hook implementations validated)
        inside its ``CONNECT_OPEN``, on the event loop. The spare is built
        while nobody uses that URI (between two such runs), and nobody sees it
        before its ``CONNECT_OPEN``: the next client still starts from the
        fixture, as each first connection to libvirt's test driver does.

        Every connection to test:///default in this process shares one state
        while any is open, so the spare is built only while no other exists,
        and opening, closing and building that URI's connections take turns
        (``_test_lock``): a spare never shares a state a client has changed.
        """
        with self._lock:
            busy = self._spare_thread is not None and self._spare_thread.is_alive()
            if busy or self._spare is not None or self._closing:
                return
            self._spare_thread = threading.Thread(target=self._make_spare, name="test-default-spare", daemon=True)
            self._spare_thread.start()

    def _make_spare(self) -> None:
        with self._test_lock:
            with self._lock:
                if TEST_DEFAULT in self._conns or self._spare is not None or self._closing:
                    return  # a client opened it meanwhile: its last close prepares the next spare
            try:
                spare = SharedConnection(TEST_DEFAULT, _open_local(TEST_DEFAULT))
            except Exception:
                log.exception("building a spare %s", TEST_DEFAULT)
                return
            with self._lock:
                keep = not self._closing
                if keep:
                    self._spare = spare
            if not keep:  # shutting down meanwhile
                spare.conn.close()

    def _has_driver(self, driver: str) -> bool:
        """Whether a hypervisor driver ``driver`` is installed, as found the first time anybody asked."""
        known = self._installed.get(driver)
        if known is None:
            known = self._installed[driver] = entry_point_value("pyvirt.hypervisor", driver) is not None
        return known

    def busy(self) -> bool:
        """True while a guest or container runs: an idle session daemon must not exit under it."""
        with self._lock:
            conns = list(self._conns.values())
        for shared in conns:
            if shared.uri.startswith("test:"):
                continue
            try:
                if any(ref.id != -1 for ref in shared.conn.calls.domain_list_all()):
                    return True
            except Error:
                continue
        return False

    def reload(self) -> None:
        """SIGHUP (the daemon's own configuration is re-read by the caller): libvirt's stateReload, per driver.

        In a thread of its own, as libvirtd's ``daemonReloadHandler``: a
        reload may start networks and pools (pyroute2 runs an asyncio loop
        of its own, which cannot run inside the daemon's), and clients must
        not wait for it. A SIGHUP while a reload runs is ignored, with
        libvirtd's warning.
        """
        with self._lock:
            if self._reloading is not None and self._reloading.is_alive():
                log.warning("Drivers are not initialized, reload ignored")
                return
            self._reloading = threading.Thread(target=self._reload, name="daemon-reload", daemon=True)
            self._reloading.start()

    def _reload(self) -> None:
        log.info("Reloading configuration on SIGHUP")
        self._each_state(StateCalls.reload, "state_reload")

    def shutdown_prepare(self) -> None:
        """The first half of libvirtd's shutdown: the drivers begin no new work. Returns at once."""
        if not self._prepared:
            self._prepared = True
            self._each_state(StateCalls.shutdown_prepare, "state_shutdown_prepare")

    def shutdown_wait(self, timeout: float = SHUTDOWN_WAIT) -> bool:
        """The second half: wait for the drivers' work in flight, ``timeout`` seconds in all (libvirtd's 30 s)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            reloading = self._reloading
        if reloading is not None:  # a reload still running is work in flight too
            reloading.join(timeout)
        done = True
        for calls in list(self._states):
            log.info("%s: state_shutdown_wait", calls.name)
            try:
                finished = calls.shutdown_wait(timeout=max(0.0, deadline - time.monotonic()))
            except Exception:
                log.exception("%s: state_shutdown_wait failed", calls.name)
                continue
            if not finished:
                log.warning("%s: work still in flight after %.0f s, shutting down anyway", calls.name, timeout)
                done = False
        return done

    def cleanup(self) -> None:
        """libvirt's daemon shutdown: prepare, wait, close the shared connections, stateCleanup; guests keep running."""
        self.shutdown_prepare()
        self.shutdown_wait()
        with self._lock:
            self._closing = True
            spare_thread = self._spare_thread
        if spare_thread is not None:
            spare_thread.join(30)
        with self._lock:
            conns, self._conns = list(self._conns.values()), {}
            if self._spare is not None:
                conns.insert(0, self._spare)
                self._spare = None
        for shared in reversed(conns):
            try:
                shared.conn.close()
            except Exception:
                log.exception("closing %s", shared.uri)
        self._each_state(StateCalls.cleanup, "state_cleanup", reverse=True)
        self._states.clear()


def _open_local(uri: str) -> Connection:
    """An in-process connection: the daemon is where drivers run, never a client of itself."""
    from pyvirt.opening import open_local

    conn: Connection = open_local(uri)
    return conn
