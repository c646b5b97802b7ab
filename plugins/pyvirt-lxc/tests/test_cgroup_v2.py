"""The cgroup v2 code paths on the real kernel, through this host's cgroup2 mount.

This host is hybrid: every controller is bound to a v1 hierarchy and the
cgroup2 mount at /sys/fs/cgroup/unified has none. What cgroup2 has built in
still works there for real: directories, membership, the freezer
(``cgroup.freeze``/``cgroup.events``), killing everything in a cgroup, and
device access control, which cgroup v2 does with an eBPF program attached to
the cgroup. Limits on a v2 host need its controllers and are not exercised here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyvirt_lxc.cgroups import ContainerCgroup, Limits

from pyvirt.util.cgroup_layout import CgroupLayout, detect_cgroup_layout


@pytest.fixture
def v2_view() -> CgroupLayout:
    if os.geteuid() != 0:
        pytest.skip("cgroups need root")
    root = detect_cgroup_layout().v2_root
    if root is None or not os.path.exists(f"{root}/cgroup.procs"):
        pytest.skip("no cgroup2 mount on this host")
    return CgroupLayout(v1_mounts={}, v2_root=root, v2_controllers=frozenset())


def test_v2_freezer_membership_and_kill_all(v2_view: CgroupLayout) -> None:
    cg = ContainerCgroup("pyvirt-v2-test", v2_view)
    assert cg.is_v2("freezer") and cg.unique_dirs() == [f"{v2_view.v2_root}/machine/pyvirt-v2-test.libvirt-lxc"]
    cg.create(Limits())
    proc = subprocess.Popen(["sleep", "600"])
    try:
        Path(cg.procs_files()[0]).write_text(str(proc.pid))
        assert cg.pids() == {proc.pid}
        cg.freeze(True)
        assert "frozen 1" in Path(cg.unique_dirs()[0], "cgroup.events").read_text()
        cg.freeze(False)
        assert "frozen 0" in Path(cg.unique_dirs()[0], "cgroup.events").read_text()
        cg.freeze(True)
        cg.kill_all()  # thaws first: a frozen task cannot die
        assert proc.wait(5) == -9
        assert cg.pids() == set()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        cg.remove()
    assert not cg.exists()


def _openable_unlisted_device() -> str | None:
    """A device node outside the container's allowed list that this process itself can open."""
    for path in ("/dev/kmsg", "/dev/net/tun", "/dev/kvm", "/dev/loop0", "/dev/fuse", "/dev/tty0"):
        try:
            os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
        except OSError:
            continue
        return path
    return None


def test_v2_device_filter_denies_what_is_not_allowed(v2_view: CgroupLayout) -> None:
    device = _openable_unlisted_device()
    if device is None:
        pytest.skip("no device node outside the allowed list can be opened on this host")
    cg = ContainerCgroup("pyvirt-v2-dev", v2_view)
    cg.create(Limits())
    probe = (
        "import os, sys; sys.stdin.readline()\n"
        "def tryopen(p):\n"
        "    try:\n"
        "        os.close(os.open(p, os.O_RDONLY | os.O_NONBLOCK)); return 'ok'\n"
        "    except OSError as e:\n"
        "        return os.strerror(e.errno)\n"
        f"print(tryopen('/dev/null'), '|', tryopen({device!r}), flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", probe], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        Path(cg.procs_files()[0]).write_text(str(proc.pid))
        out, _ = proc.communicate("go\n", timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        cg.remove()
    assert out.strip() == "ok | Operation not permitted", f"{device}: {out!r}"
