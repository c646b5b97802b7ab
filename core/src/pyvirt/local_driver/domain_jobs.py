"""Per-domain jobs, libvirt's model (``src/conf/virdomainjob.c``): what serializes operations on one domain.

A driver that lives in a daemon serves many clients at once, and an
operation on a guest may wait for that guest for a long time (a save streams
its memory, a start waits for QEMU's monitor, a shutdown for the guest). A
lock held for that long would stall everyone else, queries included. So, as
in libvirt, a domain has *jobs*, and its data lock is only ever held for
short, non-blocking reads and writes of its state:

- one **sync job** at a time (``Job``: MODIFY, SUSPEND, DESTROY, QUERY,
  ABORT, ...): an operation that changes the domain (or must not run beside
  one) begins it, does its work without holding any lock, and ends it;
- one **async job** at a time (``AsyncJob``: save, snapshot, dump,
  migration, start): a long operation; while it runs, only the sync jobs in
  its *mask* may begin (queries, destroy and abort by default; destroy
  always), so ``domjobabort`` and ``destroy`` can reach a save in progress;
- a job that cannot begin waits up to 30 seconds (libvirt's
  ``VIR_JOB_WAIT_TIME``, not configurable in libvirt either) and then fails
  with ``VIR_ERR_OPERATION_TIMEOUT`` "cannot acquire state change lock (held
  by monitor=API)", naming the API of the job in the way, as the daemon's
  dispatcher names it (``remoteDispatchDomainSave``, see ``calling_api``);
- reads that only look at the domain's recorded state (info, state, XML)
  take no job at all, so they never wait for one.

Several processes may also share one embedded root (``qemu:///embed``): a
job can hold a file lock as part of itself (``lock_file``), taken after the
in-process job and within the same 30 seconds; its holder's API name is
written into the file so the other process's error names it too.
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import errno
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator

from pyvirt.errors import (
    ErrorCode,
    ErrorDomain,
    NotFoundError,
    OperationFailedError,
    OperationInvalidError,
    SystemCallError,
)

__all__ = [
    "DEFAULT_MASK",
    "JOB_WAIT_TIME",
    "AsyncJob",
    "DomainJobs",
    "Job",
    "calling_api",
    "current_api",
    "file_lock",
    "try_lock_file",
    "unlock_file",
]

JOB_WAIT_TIME = 30.0  # libvirt's VIR_JOB_WAIT_TIME: give up waiting for a job after 30 seconds


class Job(enum.IntEnum):
    """libvirt's ``virDomainJob`` (sync jobs), in its order."""

    NONE = 0
    QUERY = 1  # changes nothing
    DESTROY = 2  # ends the domain; cannot be masked out of an async job
    SUSPEND = 3  # stops the vCPUs
    MODIFY = 4  # may change anything
    ABORT = 5  # aborts the current async job
    MIGRATION_OP = 6
    MODIFY_MIGRATION_SAFE = 7
    ASYNC = 8  # (the marker of an async job; never stored as the active sync job)


class AsyncJob(enum.IntEnum):
    """libvirt's ``virDomainAsyncJob``; ``label`` is the name its errors use ("job 'domain save' ...")."""

    NONE = 0
    MIGRATION_OUT = 1
    MIGRATION_IN = 2
    SAVE = 3
    DUMP = 4
    SNAPSHOT = 5
    START = 6
    BACKUP = 7

    @property
    def label(self) -> str:
        return _ASYNC_LABELS[self]


_ASYNC_LABELS = {
    AsyncJob.NONE: "none",
    AsyncJob.MIGRATION_OUT: "migration out",
    AsyncJob.MIGRATION_IN: "migration in",
    AsyncJob.SAVE: "domain save",
    AsyncJob.DUMP: "domain core dump",
    AsyncJob.SNAPSHOT: "snapshot",
    AsyncJob.START: "start",
    AsyncJob.BACKUP: "backup",
}

# libvirt's VIR_JOB_DEFAULT_MASK: what may run beside an async job unless it says otherwise
DEFAULT_MASK = frozenset({Job.QUERY, Job.DESTROY, Job.ABORT})

_api: contextvars.ContextVar[str | None] = contextvars.ContextVar("pyvirt_job_api", default=None)


@contextlib.contextmanager
def calling_api(name: str) -> Iterator[None]:
    """Name the API the calling thread runs (libvirt's ``virThreadJobSet``): jobs it begins carry the name,
    and whoever waits for them in vain is told who holds them. pyvirtd's dispatcher sets
    ``remoteDispatchDomainSave`` and the like, exactly as libvirtd's generated dispatchers do."""
    token = _api.set(name)
    try:
        yield
    finally:
        _api.reset(token)


def current_api() -> str | None:
    """The API the calling thread runs, if it was named (an in-process caller usually is not)."""
    return _api.get()


def _timeout(blocker: str | None) -> OperationFailedError:
    """libvirt's words (virDomainObjBeginJobInternal), from VIR_FROM_NONE as there."""
    detail = "cannot acquire state change lock"
    if blocker:
        detail += f" (held by monitor={blocker})"
    return OperationFailedError(ErrorCode.OPERATION_TIMEOUT, detail, domain=ErrorDomain.NONE)


class DomainJobs:
    """The job state of one domain object: who holds which job, and waiting for them with a deadline.

    Its condition has a mutex of its own, separate from the domain's data
    lock, and it is held only while the job fields change: a thread that
    waits for a job holds nothing anyone else needs.
    """

    def __init__(self, wait_time: float = JOB_WAIT_TIME, error_domain: ErrorDomain = ErrorDomain.NONE) -> None:
        self.wait_time = wait_time
        self.error_domain = error_domain  # of the driver's own errors (an aborted job); libvirt's job errors have none
        self._cond = threading.Condition(threading.Lock())
        self.active = Job.NONE
        self.owner_api: str | None = None
        self.started = 0.0
        self.async_job = AsyncJob.NONE
        self.async_api: str | None = None
        self.async_started = 0.0
        self.mask: frozenset[Job] = DEFAULT_MASK
        self._abort: Callable[[], None] | None = None
        self.abort_requested = False
        self._removed: str | None = None  # the NO_DOMAIN message, once the domain has left its table
        self._lock: tuple[str, int] | None = None  # (path, fd) of the file lock the async job holds

    # ------------------------------------------------------------------ state
    def _allowed_beside_async(self, job: Job) -> bool:
        """libvirt's virDomainNestedJobAllowed."""
        return self.async_job == AsyncJob.NONE or job == Job.NONE or job in self.mask or job == Job.DESTROY

    def _free(self, job: Job) -> bool:
        """libvirt's virDomainObjCanSetJob (sync jobs only; agent jobs are not modelled separately)."""
        return Job.NONE in (job, self.active)

    def mark_removed(self, uuid: str, name: str) -> None:
        """The domain left its table (a transient guest ended, an undefine): waiters fail as libvirt's do."""
        with self._cond:
            self._removed = f"no domain with matching uuid '{uuid}' ({name})"
            self._cond.notify_all()

    def _check_removed(self) -> None:
        if self._removed is not None:
            raise NotFoundError(ErrorCode.NO_DOMAIN, self._removed, domain=ErrorDomain.NONE)

    def _wait(self, ready: Callable[[], bool], deadline: float, blocker: Callable[[], str | None]) -> None:
        """Wait (mutex held) until ``ready()``; at the deadline fail with libvirt's timeout error."""
        while not ready():
            left = deadline - time.monotonic()
            if left <= 0:
                raise _timeout(blocker())
            self._cond.wait(left)

    # ------------------------------------------------------------------ sync jobs
    def begin(self, job: Job, *, nowait: bool = False) -> bool:
        """Begin a sync job, waiting up to ``wait_time`` for the job in its way (libvirt's
        virDomainObjBeginJob). With ``nowait``, return False at once instead of waiting or failing."""
        deadline = time.monotonic() + self.wait_time
        with self._cond:
            while True:
                if nowait and not (self._allowed_beside_async(job) and self._free(job)):
                    return False
                # first the async job must allow it, then the sync slot must be free; the async job may have
                # changed while we waited for the slot, so check both again (libvirt's "retry")
                self._wait(lambda: self._allowed_beside_async(job), deadline, lambda: self.async_api)
                self._wait(lambda: self._free(job), deadline, lambda: self.owner_api)
                if self._allowed_beside_async(job):
                    break
            self._check_removed()
            self.active, self.owner_api, self.started = job, current_api(), time.monotonic()
            return True

    def end(self) -> None:
        """End the sync job (libvirt's virDomainObjEndJob) and wake every waiter: each checks its own rule."""
        with self._cond:
            self.active, self.owner_api, self.started = Job.NONE, None, 0.0
            self._cond.notify_all()

    @contextlib.contextmanager
    def holding(self, job: Job) -> Iterator[None]:
        """``begin``/``end`` around a block."""
        self.begin(job)
        try:
            yield
        finally:
            self.end()

    # ------------------------------------------------------------------ async jobs
    def begin_async(self, job: AsyncJob, *, mask: frozenset[Job] = DEFAULT_MASK, lock_file: str | None = None) -> None:
        """Begin an async job: wait for any other async job and for the sync slot (an async job cannot begin
        beside a sync one), then hold the async slot; ``mask`` says which sync jobs may run beside it
        (destroy always may). ``lock_file``: also hold that file locked, for other processes on the same
        root, within the same deadline."""
        deadline = time.monotonic() + self.wait_time
        with self._cond:
            while True:
                self._wait(lambda: self.async_job == AsyncJob.NONE, deadline, lambda: self.async_api)
                self._wait(lambda: self.active == Job.NONE, deadline, lambda: self.owner_api)
                if self.async_job == AsyncJob.NONE:
                    break
            self._check_removed()
            self.async_job, self.async_api, self.async_started = job, current_api(), time.monotonic()
            self.mask = mask | {Job.DESTROY}
            self.abort_requested, self._abort = False, None
        if lock_file is not None:
            try:
                fd = _lock_file(lock_file, deadline)
            except BaseException:
                self.end_async()
                raise
            self._lock = (lock_file, fd)

    def end_async(self) -> None:
        """End the async job (libvirt's virDomainObjEndAsyncJob), its file lock too, and wake every waiter."""
        with self._cond:
            held, self._lock = self._lock, None
            self.async_job, self.async_api, self.async_started = AsyncJob.NONE, None, 0.0
            self.mask, self._abort, self.abort_requested = DEFAULT_MASK, None, False
            self._cond.notify_all()
        if held is not None:
            _unlock_file(*held)

    @contextlib.contextmanager
    def holding_async(
        self, job: AsyncJob, *, mask: frozenset[Job] = DEFAULT_MASK, lock_file: str | None = None
    ) -> Iterator[None]:
        """``begin_async``/``end_async`` around a block."""
        self.begin_async(job, mask=mask, lock_file=lock_file)
        try:
            yield
        finally:
            self.end_async()

    def wait_async_end(self, job: AsyncJob, timeout: float) -> bool:
        """Wait until the async job ``job`` (if it runs) has ended; False if it still runs after ``timeout``.

        For a destroy that ended a start it could not kill directly: it
        returns once the start has given up, as libvirt's destroy returns
        once the domain is stopped.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.async_job == job:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def holds_lock_file(self) -> bool:
        """Whether a job of this process holds the domain's file lock now (then this process must not wait
        for that lock itself: flock locks conflict between two descriptors of one process)."""
        return self._lock is not None

    def on_abort(self, action: Callable[[], None] | None) -> None:
        """What ``abort`` does while the current async job runs (QEMU's ``migrate_cancel`` for a save);
        None: the job cannot be aborted right now. Only the async job's owner calls this."""
        with self._cond:
            self._abort = action

    def abort(self) -> None:
        """libvirt's virDomainAbortJob: an ABORT job (allowed beside async jobs), then the async job's abort.

        The async job's owner sees ``abort_requested`` and fails with "operation aborted: job '...'
        canceled by client", as libvirt's does.
        """
        self.begin(Job.ABORT)
        try:
            with self._cond:
                current, action = self.async_job, self._abort
                if current == AsyncJob.NONE:
                    raise OperationInvalidError(
                        ErrorCode.OPERATION_INVALID, "no job is active on the domain", domain=self.error_domain
                    )
                if current == AsyncJob.MIGRATION_IN:
                    raise OperationInvalidError(
                        ErrorCode.OPERATION_INVALID,
                        "cannot abort incoming migration; use virDomainDestroy instead",
                        domain=self.error_domain,
                    )
                if current == AsyncJob.START:
                    raise OperationInvalidError(
                        ErrorCode.OPERATION_INVALID,
                        "cannot abort VM start; use virDomainDestroy instead",
                        domain=self.error_domain,
                    )
                if action is None:
                    raise OperationInvalidError(
                        ErrorCode.OPERATION_INVALID,
                        f"cannot abort {current.label} job at this phase",
                        domain=self.error_domain,
                    )
                self.abort_requested = True
            action()  # outside the mutex: it may talk to QEMU
        finally:
            self.end()

    def aborted_error(self) -> OperationFailedError:
        """The error the async job's owner raises once its work was cancelled on request."""
        return OperationFailedError(
            ErrorCode.OPERATION_ABORTED, f"job '{self.async_job.label}' canceled by client", domain=self.error_domain
        )


# ---------------------------------------------------------------------- the cross-process part of a job
def _lock_file(path: str, deadline: float) -> int:
    """flock ``path`` by the deadline and write our API name into it; returns its fd.

    The file is removed whenever its holder lets go (nothing stays in the
    run directory), so after the lock is taken the path must still name the
    file locked: otherwise its previous holder had removed it meanwhile, and
    we try again with the current one.
    """
    while True:
        fd = try_lock_file(path)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
                os.pwrite(fd, (current_api() or "").encode(), 0)
            return fd
        if time.monotonic() > deadline:
            raise _timeout(_holder_api(path))
        time.sleep(0.02)


def _holder_api(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read(256).decode(errors="replace").strip() or None
    except OSError:
        return None


def try_lock_file(path: str) -> int | None:
    """The domain's lock file, locked, if it is free now (its fd), else None."""
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise SystemCallError(exc.errno or 0, f"Failed to open file '{path}'") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return None
            raise SystemCallError(exc.errno or 0, f"Failed to lock file '{path}'") from exc
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # its holder removed it while we waited for it: lock the current file


def _unlock_file(path: str, fd: int) -> None:
    """Remove the lock file while still holding it (a waiter then retries on a new one), then let go."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    os.close(fd)


@contextlib.contextmanager
def file_lock(path: str, timeout: float = JOB_WAIT_TIME) -> Iterator[None]:
    """The domain's file lock alone, for work that must not overlap another process's job on the same root
    (cleaning up after a guest another process may be starting)."""
    fd = _lock_file(path, time.monotonic() + timeout)
    try:
        yield
    finally:
        _unlock_file(path, fd)


def unlock_file(path: str, fd: int) -> None:
    """Let go of a lock taken with ``try_lock_file``."""
    _unlock_file(path, fd)
