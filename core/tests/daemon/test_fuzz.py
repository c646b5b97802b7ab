"""A fuzz of malformed RPC messages against one pyvirtd: it never crashes, hangs, leaks or logs a traceback.

The raw material is real traffic: Debian's virsh runs a dozen commands
through a recording relay in front of the daemon, and the calls it sent are
mutated (bits flipped, words replaced by huge string and array lengths,
payloads cut short or padded, procedures and serials changed), beside calls
built with the generated codec, random bytes, lengths outside libvirt's
limits, truncated frames, unknown programs and procedures, wrong message
types, stream messages for serials nobody opened and keepalive garbage.

Several fuzzing clients pipeline batches on their own sockets (the
read-write socket on ``test:///default``, the read-only one on
``qemu:///system`` so that the worker pools are exercised without anything
being able to change), while a well-behaved client on another connection
must keep getting its answers within :data:`ANSWER_BOUND` seconds, and the
daemon's thread and descriptor counts are sampled against fixed bounds.
Every reply the daemon sends a fuzzer must itself be well formed (a reply or
stream message whose error, if any, decodes). ``PYVIRT_FUZZ_MESSAGES`` sets
the count (default 100,000, which runs within CI's minute here); the rate is
printed (``pytest -s``) so a slowdown shows.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import random
import select
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.remote import _remote
from pyvirt.remote.message import (
    HEADER_SIZE,
    KEEPALIVE_PROC_PING,
    KEEPALIVE_PROGRAM,
    LEN_SIZE,
    MESSAGE_MAX,
    REMOTE_PROGRAM,
    REMOTE_PROTOCOL_VERSION,
    MessageType,
    Status,
    decode_error,
    encode_message,
)

FUZZ_MESSAGES = int(os.environ.get("PYVIRT_FUZZ_MESSAGES", "100000"))
FUZZ_CLIENTS = 6
BATCH = 200
ANSWER_BOUND = 5.0  # seconds a well-behaved client may wait for one answer while the fuzz runs
_FRAME = struct.Struct(">IIIiiIi")
_SENTINEL = 0x7FFF0000  # serials at and above this are the fuzzers' own AUTH_LIST probes

Frame = bytes


def _call(proc: int, serial: int, pack: object = None, value: object = None) -> bytes:
    return bytes(
        encode_message(REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION, proc, MessageType.CALL, serial, Status.OK, pack, value)  # type: ignore[arg-type]
    )


def _args(proc: int) -> object:
    return _remote.PROCEDURES[proc].pack_args


def _frames(data: bytes) -> list[Frame]:
    out, i = [], 0
    while len(data) - i >= LEN_SIZE + HEADER_SIZE:
        (length,) = struct.unpack_from(">I", data, i)
        if length < LEN_SIZE + HEADER_SIZE or i + length > len(data):
            break
        out.append(data[i : i + length])
        i += length
    return out


# ---------------------------------------------------------------- recorded traffic
class Recorder:
    """A relay socket in front of the daemon that keeps every byte a client sends."""

    def __init__(self, path: str, upstream: str) -> None:
        self.path = path
        self.upstream = upstream
        self.sent: list[bytes] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(path)
        self._sock.listen(8)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                down, _ = self._sock.accept()
            except OSError:
                return
            up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            up.connect(self.upstream)
            record = bytearray()
            self.sent.append(record)  # type: ignore[arg-type]
            threading.Thread(target=self._pump, args=(down, up, record), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, down, None), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, record: bytearray | None) -> None:
        try:
            while data := src.recv(65536):
                if record is not None:
                    record += data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._sock.close()


VIRSH_COMMANDS = (
    ["list", "--all"], ["dominfo", "test"], ["domstate", "test"], ["dumpxml", "test"], ["domid", "test"],
    ["domuuid", "test"], ["capabilities"], ["nodeinfo"], ["version"], ["hostname"], ["net-list", "--all"],
    ["net-dumpxml", "default"], ["pool-list", "--all"], ["vol-list", "default-pool"], ["schedinfo", "test"],
    ["vcpuinfo", "test"], ["domblklist", "test"], ["domiflist", "test"], ["sysinfo"], ["uri"],
    ["define", "/dev/stdin"], ["undefine", "fuzzseed"],
)  # fmt: skip
SEED_XML = """<domain type='test'><name>fuzzseed</name><memory unit='MiB'>64</memory>
<os><type>hvm</type></os><devices><disk type='file' device='disk'><source file='/nonexistent/fuzz.img'/>
<target dev='vda' bus='virtio'/></disk></devices></domain>"""


def record_virsh_calls(daemon: PrivateDaemon, tmp: Path) -> list[Frame]:
    """The remote-program calls Debian's virsh sends for a handful of everyday commands."""
    recorder = Recorder(str(tmp / "relay.sock"), daemon.socket)
    try:
        for cmd in VIRSH_COMMANDS:
            subprocess.run(
                ["virsh", "-c", f"test+unix:///default?socket={recorder.path}", *cmd],
                input=SEED_XML, capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
    finally:
        recorder.close()
    calls = []
    for stream in recorder.sent:
        for frame in _frames(bytes(stream)):
            prog, _vers, _proc, mtype = struct.unpack_from(">IIii", frame, LEN_SIZE)
            if prog == REMOTE_PROGRAM and mtype == MessageType.CALL:
                calls.append(frame)
    return calls


def codec_calls() -> list[Frame]:
    """Valid calls built with the generated codec (so the fuzz has seeds even without virsh)."""
    r = _remote
    uuid = bytes(range(16))
    dom = ("test", uuid, 1)
    return [
        _call(r.REMOTE_PROC_CONNECT_OPEN, 1, _args(r.REMOTE_PROC_CONNECT_OPEN), ("test:///default", 0)),
        _call(r.REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS, 2, _args(r.REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS), (1, 0)),
        _call(r.REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME, 3, _args(r.REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME), ("test",)),
        _call(r.REMOTE_PROC_DOMAIN_LOOKUP_BY_UUID, 4, _args(r.REMOTE_PROC_DOMAIN_LOOKUP_BY_UUID), (uuid,)),
        _call(r.REMOTE_PROC_DOMAIN_GET_INFO, 5, _args(r.REMOTE_PROC_DOMAIN_GET_INFO), (dom,)),
        _call(r.REMOTE_PROC_DOMAIN_GET_XML_DESC, 6, _args(r.REMOTE_PROC_DOMAIN_GET_XML_DESC), (dom, 0)),
        _call(r.REMOTE_PROC_DOMAIN_DEFINE_XML, 7, _args(r.REMOTE_PROC_DOMAIN_DEFINE_XML), (SEED_XML,)),
        _call(r.REMOTE_PROC_DOMAIN_GET_STATE, 8, _args(r.REMOTE_PROC_DOMAIN_GET_STATE), (dom, 0)),
        _call(r.REMOTE_PROC_CONNECT_GET_CAPABILITIES, 9),
        _call(r.REMOTE_PROC_NODE_GET_INFO, 10),
    ]


# ---------------------------------------------------------------- malformed messages
def _fix(msg: bytearray) -> bytes:
    struct.pack_into(">I", msg, 0, len(msg))
    return bytes(msg)


_HUGE = (0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, MESSAGE_MAX, _remote.REMOTE_STRING_MAX + 1, 16385, 65537, 0x10000000)


def mutate(rng: random.Random, frame: Frame) -> bytes:
    """A recorded call with its payload damaged in one to four ways, length word kept consistent."""
    msg = bytearray(frame)
    start = LEN_SIZE + HEADER_SIZE
    for _ in range(rng.randint(1, 4)):
        body = len(msg) - start
        kind = rng.randrange(9)
        if kind == 0 and body:
            i = start + rng.randrange(body)
            msg[i] ^= 1 << rng.randrange(8)
        elif kind == 1 and body:
            msg[start + rng.randrange(body)] = rng.randrange(256)
        elif kind == 2 and body >= 4:  # a length or count word: huge, negative, past every cap
            i = start + rng.randrange(body // 4) * 4
            struct.pack_into(">I", msg, i, rng.choice(_HUGE) if rng.random() < 0.7 else rng.getrandbits(32))
        elif kind == 3 and body:  # truncated payload
            del msg[start + rng.randrange(body) :]
        elif kind == 4:  # trailing garbage
            msg += rng.randbytes(rng.randrange(1, 64))
        elif kind == 5 and body:  # bytes inserted in the middle
            i = start + rng.randrange(body)
            msg[i:i] = rng.randbytes(rng.choice((1, 2, 3, 4, 8)))
        elif kind == 6:  # the payload of another procedure
            struct.pack_into(">i", msg, 12, rng.choice(list(_remote.PROCEDURES)))
        elif kind == 7:
            struct.pack_into(">I", msg, 20, rng.getrandbits(32))  # serial
        else:  # a string's bytes replaced by invalid UTF-8 / NULs
            if body > 8:
                i = start + rng.randrange(body - 4)
                msg[i : i + 4] = rng.choice((b"\xff\xfe\xfd\xfc", b"\0\0\0\0", b"\xc3\x28\xa0\xa1"))
    return _fix(msg)


def _header(prog: int, vers: int, proc: int, mtype: int, serial: int, status: int, body: bytes) -> bytes:
    return _fix(bytearray(_FRAME.pack(0, prog, vers, proc, mtype, serial, status)) + body)


def survivable(rng: random.Random, seeds: list[Frame]) -> bytes:
    """A malformed message the daemon must answer (or ignore) while keeping the client.

    Never a CONNECT_CLOSE call, whatever its payload: libvirtd hangs up after its reply
    (``virNetServerClientDelayedClose``), and so does pyvirtd.
    """
    while True:
        msg = _survivable(rng, seeds)
        prog, _vers, proc, mtype = struct.unpack_from(">IIii", msg, LEN_SIZE)
        calls = (MessageType.CALL, MessageType.CALL_WITH_FDS)
        if not (prog == REMOTE_PROGRAM and proc == _remote.REMOTE_PROC_CONNECT_CLOSE and mtype in calls):
            return msg


def _survivable(rng: random.Random, seeds: list[Frame]) -> bytes:
    kind = rng.randrange(10)
    serial = rng.getrandbits(31) % _SENTINEL
    if kind <= 4:
        return mutate(rng, rng.choice(seeds))
    if kind == 5:  # unknown procedure numbers, with random payloads
        proc = rng.choice((0, -1, 2**31 - 1, 455, 10000, rng.getrandbits(31), -rng.getrandbits(31)))
        return _header(REMOTE_PROGRAM, 1, proc, MessageType.CALL, serial, 0, rng.randbytes(rng.randrange(64)))
    if kind == 6:  # known procedures, random payloads (bad XDR)
        proc = rng.choice(list(_remote.PROCEDURES))
        return _header(
            REMOTE_PROGRAM, 1, proc, MessageType.CALL, serial, rng.randrange(3), rng.randbytes(rng.randrange(96))
        )
    if kind == 7:  # stream messages for serials nobody opened
        status = rng.choice((Status.OK, Status.ERROR, Status.CONTINUE, 7))
        return _header(
            REMOTE_PROGRAM,
            1,
            rng.choice((201, 202, 260)),
            MessageType.STREAM,
            serial,
            status,
            rng.randbytes(rng.randrange(128)),
        )
    if kind == 8:  # calls to programs or versions nobody serves
        prog, vers = rng.choice(((0x20008087, 1), (REMOTE_PROGRAM, 2), (REMOTE_PROGRAM, 0), (rng.getrandbits(32), 1)))
        if prog == KEEPALIVE_PROGRAM:
            prog += 1
        return _header(prog, vers, rng.randrange(500), MessageType.CALL, serial, 0, rng.randbytes(rng.randrange(32)))
    return _header(KEEPALIVE_PROGRAM, 1, KEEPALIVE_PROC_PING, MessageType.MESSAGE, 0, 0, b"")  # a proper ping


def fatal(rng: random.Random) -> tuple[bytes, bool]:
    """A message after which the daemon may drop the client; True when it must (it breaks the framing)."""
    kind = rng.randrange(7)
    if kind == 0:  # lengths outside libvirt's limits
        length = rng.choice((0, 1, 4, 27, MESSAGE_MAX + LEN_SIZE + 1, 0xFFFFFFFF, 0x80000000))
        return struct.pack(">I", length) + rng.randbytes(rng.randrange(40)), True
    if kind == 1:  # pure random bytes
        return rng.randbytes(rng.randrange(1, 200)), False
    if kind == 2:  # keepalive garbage: wrong version, type or procedure
        vers, proc, mtype = rng.choice(
            ((2, 1, MessageType.MESSAGE), (1, 9, MessageType.MESSAGE), (1, 1, MessageType.CALL))
        )
        return _header(KEEPALIVE_PROGRAM, vers, proc, mtype, 0, 0, rng.randbytes(rng.randrange(16))), True
    if kind == 3:  # a reply, event or hole sent to the daemon
        bad_type: int = rng.choice((MessageType.REPLY, MessageType.MESSAGE, 6, 99, -1))
        return _header(REMOTE_PROGRAM, 1, 1, bad_type, 1, 0, b""), True
    if kind == 4:  # a non-call for a program nobody serves
        return _header(0x1234, 1, 1, MessageType.STREAM, 1, 0, b""), True
    if kind == 5:  # a truncated frame: the length promises more than ever comes
        whole = _header(REMOTE_PROGRAM, 1, 66, MessageType.CALL, 1, 0, rng.randbytes(rng.randrange(8, 400)))
        return whole[: rng.randrange(1, len(whole))], False
    # a message within the cap that is far bigger than what is sent (the daemon must not wait on it forever)
    return struct.pack(">I", rng.randrange(1 << 20, MESSAGE_MAX)) + rng.randbytes(64), False


# ---------------------------------------------------------------- clients
class Reply:
    """Reads and checks what the daemon sends one client: every message must be well formed."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.sentinels: set[int] = set()
        self.replies = 0

    def feed(self, data: bytes) -> None:
        self.buf += data
        while len(self.buf) >= LEN_SIZE:
            (length,) = struct.unpack_from(">I", self.buf)
            assert LEN_SIZE + HEADER_SIZE <= length <= MESSAGE_MAX, f"daemon sent a frame of length {length}"
            if len(self.buf) < length:
                return
            frame = bytes(self.buf[:length])
            del self.buf[:length]
            prog, _vers, _proc, mtype, serial, status = struct.unpack_from(">IIiiIi", frame, LEN_SIZE)
            assert mtype in (MessageType.REPLY, MessageType.STREAM, MessageType.MESSAGE), mtype
            assert status in (Status.OK, Status.ERROR, Status.CONTINUE), status
            if status == Status.ERROR:
                err = decode_error(frame)  # raises if the daemon's error struct does not decode
                assert err.message, frame
            self.replies += 1
            if serial >= _SENTINEL and prog == REMOTE_PROGRAM:
                self.sentinels.add(serial)


def exchange(sock: socket.socket, data: bytes, reply: Reply, serial: int, timeout: float) -> bool:
    """Send ``data`` while reading; then read until the reply to ``serial``; False when the daemon hung up."""
    deadline = time.monotonic() + timeout
    view = memoryview(data)
    while view or serial not in reply.sentinels:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "the daemon stopped answering a fuzzing client"
        r, w, _ = select.select([sock], [sock] if view else [], [], remaining)
        if r:
            try:
                got = sock.recv(262144)
            except ConnectionResetError:
                return False
            if not got:
                return False
            reply.feed(got)
        if w:
            try:
                n = sock.send(view[:65536])
            except (BrokenPipeError, ConnectionResetError):
                return False
            view = view[n:]
    return True


class Fuzzer(threading.Thread):
    def __init__(self, index: int, daemon: PrivateDaemon, seeds: list[Frame], quota: int, errors: list[str]) -> None:
        super().__init__(name=f"fuzzer-{index}", daemon=True)
        self.rng = random.Random(0x5EED + index)
        self.daemon_ = daemon
        self.seeds = seeds
        self.quota = quota
        self.sent = 0
        self.dropped = 0
        self.errors = errors
        self.read_only = index % 3 == 2  # a third of the fuzzers work on qemu:///system read-only (workers)

    def _connect(self) -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.daemon_.ro_socket if self.read_only else self.daemon_.socket)
        if self.rng.random() < 0.85:  # most connections open a driver first, so the handlers run
            uri = "qemu:///system" if self.read_only else "test:///default"
            reply = Reply()
            open_call = _call(
                _remote.REMOTE_PROC_CONNECT_OPEN, _SENTINEL, _args(_remote.REMOTE_PROC_CONNECT_OPEN), (uri, 0)
            )
            assert exchange(s, open_call, reply, _SENTINEL, 30)
        return s

    def run(self) -> None:
        try:
            self._run()
        except BaseException as e:  # the assertion is re-raised by the test from here
            self.errors.append(f"{self.name}: {type(e).__name__}: {e}")

    def _run(self) -> None:
        rng = self.rng
        probe = _SENTINEL
        while self.sent < self.quota:
            s = self._connect()
            reply = Reply()
            try:
                for _ in range(rng.randint(1, 3)):  # a few batches on this connection
                    n = min(BATCH, self.quota - self.sent)
                    if n <= 0:
                        break
                    batch = [survivable(rng, self.seeds) for _ in range(n)]
                    probe += 1
                    data = b"".join(batch) + _call(_remote.REMOTE_PROC_AUTH_LIST, probe)
                    alive = exchange(s, data, reply, probe, 60)
                    assert alive, "the daemon dropped a client that sent only survivable messages"
                    self.sent += n
                if self.sent < self.quota and rng.random() < 0.5:
                    data, must_drop = fatal(rng)
                    self.sent += 1
                    with contextlib.suppress(OSError):
                        s.sendall(data)
                    if must_drop:  # the daemon closes it, and promptly
                        s.settimeout(10)
                        try:
                            while s.recv(65536):
                                pass
                        except ConnectionResetError:
                            pass
                        self.dropped += 1
            finally:
                s.close()


def _fd_targets(pid: int) -> list[str]:
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
    return out


class Watch(threading.Thread):
    """A well-behaved client and the daemon's vital signs, checked throughout the fuzz."""

    def __init__(self, daemon: PrivateDaemon) -> None:
        super().__init__(name="watch", daemon=True)
        assert daemon.proc is not None
        self.pid = daemon.proc.pid
        self.daemon_ = daemon
        self.stop = threading.Event()
        self.latencies: list[float] = []
        self.threads: list[int] = []
        self.fds: list[int] = []
        self.failure: str | None = None
        self.fd_targets: list[str] = []

    def vitals(self) -> tuple[int, int]:
        status = Path(f"/proc/{self.pid}/status").read_text()
        threads = int(status.split("Threads:")[1].split()[0])
        return threads, len(os.listdir(f"/proc/{self.pid}/fd"))

    def run(self) -> None:
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.daemon_.socket)
            reply = Reply()
            serial = _SENTINEL
            open_call = _call(
                _remote.REMOTE_PROC_CONNECT_OPEN,
                serial,
                _args(_remote.REMOTE_PROC_CONNECT_OPEN),
                ("test:///default", 0),
            )
            assert exchange(s, open_call, reply, serial, ANSWER_BOUND)
            list_all = _args(_remote.REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS)
            while not self.stop.wait(0.2):
                serial += 1
                start = time.monotonic()
                call = _call(_remote.REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS, serial, list_all, (1, 0))
                assert exchange(s, call, reply, serial, ANSWER_BOUND), "daemon hung up"
                self.latencies.append(time.monotonic() - start)
                threads, fds = self.vitals()
                self.threads.append(threads)
                if fds > max(self.fds, default=0):
                    self.fd_targets = sorted(_fd_targets(self.pid))
                self.fds.append(fds)
            s.close()
        except BaseException as e:
            self.failure = f"{type(e).__name__}: {e}"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateDaemon]:
    root = tmp_path_factory.mktemp("fuzz")
    with PrivateDaemon(root) as d:
        yield d
    # the read-only fuzzers opened qemu:///system: nothing can have started, but never leave a QEMU behind
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if str(root).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(int(pid), 9)
            except OSError:
                pass


needs_qemu_driver = pytest.mark.skipif(
    importlib.util.find_spec("pyvirt_qemu") is None,
    reason="the core tested alone (tox -e core) has no QEMU driver: needs pyvirt-qemu installed",
)


@needs_qemu_driver
def test_fuzz_never_crashes_hangs_or_leaks(daemon: PrivateDaemon, tmp_path: Path) -> None:
    seeds = codec_calls()
    if shutil.which("virsh"):
        recorded = record_virsh_calls(daemon, tmp_path)
        assert len(recorded) > 50, "virsh's traffic was not recorded"
        seeds += recorded
        # warm the qemu driver's capability cache, so its one-off QEMU probes are not counted as leaks
        for cmd in (["capabilities"], ["domcapabilities"]):
            subprocess.run(["virsh", "-c", daemon.uri("qemu:///system", read_only=True), *cmd], capture_output=True,
                           timeout=120, check=False)  # fmt: skip
    watch = Watch(daemon)
    base_threads, base_fds = watch.vitals()
    watch.start()
    errors: list[str] = []
    per = -(-FUZZ_MESSAGES // FUZZ_CLIENTS)
    fuzzers = [Fuzzer(i, daemon, seeds, per, errors) for i in range(FUZZ_CLIENTS)]
    start = time.monotonic()
    for f in fuzzers:
        f.start()
    for f in fuzzers:
        f.join(300)
    elapsed = time.monotonic() - start
    watch.stop.set()
    watch.join(30)
    sent = sum(f.sent for f in fuzzers)
    print(f"\nfuzz: {sent} malformed messages in {elapsed:.1f} s ({sent / elapsed:.0f}/s), "
          f"{sum(f.dropped for f in fuzzers)} connections dropped by the daemon as they must be; "
          f"well-behaved client: {len(watch.latencies)} answers, slowest {max(watch.latencies, default=0):.3f} s; "
          f"threads {base_threads}->{max(watch.threads, default=0)}, fds {base_fds}->{max(watch.fds, default=0)}")  # fmt: skip

    assert not errors, errors
    assert all(not f.is_alive() for f in fuzzers), "a fuzzing client is still waiting for the daemon"
    assert sent >= FUZZ_MESSAGES
    assert watch.failure is None, watch.failure
    assert len(watch.latencies) >= elapsed / 0.2 / 4, "the well-behaved client got too few answers"
    assert max(watch.latencies) < ANSWER_BOUND
    assert daemon.proc is not None and daemon.proc.poll() is None, f"pyvirtd died:\n{daemon.log()[-3000:]}"
    # workers are pooled (20 + 5 at most), descriptors are the listeners, drivers and the live clients
    assert max(watch.threads) <= base_threads + 25 + 2
    assert max(watch.fds) <= base_fds + 3 * FUZZ_CLIENTS + 8, watch.fd_targets
    # every client is gone now: what they held is released
    deadline = time.monotonic() + 10
    while watch.vitals()[1] > base_fds and time.monotonic() < deadline:
        time.sleep(0.1)
    assert watch.vitals()[1] <= base_fds, "descriptors leaked by closed clients"
    assert not daemon.tracebacks(), "\n\n".join(daemon.tracebacks())


def test_a_client_that_never_reads_cannot_make_the_daemon_buffer_without_bound(daemon: PrivateDaemon) -> None:
    """libvirt stops reading a client whose replies pile up; so must pyvirtd, or one client eats its memory."""
    assert daemon.proc is not None
    pid = daemon.proc.pid

    def rss() -> int:
        return int(Path(f"/proc/{pid}/status").read_text().split("VmRSS:")[1].split()[0]) * 1024

    call = _call(_remote.REMOTE_PROC_CONNECT_GET_CAPABILITIES, 1)  # before CONNECT_OPEN: an error reply each
    batch = call * 4096
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(daemon.socket)
    s.settimeout(2)
    before = rss()
    accepted = 0
    try:
        while accepted < 64 << 20:
            accepted += s.send(batch)
    except TimeoutError:
        pass
    grown = rss() - before
    s.close()
    # socket buffers hold a few hundred KiB each way; without back-pressure the daemon takes it all (and more
    # for the replies it queues, each bigger than the call)
    assert accepted < 16 << 20, f"the daemon read {accepted} bytes from a client that never read a reply"
    assert grown < 32 << 20, f"the daemon grew by {grown} bytes"
    # and the daemon still answers everyone else
    watch = Watch(daemon)
    watch.start()
    time.sleep(0.5)
    watch.stop.set()
    watch.join(10)
    assert watch.failure is None and watch.latencies, watch.failure


def _answer(sock: socket.socket, serial: int) -> bytes:
    """The daemon's reply to call ``serial`` (other messages skipped)."""
    buf = b""
    while True:
        frames = _frames(buf)
        for frame in frames:
            if struct.unpack_from(">I", frame, LEN_SIZE + 16)[0] == serial:
                return frame
        chunk = sock.recv(65536)
        assert chunk, "the daemon closed the connection"
        buf += chunk


def test_a_name_with_a_nul_is_the_c_string_libvirtd_would_see(daemon: PrivateDaemon) -> None:
    """XDR strings may carry NULs; libvirtd's C code reads up to the first, so "test\\0junk" finds "test".

    Found by the fuzz: the whole string reached the storage driver, whose ``open()`` raised ValueError
    ("embedded null byte") and left a traceback in the daemon's log.
    """
    r = _remote
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(daemon.ro_socket)
        s.sendall(_call(r.REMOTE_PROC_CONNECT_OPEN, 1, _args(r.REMOTE_PROC_CONNECT_OPEN), ("test:///default", 0)))
        assert struct.unpack_from(">i", _answer(s, 1), LEN_SIZE + 20)[0] == Status.OK
        lookup = _args(r.REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME)
        s.sendall(_call(r.REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME, 2, lookup, ("test\0junk",)))
        reply = _answer(s, 2)
        assert struct.unpack_from(">i", reply, LEN_SIZE + 20)[0] == Status.OK, decode_error(reply).message
        # a name that is nothing but what follows a NUL is the empty name: not found, as in libvirt
        s.sendall(_call(r.REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME, 3, lookup, ("\0test",)))
        assert decode_error(_answer(s, 3)).code == 42  # VIR_ERR_NO_DOMAIN
        s.sendall(_call(r.REMOTE_PROC_STORAGE_POOL_LOOKUP_BY_NAME, 4, _args(r.REMOTE_PROC_STORAGE_POOL_LOOKUP_BY_NAME),
                        ("default-pool\0/../../x",)))  # fmt: skip
        assert struct.unpack_from(">i", _answer(s, 4), LEN_SIZE + 20)[0] == Status.OK
    assert not daemon.tracebacks(), "\n\n".join(daemon.tracebacks())


@pytest.mark.skipif(not shutil.which("virsh"), reason="Debian's virsh (libvirt-clients) is not installed")
@needs_qemu_driver
def test_a_read_only_client_cannot_make_the_daemon_read_files_outside_its_state(
    daemon: PrivateDaemon, tmp_path: Path
) -> None:
    (tmp_path / "outside.xml").write_text(
        "<pool type='dir'><name>outside</name><target><path>/tmp</path></target></pool>"
    )
    name = "../" * 32 + str(tmp_path / "outside").lstrip("/")
    run = subprocess.run(["virsh", "-r", "-c", daemon.uri("qemu:///system", read_only=True), "pool-info", name],
                         capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    # libvirt: "Storage pool not found: no storage pool with matching name '../../..'" (the name asked for)
    assert f"no storage pool with matching name '{name}'" in run.stderr, run.stderr
