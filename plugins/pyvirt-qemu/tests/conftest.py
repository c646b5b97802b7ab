from __future__ import annotations

import os
import shutil
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
