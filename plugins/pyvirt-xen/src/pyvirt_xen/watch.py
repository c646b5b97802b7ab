"""Domain lifecycle events from xenstore: a watch on ``@releaseDomain``, as libvirt's libxl driver gets them.

libvirt learns that a guest shut down, crashed or was destroyed from
libxl's event loop, which watches xenstore's ``@releaseDomain`` (xenstored
fires it whenever a domain shuts down or dies). pyvirt has no libxl to
link, so it runs ``xenstore-watch @releaseDomain`` (xenstore-utils, a Xen
host's client) and, on each firing, checks its running guests against
``xl list`` (:func:`pyvirt_xen.lifecycle.refresh`), which records a guest
that left and emits its STOPPED event then: within a moment of the guest
going, with no caller asking. ``@introduceDomain`` is not watched: guests
start through this driver, which emits their STARTED events itself.

The watcher runs while the process has a running guest, from the first
start (or the first guest found again at open) until the last connection
closes. xenstore-watch writes through stdio, so its stdout is a pty: line
buffered, each firing arrives as it happens.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import subprocess
import threading
from collections.abc import Callable

__all__ = ["ReleaseWatch"]

log = logging.getLogger(__name__)

WATCHED = "@releaseDomain"
RECHECK = 1.0


class ReleaseWatch:
    """One ``xenstore-watch @releaseDomain`` child and the thread that calls ``on_release`` for each firing.

    ``on_release`` returns True when what it saw is not settled yet (a guest
    between xl's destroy and re-create): it is called again after
    :data:`RECHECK` seconds, firing or not.
    """

    def __init__(self, on_release: Callable[[], bool]) -> None:
        self._on_release = on_release
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start watching, once; a host without xenstore-watch (no Xen) keeps the polling of ``xl list``."""
        with self._lock:
            if self.running:
                return
            master, slave = os.openpty()
            try:
                self._proc = subprocess.Popen(
                    ["xenstore-watch", WATCHED], stdin=subprocess.DEVNULL, stdout=slave,
                    stderr=subprocess.DEVNULL, close_fds=True, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                )  # fmt: skip
            except OSError as exc:
                os.close(master)
                log.warning("xenstore-watch cannot run (%s): guests' stops are seen when asked for", exc)
                return
            finally:
                os.close(slave)
            self._thread = threading.Thread(target=self._read, args=(master,), name="xen-release-watch", daemon=True)
            self._thread.start()

    def _read(self, master: int) -> None:
        pending = b""
        again = False
        try:
            while True:
                ready, _, _ = select.select([master], [], [], RECHECK if again else None)
                fired = again and not ready
                if ready:
                    try:
                        chunk = os.read(master, 4096)
                    except OSError:  # EIO: the child is gone and the pty closed
                        return
                    if not chunk:
                        return
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    fired = any(line.strip().startswith(WATCHED.encode()) for line in lines)
                if fired:
                    try:
                        again = self._on_release()
                    except Exception:  # a background thread has no caller to raise to; the next firing retries
                        log.exception("checking the guests after %s failed", WATCHED)
                        again = False
        finally:
            os.close(master)

    def stop(self) -> None:
        """End the child (ours, by its own handle) and the thread; called when the last connection closes."""
        with self._lock:
            proc, thread = self._proc, self._thread
            self._proc = self._thread = None
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)
