"""Clients nobody here wrote, against pyvirtd: Debian's virsh and libvirt-python (python3-libvirt).

The oracle is libvirt itself: the same virsh script runs against libvirt's own
test driver (``virsh -c test:///default``, in virsh's process) and against
pyvirtd's (``test+unix:///default?socket=...``), and the two outputs must be
the same apart from what differs between any two runs (a generated UUID, CPU
time). libvirt-python's own unit tests run unchanged but for their URI.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pyvirt.daemon.instance import PrivateDaemon as Daemon

pytestmark = pytest.mark.skipif(
    shutil.which("virsh") is None, reason="Debian's virsh (libvirt-clients) is not installed"
)

GUEST = "<domain type='test'><name>g1</name><memory>65536</memory><os><type>hvm</type></os></domain>"

SCRIPT = """\
list --all
domstate test --reason
suspend test
domstate test --reason
resume test
shutdown test
list --all
start test
reboot test
destroy test
list --all
define {guest}
list --all
start g1
dominfo g1
dominfo test
dumpxml g1
undefine g1
list --all
destroy g1
list --all
list --all --name --inactive
net-list --all
net-info default
net-dumpxml default
net-destroy default
net-list --all
net-start default
pool-list --all --details
vol-list default-pool
vol-create-as default-pool v1.img 10M
vol-list default-pool
vol-info v1.img --pool default-pool
snapshot-create-as test s1
snapshot-list test --name
snapshot-current test --name
nodeinfo
hostname
version
capabilities
domstate nosuch
"""


def _normalise(text: str, uuids: list[str]) -> str:
    text = re.sub(r"CPU time:\s+[0-9.]+s", "CPU time: N", text)
    for i, uuid in enumerate(uuids):
        text = text.replace(uuid, f"<uuid {i}>")
    return text


def _run_virsh(uri: str, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["virsh", "-c", uri], input=script, capture_output=True, text=True, timeout=120, check=False)


def test_virsh_script_same_as_libvirt(pyvirtd: Daemon, tmp_path: Path) -> None:
    guest = tmp_path / "g1.xml"
    guest.write_text(GUEST)
    script = SCRIPT.format(guest=guest)
    want = _run_virsh("test:///default", script)
    got = _run_virsh(pyvirtd.uri(), script)
    # The one value generated per run: g1's UUID (virsh prints it in dominfo and dumpxml).
    uuid_re = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
    fixed = set(uuid_re.findall(_run_virsh("test:///default", "list --uuid --all\nnet-uuid default\n").stdout))
    want_uuids = [u for u in dict.fromkeys(uuid_re.findall(want.stdout)) if u not in fixed]
    got_uuids = [u for u in dict.fromkeys(uuid_re.findall(got.stdout)) if u not in fixed]
    assert _normalise(got.stdout, got_uuids) == _normalise(want.stdout, want_uuids)
    assert got.stderr == want.stderr
    assert got.returncode == want.returncode


def test_read_only_socket_refuses_writes_with_libvirts_error(pyvirtd: Daemon) -> None:
    def virsh(uri: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["virsh", "-c", uri, *args], capture_output=True, text=True, timeout=60, check=False)

    before = virsh(pyvirtd.uri(), "domstate", "test").stdout
    listed = virsh(pyvirtd.uri(read_only=True), "list", "--all")
    assert listed.returncode == 0 and " test " in listed.stdout
    denied = virsh(pyvirtd.uri(read_only=True), "destroy", "test")
    assert denied.returncode == 1
    assert "operation forbidden: read only access prevents virDomainDestroy" in denied.stderr
    assert virsh(pyvirtd.uri(), "domstate", "test").stdout == before
    # reading is allowed, but not the secrets: libvirt refuses the secure flag to read-only clients
    secure = virsh(pyvirtd.uri(read_only=True), "dumpxml", "test", "--security-info")
    assert "virDomainGetXMLDesc with secure flag" in secure.stderr


def test_no_daemon_gives_libvirts_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "pyvirt-sock"
    got = _run_virsh(f"test+unix:///default?socket={missing}", "list\n")
    assert got.returncode == 1
    assert f"Failed to connect socket to '{missing}': No such file or directory" in got.stderr


LIBVIRT_PYTHON_MODULES = (
    "test_conn", "test_domain", "test_domain_checkpoint", "test_domain_snapshot", "test_interface",
    "test_network", "test_nodedev", "test_storage",
)  # fmt: skip


def _libvirt_python_tests() -> Path | None:
    """libvirt-python 9.0.0's own tests, from its sdist (fetched once into the cache, never committed)."""
    cache = Path(os.environ.get("PYVIRT_LIBVIRT_PYTHON_CACHE", "/var/cache/pyvirt/libvirt-python"))
    tests = cache / "libvirt-python-9.0.0" / "tests"
    if tests.is_dir():
        return tests
    cache.mkdir(parents=True, exist_ok=True)
    fetched = subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
         "libvirt-python==9.0.0", "-d", str(cache)],
        capture_output=True, timeout=300, check=False,
    )  # fmt: skip
    sdist = cache / "libvirt-python-9.0.0.tar.gz"
    if fetched.returncode != 0 or not sdist.exists():
        return None
    subprocess.run(["tar", "xzf", str(sdist), "-C", str(cache)], check=True)
    return tests if tests.is_dir() else None


@pytest.mark.parametrize("module", LIBVIRT_PYTHON_MODULES)
def test_libvirt_python_unit_tests(pyvirtd: Daemon, tmp_path: Path, module: str) -> None:
    if not os.path.exists("/usr/lib/python3/dist-packages/libvirt.py"):
        pytest.skip("Debian's python3-libvirt is not installed")
    source = _libvirt_python_tests()
    if source is None:
        pytest.skip("libvirt-python 9.0.0's sdist could not be fetched from the package registry")
    work = tmp_path / "tests"
    shutil.copytree(source, work)
    for path in work.glob("*.py"):
        path.write_text(path.read_text().replace('"test:///default"', repr(pyvirtd.uri())))
    run = subprocess.run(
        ["/usr/bin/python3", "-m", "unittest", "-v", module],
        cwd=work, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert re.search(r"^OK", run.stderr, re.M), run.stderr[-3000:]
