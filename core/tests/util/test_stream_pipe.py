"""The pipe a driver hands pyvirtd's stream relay for a picture it holds in memory (pyvirt.util.stream_pipe)."""

from __future__ import annotations

import fcntl
import os
import threading
import time

from pyvirt.util.stream_pipe import readable_pipe


def _read_all(fd: int) -> bytes:
    parts = []
    while chunk := os.read(fd, 1 << 16):
        parts.append(chunk)
    os.close(fd)
    return b"".join(parts)


def _writers() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name == "test-stream-pipe"}


def test_a_small_picture_is_in_the_pipe_before_the_call_returns() -> None:
    data = os.urandom(40_000)
    fd = readable_pipe(data, thread_name="test-stream-pipe")
    assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC  # never leaked into a guest's process
    assert not _writers()  # written already: nothing left to feed it
    assert _read_all(fd) == data


def test_a_picture_larger_than_the_kernel_lets_a_pipe_grow_is_fed_by_a_thread() -> None:
    with open("/proc/sys/fs/pipe-max-size") as f:
        most = int(f.read())
    data = os.urandom(most * 3)
    fd = readable_pipe(data, thread_name="test-stream-pipe")
    assert _writers()  # the pipe cannot hold it: a writer waits for the reader
    assert _read_all(fd) == data
    deadline = time.monotonic() + 5
    while _writers() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _writers()  # and ends once it has all been read


def test_a_reader_that_closes_early_ends_the_writer_quietly() -> None:
    with open("/proc/sys/fs/pipe-max-size") as f:
        most = int(f.read())
    fd = readable_pipe(b"x" * (most * 3), thread_name="test-stream-pipe")
    os.read(fd, 100)
    os.close(fd)  # a client that dropped its stream after the first bytes
    deadline = time.monotonic() + 5
    while _writers() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _writers()
