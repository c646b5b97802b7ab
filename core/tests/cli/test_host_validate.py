"""``pyvirsh host-validate`` reports what this host really has."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pyvirt.util.cgroup_layout import detect_cgroup_layout


def pyvirsh(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyvirt.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def results(*groups: str, env: dict[str, str] | None = None) -> dict[str, dict[str, str]]:
    proc = pyvirsh("host-validate", "--json", *groups, env=env)
    return {f"{r['group']}: {r['check']}": r for r in json.loads(proc.stdout)}


needs_qemu_driver = pytest.mark.skipif(
    importlib.util.find_spec("pyvirt_qemu") is None,
    reason="the core tested alone (tox -e core) has no QEMU driver: needs pyvirt-qemu installed",
)
needs_lxc_driver = pytest.mark.skipif(
    importlib.util.find_spec("pyvirt_lxc") is None,
    reason="the core tested alone (tox -e core) has no LXC driver: needs pyvirt-lxc installed",
)


@needs_qemu_driver
def test_kvm_and_tun_checks_match_the_device_nodes() -> None:
    r = results("qemu")
    assert r["QEMU: if device /dev/kvm exists"]["status"] == ("PASS" if os.path.exists("/dev/kvm") else "FAIL")
    vhost = r["QEMU: if device /dev/vhost-net exists"]
    assert vhost["status"] == ("PASS" if os.path.exists("/dev/vhost-net") else "WARN")
    if vhost["status"] == "WARN":
        assert "vhost_net" in vhost["fix"]


@needs_lxc_driver
def test_cgroup_layout_is_named_and_each_controller_checked() -> None:
    r = results("lxc")
    layout = detect_cgroup_layout()
    assert f"LXC: cgroup layout ({layout.describe()})" in r
    for ctl in ("memory", "cpu", "cpuset", "devices", "freezer"):
        assert r[f"LXC: for cgroup '{ctl}' controller support"]["status"] == (
            "PASS" if layout.has_controller(ctl) else "FAIL"
        )


def test_audit_state_is_reported_with_a_fix(root_only: None) -> None:
    from pyvirt.util.audit import read_audit_status

    r = results("audit")
    enabled = read_audit_status().enabled
    check = r["AUDIT: if the kernel audit subsystem is enabled"]
    assert check["status"] == ("PASS" if enabled else "WARN")
    if not enabled:
        assert check["fix"].startswith("auditctl -e 1")


@needs_qemu_driver
def test_emulator_with_file_caps_lacking_rawio_gets_a_warning_and_a_setcap_line(root_only: None) -> None:
    if not shutil.which("setcap"):
        pytest.skip("setcap (libcap2-bin) is not installed")
    d = Path(tempfile.mkdtemp(prefix="pyvirt-hv-"))
    try:
        fake = d / "qemu-system-pyvirttest"
        shutil.copy2("/bin/true", fake)
        subprocess.run(["setcap", "cap_net_admin+ep", str(fake)], check=True)
        env = dict(os.environ, PATH=f"{d}:{os.environ.get('PATH', '')}")
        r = results("qemu", env=env)
        check = r[f"QEMU: file capabilities of {fake} (cap_net_admin+ep)"]
        assert check["status"] == "WARN"
        assert "cannot exec it (EPERM" in check["detail"] and "rawio='yes'" in check["detail"]
        assert check["fix"].startswith(f"setcap -r {fake}")
    finally:
        shutil.rmtree(d)


@needs_lxc_driver
def test_human_output_and_exit_codes() -> None:
    proc = pyvirsh("host-validate", "lxc")
    assert "LXC: Checking for Linux >= 2.6.26 pid namespace" in proc.stdout
    assert proc.returncode in (0, 1)
    assert (proc.returncode == 1) == (": FAIL" in proc.stdout)
    bad = pyvirsh("host-validate", "nosuchgroup")
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: invalid argument: unknown check group 'nosuchgroup'")
    assert pyvirsh("host-validate", "--help").returncode == 0
