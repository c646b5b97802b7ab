from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

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
