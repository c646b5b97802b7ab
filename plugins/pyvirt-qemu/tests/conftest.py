from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import pyvirt


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cold_qemu_caps: the test's qemu_root starts without QEMU's capabilities")


@pytest.fixture(scope="session")
def _qemu_caps(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """QEMU's capabilities probed once for the session (KVM's where usable, and TCG's), in a cache directory.

    Why: every test root would otherwise probe the same binary again (QEMU started over QMP, a third of a
    second and more each); a host keeps that cache across daemon starts just as well. The cache is checked
    against the binary's identity on every read, as on a host.
    """
    from pyvirt_qemu.emulator_caps import emulator_caps

    cache = tmp_path_factory.mktemp("qemu-caps")
    emulator_caps("/usr/bin/qemu-system-x86_64", str(cache))
    emulator_caps("/usr/bin/qemu-system-x86_64", str(cache), tcg=True)
    return cache / "capabilities"


def _embed_root(root: Path, request: pytest.FixtureRequest, *, warm: bool) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("needs root to spawn QEMU through the security stack")
    if not shutil.which("qemu-system-x86_64"):
        pytest.skip("qemu-system-x86_64 (Debian's qemu-system-x86) is not installed")
    if warm:
        shutil.copytree(request.getfixturevalue("_qemu_caps"), root / "cache" / "qemu" / "capabilities")
    yield root
    # nothing may outlive its tests: kill any QEMU still named after this root
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if str(root).encode() in cmdline and b"qemu-system" in cmdline:
                os.kill(int(pid), 9)


@pytest.fixture
def qemu_root(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A root for ``qemu:///embed`` and private daemons, its capabilities cache warm (``cold_qemu_caps``: empty)."""
    yield from _embed_root(tmp_path / "embed", request, warm=request.node.get_closest_marker("cold_qemu_caps") is None)


@pytest.fixture(scope="module")
def module_qemu_root(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A warm ``qemu_root`` that lives as long as the module: for a daemon or guest that works in the background
    while the module's other tests run (a long wait overlapped with them instead of added to them)."""
    yield from _embed_root(tmp_path_factory.mktemp("module") / "embed", request, warm=True)


@pytest.fixture(scope="session")
def virt_type() -> str:
    """KVM when /dev/kvm works (firmware-only guests run there even on kvm-pvm), else TCG."""
    return "kvm" if os.access("/dev/kvm", os.R_OK | os.W_OK) else "qemu"


@pytest.fixture
def conn(qemu_root: Path) -> Iterator[pyvirt.Connection]:
    with pyvirt.open(f"qemu:///embed?root={qemu_root}") as c:
        yield c


@pytest.fixture
def guest_monitor() -> Callable[[pyvirt.Domain], Any]:
    """``guest_monitor(dom)``: the driver's own QMP connection to a running guest, to ask QEMU what it really built.

    White-box: QEMU takes one QMP client, the driver's, so a test that checks
    QEMU's side (query-pci, qom-list, query-tpm, ...) borrows it. A guest
    that is not running fails the test with its name.
    """

    def monitor(dom: pyvirt.Domain) -> Any:
        from pyvirt_qemu import driver as qemu_driver

        for state in qemu_driver._states.values():
            obj = state.by_name.get(dom.name)
            if obj is not None and obj.process is not None:
                return obj.process.monitor
        raise AssertionError(f"{dom.name} is not running")

    return monitor


def _qmp_without_block_jobs(socket_path: Path, command: str, arguments: dict[str, Any]) -> None:
    """One QMP command on a monitor socket nobody holds (the daemon is down); then waits until QEMU runs no
    block job."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(socket_path))
        reader = sock.makefile("r")
        json.loads(reader.readline())  # greeting
        for message in ({"execute": "qmp_capabilities"}, {"execute": command, "arguments": arguments}):
            sock.sendall(json.dumps(message).encode() + b"\n")
            while "return" not in (reply := json.loads(reader.readline())) and "error" not in reply:
                pass  # an event: skipped
            assert "error" not in reply, reply
        deadline = time.monotonic() + 30
        while True:
            sock.sendall(b'{"execute": "query-block-jobs"}\n')
            while "return" not in (reply := json.loads(reader.readline())):
                pass  # an event: skipped
            if not reply["return"]:
                return
            assert time.monotonic() < deadline, reply
            time.sleep(0.1)


@pytest.fixture
def qmp_without_block_jobs() -> Callable[[Path, str, dict[str, Any]], None]:
    """For the daemon-restart tests of block jobs: act on QEMU while no pyvirtd holds its monitor."""
    return _qmp_without_block_jobs


def _load_libvirtd_harness() -> Any:
    """``bench/private_libvirtd.py`` loaded as a module; skips where it, Debian's virsh or libvirtd is missing."""
    import importlib.util

    harness = Path(__file__).parents[3] / "bench" / "private_libvirtd.py"
    if not harness.exists() or not shutil.which("virsh"):
        pytest.skip("needs the repository's bench/private_libvirtd.py and Debian's virsh")
    spec = importlib.util.spec_from_file_location("private_libvirtd", harness)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not os.path.exists(module.LIBVIRTD):
        pytest.skip("needs Debian's libvirtd (libvirt-daemon-driver-qemu)")
    return module


class SharedLibvirtd:
    """The session's one private libvirtd 9.0 (QEMU driver), started on first use."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.harness: Any = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.uri = ""
        self.starts = 0

    def ensure(self) -> str:
        """Its URI; the daemon is started when first asked for, and again if an earlier test's story ended it."""
        if self.harness is None:
            self.harness = _load_libvirtd_harness()
        if self.proc is None or self.proc.poll() is not None:
            work = self.base / f"daemon{self.starts}"
            work.mkdir()
            self.starts += 1
            self.proc, self.uri = self.harness.start_libvirtd(work, "qemu")
        return self.uri

    def clean(self) -> None:
        """Destroy and undefine every guest a test left, so that the next test starts on an empty daemon."""
        if self.proc is None or self.proc.poll() is not None:
            return
        env = dict(os.environ, LC_ALL="C")

        def virsh(*argv: str) -> str:
            done = subprocess.run(["virsh", "-c", self.uri, *argv], capture_output=True, text=True, env=env,
                                  timeout=60, check=False)  # fmt: skip
            return done.stdout

        for name in virsh("list", "--all", "--name").split():
            virsh("destroy", name)
            virsh("undefine", name, "--managed-save", "--snapshots-metadata", "--checkpoints-metadata")
        assert virsh("list", "--all", "--name").split() == [], "a guest outlived the test on the shared libvirtd"

    def stop(self) -> None:
        if self.proc is not None:
            self.harness.stop_libvirtd(self.proc)


@pytest.fixture(scope="session")
def _libvirtd_of_the_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedLibvirtd]:
    shared = SharedLibvirtd(tmp_path_factory.mktemp("libvirtd"))
    try:
        yield shared
    finally:
        shared.stop()


@pytest.fixture
def shared_libvirtd(_libvirtd_of_the_session: SharedLibvirtd) -> Iterator[str]:
    """The URI of one private libvirtd 9.0 (QEMU driver) that the comparison tests share, for those that need
    no fresh daemon.

    Why shared: each start of libvirtd and its first call (QEMU's capabilities probed into a new cache) cost
    about a second and a half per test. Isolation comes from the cleanup: after each test every guest it
    left is destroyed and undefined (the teardown fails if one stays). Skipped where the harness, Debian's
    virsh or libvirtd is missing.
    """
    uri = _libvirtd_of_the_session.ensure()
    try:
        yield uri
    finally:
        _libvirtd_of_the_session.clean()


class EventListener:
    """``virsh event ... --loop`` (Debian's virsh or pyvirsh) read line by line as it prints.

    virsh flushes each event line as it prints it (vshPrint), so a test waits for
    the event it expects instead of a fixed ``--timeout``, and ends the loop with
    SIGINT once the story is over: virsh then prints "event loop interrupted" and
    its count, as pyvirsh does.
    """

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.lines: list[str] = []
        self._ended = False
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        self.proc.stdout.close()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def wait_for(self, text: str, times: int = 1, timeout: float = 30) -> bool:
        """Wait until ``times`` printed lines contain ``text``; False when the listener ended or time ran out first.

        A test does not assert on this: what the listener printed is compared afterwards, where a missing
        event shows with the whole output.
        """
        with self._changed:
            return (
                self._changed.wait_for(
                    lambda: self._ended or sum(text in line for line in self.lines) >= times, timeout
                )
                and sum(text in line for line in self.lines) >= times
            )

    def stop(self, timeout: float = 60, sig: int = signal.SIGINT) -> tuple[str, str, int]:
        """End the loop as a person would (Ctrl-C; SIGTERM ends it without the closing lines); returns stdout,
        stderr and the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        assert self.proc.stderr is not None
        try:
            self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        err = self.proc.stderr.read()
        self._reader.join(timeout)
        self.proc.stderr.close()
        return "".join(line + "\n" for line in self.lines), err, self.proc.returncode


class EventListeners:
    """What the ``event_listeners`` fixture gives: listeners started, waited on until registered, and ended."""

    def __init__(self) -> None:
        self.started: list[EventListener] = []

    def start(self, argv: list[str], env: dict[str, str]) -> EventListener:
        self.started.append(EventListener(argv, env))
        return self.started[-1]

    def registered(
        self, listeners: list[EventListener], probe: Callable[[], None], line: str, timeout: float = 60
    ) -> None:
        """Wait until every listener receives events: run ``probe`` (an action whose event prints ``line``)
        until each has printed ``line``.

        Neither virsh nor the daemon tells when a listener's registration is done; an event that reaches
        the listener does (the fixed sleep this replaces was either too long or, under load, too short).
        The probe's lines are the caller's to drop from what it compares (``without_probe``).
        """
        deadline = time.monotonic() + timeout
        while True:
            probe()
            if all(listener.wait_for(line, timeout=1) for listener in listeners):
                return
            ended = [listener.stop() for listener in listeners if listener.proc.poll() is not None]
            assert not ended, f"a listener ended before the first event (stdout, stderr, status): {ended}"
            assert time.monotonic() < deadline, [listener.lines for listener in listeners]

    @staticmethod
    def without_probe(out: str, line: str) -> str:
        """A listener's output without the probe's lines, its closing count ("events received: N") lowered
        by as many."""
        lines = out.splitlines()
        kept = [text for text in lines if text != line]
        dropped = len(lines) - len(kept)
        for i, text in enumerate(kept):
            if text.startswith("events received: "):  # the closing count; virsh prints an empty line after it
                kept[i] = f"events received: {int(text.split(': ')[1]) - dropped}"
        return "".join(text + "\n" for text in kept)

    def close(self) -> None:
        for listener in self.started:
            if listener.proc.poll() is None:
                listener.proc.kill()
                listener.proc.wait()
            listener._reader.join(30)
            if listener.proc.stderr is not None:
                listener.proc.stderr.close()


@pytest.fixture
def event_listeners() -> Iterator[EventListeners]:
    """Start ``virsh event --loop`` listeners read as they print (see EventListener); any left running at
    teardown is ended."""
    listeners = EventListeners()
    try:
        yield listeners
    finally:
        listeners.close()
