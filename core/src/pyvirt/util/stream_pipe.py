"""A pipe that hands a finished buffer to a stream: what a driver's screenshot returns.

pyvirtd relays a stream's data by polling the descriptor a driver returns, and
epoll refuses a regular file, so a picture a driver already holds in memory
(the test driver's test card, QEMU's screendump read back from its file) goes
out through a pipe. A picture that fits the pipe is written before the call
returns (the pipe is grown to it where the kernel allows); a larger one is fed
by a thread that ends when the reader has taken it all or closed early.
"""

from __future__ import annotations

import os

__all__ = ["readable_pipe"]

_PIPE_CAPACITY = 65536  # Linux's default pipe buffer
_F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ (Python 3.10+ names it; spelled here to import fcntl only when needed)


def readable_pipe(data: bytes, *, thread_name: str = "pyvirt-stream-pipe") -> int:
    """A pipe's read end (close-on-exec) that yields ``data`` then end-of-file; the caller owns it."""
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    if len(data) > _PIPE_CAPACITY:
        import fcntl

        try:
            fcntl.fcntl(write_end, _F_SETPIPE_SZ, len(data))
        except OSError:  # over /proc/sys/fs/pipe-max-size (or not permitted): a thread feeds it as it is read
            import threading

            threading.Thread(target=_write_all, args=(write_end, data), name=thread_name, daemon=True).start()
            return read_end
    _write_all(write_end, data)
    return read_end


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except BrokenPipeError:
        pass  # the reader closed early: it did not want the rest
    finally:
        os.close(fd)
