"""QMP through qemu.qmp, usable from synchronous driver code.

qemu.qmp is asyncio-based; each monitor runs its own event loop in a daemon
thread. ``execute`` submits a command to that loop and waits with a timeout;
events are delivered, in order, from a dispatcher thread of their own: a
callback that waits for a lock held by a caller waiting on a command reply
must not stall the loop that would deliver that reply. A lost connection
(QEMU exited) is reported once through ``on_eof``, after the last event.

When QEMU hangs up (it exits: its monitor socket closes a few milliseconds
before the kernel has torn the process down), the monitor winds itself down
at once: it disconnects, hands the events still buffered to the dispatcher,
and both threads end by themselves. The destroy or exit handler's ``close``
then finds nothing left to wait for, instead of paying two thread hand-offs
and two joins after QEMU is gone, while the client waits for the reply.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from qemu.qmp import QMPClient, Runstate
from qemu.qmp.error import QMPError

from pyvirt.errors import Error, ErrorCode, ErrorDomain, OperationFailedError
from pyvirt.util.unix_socket import short_path
from pyvirt_qemu.shared_monitor import shared_execute

__all__ = ["Monitor"]

EventCallback = Callable[[str, dict[str, Any]], None]


class _ReportedByCaller(logging.Filter):
    """Demote qemu.qmp's own error records to debug: every one of them is also raised to the monitor's
    caller, which reports it in libvirt's words (a QEMU that exits while its monitor connects is normal
    during a destroy), so the daemon's log does not carry each failure twice at error level. The
    library's "this is a bug" records (critical) stay as they are."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno in (logging.WARNING, logging.ERROR):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


_REPORTED_BY_CALLER = _ReportedByCaller()
log = logging.getLogger("pyvirt_qemu.monitor")


def _quiet_when_qemu_is_gone(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The monitor loop's exception handler: a QEMU that exits mid-session leaves qemu.qmp's internal
    reader/writer gathering an EOF nobody retrieves, which asyncio would log at error level with its
    traceback. The monitor already reports that QEMU is gone (``on_eof``, the caller's error); anything
    else still reaches asyncio's default handler."""
    if isinstance(context.get("exception"), (EOFError, ConnectionError)):
        log.debug("QMP loop: %s", context.get("message"), exc_info=context.get("exception"))
        return
    loop.default_exception_handler(context)


class Monitor:
    def __init__(
        self, name: str, on_event: EventCallback | None = None, on_eof: Callable[[], None] | None = None
    ) -> None:
        self.name = name
        self._on_event = on_event
        self._on_eof = on_eof
        self._loop = asyncio.new_event_loop()
        self._loop.set_exception_handler(_quiet_when_qemu_is_gone)
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"qmp-{name}", daemon=True)
        self._thread.start()
        self._client: QMPClient | None = None
        # QEMU serves one QMP client: another process of ours may hold it (then commands fail like libvirt's job lock)
        self.held_elsewhere = False
        self._owner_fd: int | None = None
        # Take ``PATH.owner`` while connected, for other processes on the same paths; pyvirtd, which owns
        # its paths alone, does not (see ``QemuState``'s ownership).
        self.claim_owner = True
        # (socket, lock file) of the guest's second QMP monitor, used one command at a time while held elsewhere
        self.shared: tuple[str, str] | None = None
        self._events_task: Any = None
        # events; a threading.Event is a marker of ``sync_events``, set when the dispatcher reaches it
        # (name, data, the whole QMP message)
        self._queue: queue.Queue[tuple[str, dict[str, Any], Any] | threading.Event | None] = queue.Queue()
        # the QMP message whose ``on_event`` runs now (read by the handler on the dispatcher thread: libvirt's
        # monitor event carries QEMU's timestamp and raw data, which ``on_event``'s arguments leave out)
        self.delivering: Any = None
        self._dispatcher = threading.Thread(target=self._dispatch, name=f"qmp-events-{name}", daemon=True)
        self._dispatcher.start()
        self._closed = False
        # Why the connection ended when QEMU did not simply hang up (a reply over qemu.qmp's 10 MiB limit, a
        # message that is not JSON, a failed write): libvirt's monitor error, as against its EOF. Set before
        # ``on_eof`` runs, so that the owner can tell a broken monitor of a running guest from an exit.
        self.failure: BaseException | None = None
        # QEMU hung up and the loop wound itself down (``_end_on_hang_up``): nothing more runs on it
        self._ended = False
        self._busy = False  # an event handler is running (it may wait for a lock our closer holds)
        self._close_lock = threading.Lock()
        # commands waiting for QEMU's answer: close() cancels them, so that no caller waits out its timeout
        # for a reply that a closed monitor will never deliver (its loop may stop before running them)
        self._pending: set[concurrent.futures.Future[Any]] = set()

    def _dispatch(self) -> None:
        while (item := self._queue.get()) is not None:
            if isinstance(item, threading.Event):
                item.set()
                continue
            with self._close_lock:
                if self._closed:  # events of a closed monitor are nobody's business any more
                    continue
                self._busy = True
            try:
                if self._on_event is not None:
                    self.delivering = item[2]
                    with contextlib.suppress(Exception):
                        self._on_event(item[0], item[1])
            finally:
                self.delivering = None
                with self._close_lock:
                    self._busy = False
        if self._on_eof is not None:
            self._on_eof()

    def sync_events(self, timeout: float = 2.0) -> None:
        """Return once every event QEMU sent before its last reply has been handled (``on_event`` returned).

        Why: a caller that learns from a reply that something ended (``query-migrate``
        says "completed") must report it after the events that led there (each pass's
        MIGRATION_PASS), as libvirt, which learns both from one ordered stream, does.
        Events precede the reply on QEMU's socket, so they are in qemu.qmp's queue by
        now: wait until the pump has taken them, then until the dispatcher reaches a
        marker queued behind them. Bounded: a monitor that closes meanwhile has no
        events left to report.
        """
        client = self._client
        if client is None or self._closed or self._ended or self.dispatching_here():
            return
        deadline = time.monotonic() + timeout

        async def pumped() -> None:
            while not client.events.empty() and time.monotonic() < deadline:
                await asyncio.sleep(0.001)

        try:
            self._run(pumped(), timeout)
        except Exception:  # (closed meanwhile, or the wait ran out: nothing more to wait for)
            return
        marker = threading.Event()
        self._queue.put(marker)
        marker.wait(max(0.0, deadline - time.monotonic()))

    def dispatching_here(self) -> bool:
        """Whether the calling thread delivers this monitor's events (an event handler checks that the event
        comes from the guest's current QEMU, not from one that has just been replaced)."""
        return threading.current_thread() is self._dispatcher

    def _run(self, coro: Any, timeout: float, *, closing: bool = False) -> Any:
        with self._close_lock:
            if (self._closed and not closing) or self._ended:
                coro.close()
                raise self._closed_error()
            fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
            self._pending.add(fut)
        try:
            return fut.result(timeout)
        except TimeoutError:
            fut.cancel()
            raise OperationFailedError(
                ErrorCode.OPERATION_TIMEOUT, f"QEMU monitor of '{self.name}' did not answer in {timeout}s",
                domain=ErrorDomain.QEMU,
            ) from None  # fmt: skip
        except concurrent.futures.CancelledError:
            raise self._closed_error() from None
        finally:
            with self._close_lock:
                self._pending.discard(fut)

    def _closed_error(self) -> OperationFailedError:
        return OperationFailedError(
            ErrorCode.OPERATION_FAILED, f"QEMU monitor of '{self.name}' was closed (QEMU is gone)",
            domain=ErrorDomain.QEMU,
        )  # fmt: skip

    def connect(self, path: str, timeout: float = 30.0, alive: Callable[[], bool] = lambda: True) -> None:
        """Connect to QEMU's QMP socket, retrying while QEMU is still creating it.

        Waiting for the socket file first keeps qemu.qmp from logging a failed
        attempt per poll; ``alive`` ends the wait early when QEMU already died
        (a bad option exits at once, and thirty seconds of polling helps nobody).
        """
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if not alive():
                last = OSError("QEMU exited before its monitor socket appeared")
                break
            if not os.path.exists(path):
                time.sleep(0.005)
                continue
            # qemu.qmp binds its queues and events to the running loop: build the client inside it.
            client = self._run(self._new_client(), 5.0)
            try:
                with short_path(path) as reachable:  # an embedded root can make the path too long
                    self._run(client.connect(reachable), max(1.0, deadline - time.monotonic()))
            except (OSError, QMPError) as exc:
                last = exc
                time.sleep(0.02)
                continue
            self._client = client
            self._events_task = asyncio.run_coroutine_threadsafe(self._pump_events(client), self._loop)
            asyncio.run_coroutine_threadsafe(self._end_on_hang_up(client), self._loop)
            if self.claim_owner:
                self._claim_ownership(path)
            return
        raise OperationFailedError(
            ErrorCode.OPERATION_FAILED, f"cannot connect to QEMU monitor of '{self.name}' at {path}: {last}",
            domain=ErrorDomain.QEMU,
        )  # fmt: skip

    def _claim_ownership(self, path: str) -> None:
        """Hold ``PATH.owner`` locked while connected: other processes then know at once that QMP's one
        client slot is taken, instead of waiting for a greeting that never comes."""
        with contextlib.suppress(OSError):
            fd = os.open(f"{path}.owner", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return
            self._owner_fd = fd

    @staticmethod
    def held_by_another(path: str) -> bool:
        """Whether a live process holds the monitor at ``path`` (its owner lock is taken)."""
        try:
            fd = os.open(f"{path}.owner", os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return False
        finally:
            os.close(fd)  # releases our own probe lock too
        return False

    async def _new_client(self) -> QMPClient:
        client = QMPClient(self.name)
        client.logger.addFilter(_REPORTED_BY_CALLER)
        return client

    async def _pump_events(self, client: QMPClient) -> None:
        with contextlib.suppress(Exception):  # (cancelled by ``_shutdown``, which ends the dispatcher)
            async for event in client.events:
                self._deliver(event)

    def _deliver(self, event: Any) -> None:
        data = event.get("data", {})
        self._queue.put((str(event["event"]), dict(data) if isinstance(data, dict) else {}, event))

    async def _end_on_hang_up(self, client: QMPClient) -> None:
        """Wind the monitor down as soon as QEMU hangs up (qemu.qmp leaves a session that hit EOF in
        DISCONNECTING until someone disconnects it): commands fail from now on as after ``close``, the
        events still buffered reach the dispatcher, which then ends, and the loop stops, ending its thread.

        This runs while the kernel is still tearing QEMU down, before its pidfd
        says it is gone: the work ``close`` would otherwise do after the exit,
        with the destroy's caller waiting, is done by then.
        """
        while client.runstate == Runstate.RUNNING:
            await client.runstate_changed()
        with self._close_lock:
            if self._closed:  # close() is winding us down itself
                return
            self._ended = True
            pending = list(self._pending)
        await self._shutdown()
        for fut in pending:  # submitted before the hang-up and perhaps not started: their callers fail now
            fut.cancel()
        asyncio.get_running_loop().stop()

    def execute(
        self, command: str, arguments: dict[str, Any] | None = None, timeout: float = 30.0, *, oob: bool = False
    ) -> Any:
        """Run a QMP command. ``oob``: out of band (QEMU's ``exec-oob``, negotiated at connect), answered by the
        monitor's own thread even while QEMU's main loop is blocked, e.g. ``migrate-recover`` on a destination
        whose vCPU holds the main lock while it waits for a post-copy page that cannot come."""
        if self._client is None and self.held_elsewhere and self.shared is not None:
            path, lock = self.shared
            return shared_execute(self.name, path, lock, command, arguments, timeout)
        if self._client is None and self.held_elsewhere:
            raise OperationFailedError(
                ErrorCode.OPERATION_TIMEOUT,
                f"cannot acquire state change lock: the QEMU monitor of '{self.name}' is held by another process",
                domain=ErrorDomain.QEMU,
            )  # fmt: skip
        if self._client is None:
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"QEMU monitor of '{self.name}' is not connected")
        try:
            return self._run(self._client.execute(command, arguments, oob=oob), timeout)
        except Error:
            raise
        except Exception as exc:  # QMPError, or the connection torn down under us: QEMU went away mid-command
            raise OperationFailedError(
                ErrorCode.OPERATION_FAILED, f"QEMU '{command}' failed: {exc}", domain=ErrorDomain.QEMU
            ) from exc

    def execute_message(self, message: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
        """One QMP message exactly as a user wrote it (``qemu-monitor-command``), QEMU's whole reply back: its
        ``return`` or its ``error``, as a dict in QEMU's member order, without the id qemu.qmp gave it.

        Why not :meth:`execute`: a failure here is an answer to show the user,
        not an error of the driver's, and libvirt passes it on as QEMU wrote it.
        """
        from qemu.qmp import ExecuteError, Message

        if self._client is None:
            raise OperationFailedError(
                ErrorCode.OPERATION_TIMEOUT if self.held_elsewhere else ErrorCode.OPERATION_FAILED,
                f"QEMU monitor of '{self.name}' is not connected",
                domain=ErrorDomain.QEMU,
            )
        try:
            value = self._run(self._client.execute_msg(Message(message)), timeout)
        except ExecuteError as exc:
            return {k: v for k, v in exc.received.items() if k != "id"}
        except Error:
            raise
        except Exception as exc:  # the connection torn down under us: QEMU went away mid-command
            raise OperationFailedError(
                ErrorCode.OPERATION_FAILED, f"QEMU '{message.get('execute')}' failed: {exc}", domain=ErrorDomain.QEMU
            ) from exc
        return {"return": value}

    async def _pass_fd(self, fd: int, name: str) -> None:
        assert self._client is not None
        self._client.send_fd_scm(fd)  # SCM_RIGHTS rides on the next message, which must be getfd
        await self._client.execute("getfd", {"fdname": name})

    def pass_fd(self, fd: int, name: str, timeout: float = 30.0) -> None:
        """Give QEMU a copy of ``fd`` under ``name`` (for ``fd:NAME`` URIs), as libvirt does for migration."""
        if self._client is None and self.held_elsewhere:
            raise OperationFailedError(
                ErrorCode.OPERATION_TIMEOUT,
                f"cannot acquire state change lock: the QEMU monitor of '{self.name}' is held by another process",
                domain=ErrorDomain.QEMU,
            )  # fmt: skip
        if self._client is None:
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"QEMU monitor of '{self.name}' is not connected")
        try:
            self._run(self._pass_fd(fd, name), timeout)
        except QMPError as exc:
            raise OperationFailedError(
                ErrorCode.OPERATION_FAILED, f"QEMU 'getfd' failed: {exc}", domain=ErrorDomain.QEMU
            ) from exc

    async def _add_fd(self, fd: int, arguments: dict[str, Any]) -> Any:
        assert self._client is not None
        self._client.send_fd_scm(fd)  # SCM_RIGHTS rides on the next message, which must be add-fd
        return await self._client.execute("add-fd", arguments)

    def add_fd(self, fd: int, fdset: int | None, opaque: str, timeout: float = 30.0) -> int:
        """Put a copy of ``fd`` in QEMU's descriptor set ``fdset`` (a new set QEMU numbers when None), for a
        ``/dev/fdset/N`` path (libvirt's qemuMonitorAddFileHandleToSet); returns the set's number."""
        if self._client is None:
            raise OperationFailedError(
                ErrorCode.OPERATION_TIMEOUT if self.held_elsewhere else ErrorCode.OPERATION_FAILED,
                f"QEMU monitor of '{self.name}' is not connected",
                domain=ErrorDomain.QEMU,
            )
        arguments: dict[str, Any] = {"opaque": opaque} | ({} if fdset is None else {"fdset-id": fdset})
        try:
            reply = self._run(self._add_fd(fd, arguments), timeout)
        except QMPError as exc:
            raise OperationFailedError(
                ErrorCode.OPERATION_FAILED, f"QEMU 'add-fd' failed: {exc}", domain=ErrorDomain.QEMU
            ) from exc
        return int(reply["fdset-id"])

    async def _shutdown(self) -> None:
        if self._client is not None:
            try:
                await self._client.disconnect()  # raises what ended the reader or writer, EOFError for a hang-up
            except Exception as exc:
                if not self._closed and not isinstance(exc, (EOFError, ConnectionResetError)):
                    self.failure = exc
                    log.warning("QEMU monitor of '%s' failed: %s", self.name, exc)
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._client is not None:  # events QEMU sent before it hung up that the pump had not taken yet
            for event in self._client.events.clear():
                self._deliver(event)
        self._queue.put(None)  # the dispatcher ends after the last event

    def close(self) -> None:
        """Disconnect, end both threads and close the event loop's descriptors (idempotent).

        A process opens and closes many connections while guests keep running;
        each monitor it leaves half-closed would keep two threads and the
        loop's epoll and wake-up sockets for the life of the process.
        """
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            busy = self._busy
            ended = self._ended
        if self._thread.is_alive() and not ended:
            with contextlib.suppress(Exception):
                self._run(self._shutdown(), 5.0, closing=True)
        with self._close_lock:
            leftovers = list(self._pending)
        for fut in leftovers:  # submitted to a loop that will not run them any more: their callers fail now
            fut.cancel()
        self._client = None
        if self._owner_fd is not None:
            os.close(self._owner_fd)
            self._owner_fd = None
        self._queue.put(None)
        current = threading.current_thread()
        if self._thread.is_alive() and not ended:
            # (after a hang-up the loop stops itself once its wind-down is through: stopped now, that would
            # be left half-done, its tasks pending)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if current is not self._thread:
            self._thread.join(5)
            if not self._thread.is_alive():
                self._loop.close()
        if current is not self._dispatcher and not busy:
            # a handler running now may be waiting for a lock our caller holds: it ends by itself after
            # that, skipping whatever is still queued; otherwise the dispatcher ends at once
            self._dispatcher.join(5)
