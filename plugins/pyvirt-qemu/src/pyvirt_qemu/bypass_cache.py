"""``--bypass-cache``: QEMU's output reaches the file with ``O_DIRECT``, past the host's page cache.

Why: a dump (or a save) of a large guest would otherwise push that much of
the host's cached data out for a file nobody reads soon. QEMU cannot write
to an ``O_DIRECT`` descriptor itself: such writes must be aligned in memory,
offset and length, and QEMU's are not. So, as libvirt's virFileWrapperFd
with its ``libvirt_iohelper``, QEMU gets the write end of a pipe and a
thread of ours copies the pipe into the file in aligned 1 MiB blocks (from a
page-aligned buffer), switching ``O_DIRECT`` off only for the last, partial
block, and syncs the file at the end.

The other way (a restore with ``--bypass-cache``), :class:`CacheBypassingReader`
reads the image with ``O_DIRECT`` in the same aligned blocks and feeds QEMU's
incoming migration through a pipe; :func:`read_direct` reads the image's
header the same way, so no part of the image enters the page cache.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import threading

from pyvirt.errors import Error, ErrorCode, OperationFailedError, SystemCallError

__all__ = ["CacheBypassingReader", "CacheBypassingWriter", "read_direct"]

_BLOCK = 1 << 20  # libvirt's iohelper copies 1 MiB at a time; a multiple of any device's alignment
_ALIGN = 64 * 1024  # libvirt's iohelper's alignment of the length of a direct write


class CacheBypassingWriter:
    """Copies what is written to :attr:`fd` (a pipe) into ``out`` (opened with ``O_DIRECT``).

    Give QEMU :attr:`fd`; once QEMU is done with it (or gone), :meth:`close`
    waits for the copy and reports its failure. The writer owns neither
    ``out`` nor the file: the caller closes and removes them.
    """

    def __init__(self, out: int, path: str) -> None:
        self._out, self._path = out, path
        self._read_end, self.fd = os.pipe2(os.O_CLOEXEC)
        self._error: Error | None = None
        self._thread = threading.Thread(target=self._copy, name=f"bypass-cache {path}", daemon=True)
        self._thread.start()

    def _copy(self) -> None:
        buf = mmap.mmap(-1, _BLOCK)  # anonymous, so page-aligned, as O_DIRECT wants
        view = memoryview(buf)
        direct = True
        try:
            while True:
                got = 0
                while got < _BLOCK:  # fill the block: a pipe hands out at most 64 KiB per read
                    n = os.readv(self._read_end, [view[got:]])
                    if n == 0:
                        break
                    got += n
                if got == 0:
                    break
                if direct and got % _ALIGN:  # the last block: only this one goes through the cache
                    flags = fcntl.fcntl(self._out, fcntl.F_GETFL)
                    fcntl.fcntl(self._out, fcntl.F_SETFL, flags & ~os.O_DIRECT)
                    direct = False
                done = 0
                while done < got:
                    done += os.write(self._out, view[done:got])
                if got < _BLOCK:
                    break
            os.fdatasync(self._out)
        except OSError as exc:
            self._error = SystemCallError(exc.errno or 0, f"Unable to write {self._path}")
        finally:
            view.release()
            buf.close()
            os.close(self._read_end)  # (a QEMU still writing gets EPIPE instead of blocking)

    def close(self, timeout: float = 60.0) -> None:
        """Our write end goes; then wait for QEMU's copy to end (QEMU closes it when done, or exits)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise OperationFailedError(
                ErrorCode.OPERATION_FAILED, f"Unable to write {self._path}: QEMU still holds the pipe to it"
            )
        if self._error is not None:
            raise self._error


def read_direct(fd: int, length: int) -> bytes:
    """The first ``length`` bytes (or fewer, at the end of the file) of ``fd``, opened with ``O_DIRECT``:
    read from offset 0 in whole aligned blocks into a page-aligned buffer, as direct reads must be."""
    size = max(_ALIGN, -(-length // _ALIGN) * _ALIGN)
    buf = mmap.mmap(-1, size)
    view = memoryview(buf)
    try:
        got = 0
        while got < length:
            n = os.preadv(fd, [view[got:]], got)  # (got stays aligned: only the end of the file reads short)
            if n == 0:
                break
            got += n
        return bytes(view[: min(got, length)])
    finally:
        view.release()
        buf.close()


class CacheBypassingReader:
    """Feeds the file ``path`` from offset ``skip`` on into a pipe whose read end, :attr:`fd`, QEMU takes,
    reading the file with ``O_DIRECT`` (libvirt's iohelper on the restore side).

    A direct read must start at an aligned offset, so the copy starts at
    the block holding ``skip`` and drops what lies before it. Close
    :attr:`fd` once QEMU has its own copy; :meth:`close` waits for the copy
    once QEMU is done with the stream.
    """

    def __init__(self, path: str, skip: int) -> None:
        self._path = path
        try:
            self._in = os.open(path, os.O_RDONLY | os.O_DIRECT | os.O_CLOEXEC)
        except OSError as exc:
            raise SystemCallError(exc.errno or 0, f"Failed to open file '{path}'") from exc
        self.fd, self._write_end = os.pipe2(os.O_CLOEXEC)
        self._skip = skip
        self._error: Error | None = None
        self._thread = threading.Thread(target=self._copy, name=f"bypass-cache {path}", daemon=True)
        self._thread.start()

    def _copy(self) -> None:
        buf = mmap.mmap(-1, _BLOCK)
        view = memoryview(buf)
        offset = self._skip - self._skip % _ALIGN
        drop = self._skip - offset
        try:
            while True:
                got = os.preadv(self._in, [view], offset)
                if got == 0:
                    break
                offset += got
                done = min(drop, got)
                drop -= done
                while done < got:
                    done += os.write(self._write_end, view[done:got])
                if got % _ALIGN:  # a short, unaligned read: the end of the file
                    break
        except BrokenPipeError:
            pass  # QEMU has read the whole stream (its end marker) and let go; or it failed, and says so itself
        except OSError as exc:
            self._error = SystemCallError(exc.errno or 0, f"Unable to read {self._path}")
        finally:
            view.release()
            buf.close()
            os.close(self._write_end)  # QEMU sees the end of the stream
            os.close(self._in)

    def hand_over(self) -> None:
        """QEMU has its own copy of :attr:`fd` now: ours goes, so that QEMU's exit ends the copy."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def close(self, timeout: float = 60.0) -> None:
        """Our read end goes (a QEMU that is gone no longer keeps the copy writing); wait for the copy to end
        and report its failure."""
        self.hand_over()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise OperationFailedError(
                ErrorCode.OPERATION_FAILED, f"Unable to read {self._path}: QEMU still holds the pipe from it"
            )
        if self._error is not None:
            raise self._error
