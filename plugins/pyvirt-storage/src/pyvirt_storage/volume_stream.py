"""A volume's bytes as a descriptor: what ``volume_download`` and ``volume_upload`` hand out.

libvirt relays a volume's file through an fd stream (``virFDStreamOpenFile``)
with an I/O helper beside it; here a thread per transfer plays that helper.
A download is the read end of a pipe, a pipe because the daemon watches its
descriptors with epoll, which refuses regular files. An upload is one end of
a socket pair: the caller writes, shuts its write side down and reads to the
end, and this side closes only after the data was written and flushed to the
volume (an error is sent back as its message first), so the caller knows the
upload is stored before it says so, as libvirt confirms a stream's finish.
The bytes are the file's as stored: a qcow2 volume streams as its qcow2
file, as libvirt's local backends do.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading

__all__ = ["open_download", "open_upload"]

log = logging.getLogger("pyvirt.storage.volume_stream")

CHUNK = 1 << 20


def open_download(path: str, offset: int, length: int) -> int:
    """The read end of a pipe carrying ``length`` bytes of ``path`` from ``offset`` (0: to the end).

    :raises OSError: the volume cannot be opened (raised here, before any stream exists).
    """
    src = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    read_end, write_end = os.pipe2(os.O_CLOEXEC)

    def copy() -> None:
        pos, left = offset, length or None
        try:
            while left is None or left > 0:
                chunk = os.pread(src, CHUNK if left is None else min(CHUNK, left), pos)
                if not chunk:
                    break
                pos += len(chunk)
                if left is not None:
                    left -= len(chunk)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(write_end, view) :]
        except OSError as e:  # the reader went away (EPIPE) or the volume failed: the stream ends short
            log.debug("download of %s ended at %d: %s", path, pos, e)
        finally:
            os.close(src)
            os.close(write_end)

    threading.Thread(target=copy, name="pyvirt-vol-download", daemon=True).start()
    return read_end


def open_upload(path: str, offset: int, length: int) -> int:
    """One end of a socket pair whose bytes are written into ``path`` from ``offset``, at most ``length`` (0: any).

    Writing more than ``length`` is refused as libvirt's fd stream refuses it
    ("cannot write to stream: No space left on device"); what the caller
    still sends after an error is read and dropped, so its writes never fail
    with a broken pipe instead of the error.

    :raises OSError: the volume cannot be opened for writing.
    """
    dst = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    for s in (ours, theirs):
        s.set_inheritable(False)

    def copy() -> None:
        pos, error = offset, ""
        try:
            while data := ours.recv(CHUNK):
                if error:
                    continue
                if length and pos + len(data) > offset + length:
                    data = data[: offset + length - pos]
                    error = "cannot write to stream: No space left on device"
                view = memoryview(data)
                while view:
                    n = os.pwrite(dst, view, pos)
                    pos += n
                    view = view[n:]
            if not error:
                os.fsync(dst)
        except OSError as e:
            error = error or f"cannot write to stream: {e.strerror}"
            with contextlib.suppress(OSError):
                while ours.recv(CHUNK):
                    pass
        finally:
            os.close(dst)
            with contextlib.suppress(OSError):
                if error:
                    ours.sendall(error.encode())
                ours.shutdown(socket.SHUT_WR)
            ours.close()

    threading.Thread(target=copy, name="pyvirt-vol-upload", daemon=True).start()
    return theirs.detach()
