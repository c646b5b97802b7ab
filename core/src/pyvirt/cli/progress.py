"""Progress of long operations on standard error: virsh's ``--verbose`` line, and a bar on a terminal.

Two forms, never on a pipe unless asked for:

- ``--verbose`` (save, managedsave, migrate: the commands where virsh has it)
  prints virsh's own line, ``\\rSave: [ 45 %]`` (virshPrintJobProgress),
  whether or not standard error is a terminal, as virsh does: scripts that
  pass ``--verbose`` keep reading what they read from virsh;
- otherwise, when standard error is a terminal, pyvirsh draws a bar with the
  percentage (and the bytes, for the stream commands), redrawn in place and
  ended with a newline; a pipe or a file gets nothing, so output that scripts
  parse is the same as virsh's.

Redraws are limited to a few per second: a fast stream would otherwise spend
its time writing to the terminal.
"""

from __future__ import annotations

import os
import time
from _collections_abc import Callable

from pyvirt.cli.framework import Session
from pyvirt.errors import Error

# Neither typing nor threading at import: snapshot-create-as, save, vol-upload... import this module, and on a
# script's pipe (no terminal, no progress shown) they need neither; threading only runs a watched job.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeVar

    T = TypeVar("T")

__all__ = ["Progress", "watch_job"]


_WIDTH = 30  # characters of the bar
_REDRAW = 0.1  # seconds between two redraws of the same bar
_POLL = 0.5  # virshWatchJob's period for asking the job's progress


def _on_terminal(s: Session) -> bool:
    try:
        return os.isatty(s.stderr.fileno())
    except (AttributeError, OSError, ValueError):  # a StringIO, or a closed stream
        return False


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}"
    return f"{n} B"


class Progress:
    """One operation's progress: call :meth:`update` as it goes and :meth:`finish` once it succeeded."""

    def __init__(self, s: Session, label: str, *, verbose: bool = False, sizes: bool = False) -> None:
        self.s, self.label, self.sizes = s, label, sizes
        self.mode = "verbose" if verbose else "bar" if _on_terminal(s) else None
        self._last = 0.0
        self._shown = False
        self._total = 1  # the last total seen: the final line shows it all done

    @property
    def enabled(self) -> bool:
        return self.mode is not None

    def update(self, done: int, total: int, *, force: bool = False) -> None:
        """``done`` of ``total`` units; nothing is drawn while the total is unknown (0)."""
        if self.mode is None or total <= 0:
            return
        self._total = total
        now = time.monotonic()
        if not force and self._shown and now - self._last < _REDRAW:
            return
        self._last, self._shown = now, True
        if self.mode == "verbose":
            # virshPrintJobProgress: 100 % only when nothing remains, so a rounding never claims it early
            remaining = max(total - done, 0)
            percent = 100 if remaining == 0 else min(int(100.0 - remaining * 100.0 / total), 99)
            self.s.error_raw(f"\r{self.label}: [{percent:3d} %]")
            return
        fraction = min(max(done / total, 0.0), 1.0)
        filled = int(fraction * _WIDTH)
        line = f"\r{self.label}: [{'#' * filled}{'.' * (_WIDTH - filled)}] {int(fraction * 100):3d} %"
        if self.sizes:
            line += f"  {_size(min(done, total))} of {_size(total)}"
        self.s.error_raw(line + "\x1b[K")  # erase what a longer earlier line left

    def finish(self, *, newline: bool = True) -> None:
        """The 100 % line. ``newline=False`` leaves ending it to the command's own message, which starts
        with one for that reason (virsh's "\\nDomain 'x' saved to ..." after its ``--verbose`` line)."""
        if self.mode is None:
            return
        self.update(self._total, self._total, force=True)
        if newline:
            self.s.error_raw("\n")


def watch_job(s: Session, dom: Any, work: Callable[[], T], progress: Progress) -> T:
    """virshWatchJob: run ``work`` (one blocking call) while the domain's job statistics feed ``progress``.

    Without a progress to show, ``work`` simply runs. The statistics are
    asked every half second, as virsh asks them; a driver that has none
    (an instant job, a driver without job statistics) leaves the bar empty
    until the end.
    """
    if not progress.enabled:
        return work()
    import threading

    result: list[T] = []
    failure: list[BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            result.append(work())
        except BaseException as exc:  # re-raised in the caller's thread below
            failure.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=run, name="pyvirsh-job", daemon=True)
    worker.start()
    if progress.mode == "bar":
        progress.update(0, 1, force=True)  # the bar is there from the start; virsh's line waits for numbers
    while not done.wait(_POLL):
        try:
            values = {p.field: p.value for p in dom.job_stats(0)[1]}
        except Error:
            continue
        total = int(values.get("data_total", 0) or values.get("memory_total", 0))
        remaining = int(values.get("data_remaining", 0) or values.get("memory_remaining", 0))
        if total > 0 and not done.is_set():
            progress.update(total - remaining, total)
    worker.join()
    if failure:
        if progress.mode == "bar":
            progress.s.error_raw("\n")  # the error starts on a line of its own
        raise failure[0]
    return result[0]


class CountingReader:
    """A binary file whose reads are counted into a progress (vol-upload)."""

    def __init__(self, f: Any, progress: Progress, total: int) -> None:
        self.f, self.progress, self.total, self.count = f, progress, total, 0

    def read(self, n: int = -1) -> bytes:
        data: bytes = self.f.read(n)
        self.count += len(data)
        self.progress.update(self.count, self.total)
        return data

    def tell(self) -> int:
        return int(self.f.tell())


class CountingWriter:
    """A binary file whose writes are counted into a progress (vol-download)."""

    def __init__(self, f: Any, progress: Progress, total: int) -> None:
        self.f, self.progress, self.total, self.count = f, progress, total, 0

    def write(self, data: bytes) -> int:
        n: int = self.f.write(data)
        self.count += len(data)
        self.progress.update(self.count, self.total)
        return n
