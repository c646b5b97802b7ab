"""A FIFO whose reader takes QEMU's first blocks and then stops reading until told to go on.

The restart tests (a save, dump or memory snapshot into it) need QEMU blocked mid-write with its
migration running, so that pyvirtd can be killed while the job is in progress.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path


class StalledFifo:
    """``first``: QEMU has written (past any header); ``go``: let the reader drain; ``eof``: QEMU closed it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        os.mkfifo(path)
        self.first, self.go, self.eof = threading.Event(), threading.Event(), threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)

    def _read(self) -> None:
        with self.path.open("rb") as f:
            f.read(256 << 10)  # past the daemon's header of 64 KiB and the XML: QEMU has begun
            self.first.set()
            self.go.wait(60)
            while f.read(1 << 20):
                pass
        self.eof.set()
