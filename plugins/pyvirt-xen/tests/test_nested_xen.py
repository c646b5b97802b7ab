"""The driver's xl path on a real Xen hypervisor, booted under QEMU/TCG (see ``nested_xen.py``).

Heavy, so run only when asked, as libvirt's expensive tests are
(``VIR_TEST_EXPENSIVE=1``): ``PYVIRT_TEST_XEN=1``. It boots Xen 4.17 with
Debian's kernel as dom0, runs ``in_dom0/`` with pytest inside dom0 against
the checkout seen read-only over 9p, powers off, and fails with dom0's
pytest report when a test there failed, and prints when each phase began
(Xen, dom0's kernel, the toolstack, the tests' end). The tools are fetched
once by ``tools/fetch-xen-dom0`` (downloaded with apt, not installed).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from nested_xen import DOM0_CACHE_FETCH, guest_initramfs, run_in_dom0

HERE = Path(__file__).resolve().parent

pytestmark = pytest.mark.skipif(
    os.environ.get("PYVIRT_TEST_XEN") != "1",
    reason="boots Xen under QEMU/TCG for minutes: set PYVIRT_TEST_XEN=1 to run it",
)


@pytest.fixture(scope="module")
def dom0_cache() -> Path:
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("qemu-system-x86_64 is not installed (Debian package qemu-system-x86)")
    out = subprocess.run([str(DOM0_CACHE_FETCH)], check=False, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        pytest.fail(f"fetch-xen-dom0 failed: {out.stderr}")
    return Path(out.stdout.strip())


def test_xl_lifecycle_in_nested_dom0(dom0_cache: Path, tmp_path: Path) -> None:
    # the work directory is dom0's /xen-results; it must not be under a path dom0 overlays (/tmp, /run)
    work = tmp_path
    (work / "guest.cpio.gz").write_bytes(guest_initramfs(dom0_cache))
    command = (
        f"PYVIRT_XEN_GUEST_KERNEL={dom0_cache / 'vmlinux'} PYVIRT_XEN_GUEST_INITRD=/xen-results/guest.cpio.gz "
        f"{sys.executable} -m pytest -q -p no:cacheprovider --durations=0 "
        f"--rootdir={HERE.parent} {HERE / 'in_dom0'} > /xen-results/pytest.log 2>&1"
    )
    run = run_in_dom0(dom0_cache, work, command)
    report = (work / "pytest.log").read_text(errors="replace") if (work / "pytest.log").exists() else ""
    durations = report[report.find("slowest durations") :].split("\n\n")[0] if "slowest durations" in report else ""
    print(f"\nnested Xen: {run.timing()}\n{durations}")  # where the minutes went (nox -s xen shows it)
    assert "dom0-run: toolstack up" in run.console, run.console[-4000:]
    assert run.rc == 0, f"dom0's pytest (rc {run.rc}, {run.timing()}):\n{report}\n{run.console[-2000:]}"
    # every test in in_dom0/ ran there: none skipped (a dom0 that is not one skips them all)
    written = sum(len(re.findall(r"^def test_", f.read_text(), re.M)) for f in (HERE / "in_dom0").glob("test_*.py"))
    assert re.search(rf"^{written} passed", report, re.M), report
