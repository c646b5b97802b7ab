from __future__ import annotations

import contextlib
import os
import select
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import pyvirt
from pyvirt.testing.sources import require

APPLETS = ("sh", "sleep", "cat", "echo", "ls", "ip", "hostname", "ps", "mount", "grep", "head", "tr", "ping", "true",
           "id", "mkdir", "kill", "udhcpc")  # fmt: skip


@pytest.fixture(scope="session")
def busybox() -> Path:
    return require("guest-linux") / "busybox"


@pytest.fixture
def lxc_root(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("containers need root (namespaces, cgroups, mounts)")
    root = tmp_path / "embed"
    yield root
    # Nothing may outlive a test: kill any controller still serving this root, then let the driver
    # clean up after them (a killed controller leaves its container's init and cgroups behind).
    killed = False
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                pidfd = os.pidfd_open(int(pid))
            except OSError:
                continue
            try:
                if str(root).encode() in cmdline and b"pyvirt_lxc.controller" in cmdline:
                    os.kill(int(pid), 9)
                    select.select([pidfd], [], [], 5)
                    killed = True
            finally:
                os.close(pidfd)
    if killed:
        with contextlib.suppress(pyvirt.Error), pyvirt.open(f"lxc:///embed?root={root}"):
            pass


@pytest.fixture
def conn(lxc_root: Path) -> Iterator[pyvirt.Connection]:
    with pyvirt.open(f"lxc:///embed?root={lxc_root}") as c:
        yield c


@pytest.fixture
def make_rootfs(tmp_path: Path, busybox: Path) -> Callable[[str], Path]:
    """A busybox root filesystem whose /sbin/init is the given shell script."""

    def make(init_script: str, name: str = "rootfs") -> Path:
        rootfs = tmp_path / name
        for d in ("bin", "sbin", "proc", "sys", "dev", "etc", "tmp", "out"):
            (rootfs / d).mkdir(parents=True, exist_ok=True)
        (rootfs / "bin" / "busybox").write_bytes(busybox.read_bytes())
        (rootfs / "bin" / "busybox").chmod(0o755)
        for applet in APPLETS:
            (rootfs / "bin" / applet).symlink_to("busybox")
        (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n")
        (rootfs / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
        init = rootfs / "sbin" / "init"
        init.write_text("#!/bin/sh\n" + textwrap.dedent(init_script))
        init.chmod(0o755)
        return rootfs

    return make
