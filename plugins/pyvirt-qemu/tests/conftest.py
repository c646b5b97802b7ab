from __future__ import annotations

import json
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import pyvirt


@pytest.fixture
def qemu_root(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("needs root to spawn QEMU through the security stack")
    if not shutil.which("qemu-system-x86_64"):
        pytest.skip("qemu-system-x86_64 (Debian's qemu-system-x86) is not installed")
    root = tmp_path / "embed"
    yield root
    # nothing may outlive a test: kill any QEMU still named after this root
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if str(root).encode() in cmdline and b"qemu-system" in cmdline:
                os.kill(int(pid), 9)


@pytest.fixture
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


@pytest.fixture
def libvirtd_harness() -> Any:
    """The repository's ``bench/private_libvirtd.py`` (a private libvirtd 9.0 to compare with), loaded as a module;
    the test is skipped where it, Debian's virsh or Debian's libvirtd is missing."""
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
