"""A guest whose QEMU runs under its own DAC label: a static ``<seclabel>``, qemu.conf's user, or both.

libvirt gives the domain's private directory and what it makes there (the master key QEMU
reads at start, the sockets QEMU binds) to the identity the guest's process runs as, and
takes back the disk it lent. These tests start a real QEMU (under TCG: this host's
/dev/kvm is root's alone) with a qcow2 disk and a guest agent socket, read the process's
uid/gid from /proc, and check that destroy leaves every file as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import pyvirt
from pyvirt import DomainState
from pyvirt.security.remembered import owners_of

XATTR = "trusted.libvirt.security."
DISK_OWNER = (1234, 1235)


@pytest.fixture
def base() -> Iterator[Path]:
    """A directory an unprivileged QEMU can walk (pytest's temporary directories are root's alone)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to start QEMU under another identity")
    if not shutil.which("qemu-system-x86_64") or not shutil.which("qemu-img"):
        pytest.skip("needs qemu-system-x86 and qemu-utils")
    path = Path(tempfile.mkdtemp(prefix="pyvirt-dac-", dir="/var/tmp"))
    path.chmod(0o755)
    yield path
    for pid_file in path.rglob("*.pid"):
        with contextlib.suppress(ProcessLookupError, ValueError, OSError):
            cmdline = Path(f"/proc/{int(pid_file.read_text())}/cmdline").read_bytes()
            if str(path).encode() in cmdline:
                os.kill(int(pid_file.read_text()), 9)
    shutil.rmtree(path, ignore_errors=True)


def guest(disk: Path, seclabel: str | None, name: str = "owned") -> str:
    label = (f"<seclabel type='static' model='dac' relabel='yes'><label>{seclabel}</label></seclabel>"
             if seclabel else "")  # fmt: skip
    return f"""<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{disk}'/><target dev='vda'/></disk>
<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
<serial type='pty'/></devices>{label}</domain>"""


def ids_of(pid: int) -> tuple[list[str], list[str]]:
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return status["Uid"].split(), status["Gid"].split()


def owner(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_uid, st.st_gid


def libvirt_xattrs(path: Path) -> dict[str, str]:
    return {n: os.getxattr(path, n).decode() for n in os.listxattr(path) if n.startswith(XATTR)}


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize(
    ("seclabel", "qemu_conf", "expected"),
    [
        pytest.param("+4242:+4242", None, (4242, 4242), id="static-label"),
        pytest.param(None, 'user = "+4343"\ngroup = "+4444"\n', (4343, 4444), id="qemu-conf-user"),
        pytest.param("+4242:+4242", 'user = "+4343"\ngroup = "+4444"\n', (4242, 4242), id="both"),
    ],
)
def test_guest_runs_and_owns_its_files_under_its_dac_label(
    base: Path, seclabel: str | None, qemu_conf: str | None, expected: tuple[int, int]
) -> None:
    root = base / "embed"
    (root / "etc").mkdir(parents=True)
    if qemu_conf:
        (root / "etc" / "qemu.conf").write_text(qemu_conf)
    disk = base / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "16M"], check=True)
    os.chown(disk, *DISK_OWNER)
    uid, gid = expected
    with pyvirt.open(f"qemu:///embed?root={root}") as conn:
        dom = conn.define_domain(guest(disk, seclabel))
        dom.create()  # failed with "Unable to read .../master-key.aes: Permission denied" for a static label
        assert dom.state()[0] == DomainState.RUNNING
        pid = int(next(root.rglob("owned.pid")).read_text())
        assert ids_of(pid) == ([str(uid)] * 4, [str(gid)] * 4)
        key = next(root.rglob("master-key.aes"))
        private = key.parent
        assert private.name == "domain-owned"
        assert owner(private) == expected and owner(key) == expected and key.stat().st_mode & 0o777 == 0o600
        agent = private / "org.qemu.guest_agent.0"
        assert agent.is_socket() and owner(agent)[0] == uid  # bound by QEMU itself in the private directory
        assert owner(disk) == expected
        assert libvirt_xattrs(disk) == {
            f"{XATTR}dac": f"+{DISK_OWNER[0]}:+{DISK_OWNER[1]}",
            f"{XATTR}ref_dac": "1",
            f"{XATTR}timestamp_dac": libvirt_xattrs(disk)[f"{XATTR}timestamp_dac"],
        }
        # QEMU, not this (starting) process, keeps the reference: it is stale only once QEMU is gone
        assert [(o.domain, o.pid) for o in owners_of(str(disk), "dac")] == [(dom.uuid, pid)]
        dom.destroy()
        assert dom.state()[0] == DomainState.SHUTOFF
        deadline = time.monotonic() + 10
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(pid)
        assert owner(disk) == DISK_OWNER and libvirt_xattrs(disk) == {}  # given back, nothing remembered
        assert not os.listxattr(disk)  # pyvirt's owner lines went with libvirt's attributes
        assert not private.exists()
        dom.undefine()


KILLED_START = textwrap.dedent(
    """
    import os, signal, sys
    sys.path[:0] = {path!r}
    import pyvirt
    from pyvirt.security.stack import SecurityStack

    label_everything = SecurityStack.set_all_label

    def labelled_then_stopped(self, *args, **kwargs):
        label_everything(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGSTOP)  # the test kills this start here, its labels set

    SecurityStack.set_all_label = labelled_then_stopped
    with pyvirt.open({uri!r}) as conn:
        conn.lookup_domain_by_name("owned").create()
    """
)


def test_a_start_killed_after_labelling_leaves_no_record_that_blocks_the_next(base: Path) -> None:
    """kill -9 of a start between labels and QEMU: its ref_dac must not refuse the disk to the next guest."""
    root = base / "embed"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "qemu.conf").write_text('user = "+4343"\ngroup = "+4444"\n')
    disk = base / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "16M"], check=True)
    os.chown(disk, *DISK_OWNER)
    uri = f"qemu:///embed?root={root}"
    with pyvirt.open(uri) as conn:
        conn.define_domain(guest(disk, None))
    start = subprocess.Popen([sys.executable, "-c", KILLED_START.format(path=sys.path, uri=uri)])
    try:
        deadline = time.monotonic() + 60
        while Path(f"/proc/{start.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "T":
            assert start.poll() is None and time.monotonic() < deadline, "the start ended before labelling"
            time.sleep(0.02)
        assert owner(disk) == (4343, 4444) and libvirt_xattrs(disk)[f"{XATTR}ref_dac"] == "1"
    finally:
        start.send_signal(signal.SIGKILL)
        start.wait(10)
    with pyvirt.open(uri) as conn:
        # another guest of the same disk, under its own label: "Setting different DAC user or group on ...
        # which is already in use" for as long as the dead start's reference counted
        other = conn.define_domain(guest(disk, "+4242:+4242", name="other"))
        other.create()
        assert other.state()[0] == DomainState.RUNNING
        assert owner(disk) == (4242, 4242) and libvirt_xattrs(disk)[f"{XATTR}ref_dac"] == "1"
        assert libvirt_xattrs(disk)[f"{XATTR}dac"] == f"+{DISK_OWNER[0]}:+{DISK_OWNER[1]}"
        other.destroy()
        assert owner(disk) == DISK_OWNER and not os.listxattr(disk)
        owned = conn.lookup_domain_by_name("owned")
        owned.create()  # and the guest whose start was killed starts too
        assert owned.state()[0] == DomainState.RUNNING and owner(disk) == (4343, 4444)
        owned.destroy()
        assert owner(disk) == DISK_OWNER and not os.listxattr(disk)


def test_a_start_that_fails_after_labelling_gives_everything_back(base: Path) -> None:
    """QEMU refuses the disk after it was lent: the failed start leaves neither owner nor record behind."""
    root = base / "embed"
    (root / "etc").mkdir(parents=True)
    disk = base / "disk.qcow2"
    disk.write_bytes(b"not a qcow2 image" * 100)
    os.chown(disk, *DISK_OWNER)
    with pyvirt.open(f"qemu:///embed?root={root}") as conn:
        dom = conn.define_domain(guest(disk, "+4242:+4242"))
        with pytest.raises(pyvirt.Error) as err:
            dom.create()
        assert "qcow2" in err.value.message  # QEMU's own words about the image
        assert dom.state()[0] == DomainState.SHUTOFF
    assert owner(disk) == DISK_OWNER and not os.listxattr(disk)
    assert not list(root.rglob("master-key.aes"))
