"""The domain reboot event through pyvirtd, seen by Debian's ``virsh event --event reboot``.

libvirt reports every QEMU ``RESET`` as VIR_DOMAIN_EVENT_ID_REBOOT
(qemuProcessHandleReset): a reset by the guest itself is one. A
firmware-only guest with no boot device and ``<bios rebootTimeout='0'/>``
makes SeaBIOS reset the machine as soon as it finds nothing to boot, so
real QEMU raises RESET with no guest OS and no test hook in the product.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyvirt.daemon.instance import PrivateDaemon

pytestmark = pytest.mark.skipif(not shutil.which("virsh"), reason="Debian's virsh (libvirt-clients) is not installed")


@pytest.fixture
def daemon(qemu_root: Path) -> Iterator[PrivateDaemon]:
    with PrivateDaemon(qemu_root) as d:
        yield d


def virsh(uri: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["virsh", "-c", uri, *args], capture_output=True, text=True, timeout=timeout, check=False)


def test_a_guest_reset_reaches_virsh_as_a_reboot_event(daemon: PrivateDaemon, virt_type: str, tmp_path: Path) -> None:
    uri = daemon.uri("qemu:///system")
    xml = tmp_path / "looper.xml"
    xml.write_text(f"""<domain type='{virt_type}'><name>looper</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type><bios rebootTimeout='0'/></os><devices/></domain>""")
    assert virsh(uri, "define", str(xml)).returncode == 0
    quiet = virsh(uri, "event", "looper", "--event", "reboot", "--timeout", "3")
    assert quiet.stdout.splitlines()[:2] == ["event loop timed out", "events received: 0"], "no reset while shut off"
    started = virsh(uri, "start", "looper")
    assert started.returncode == 0, started.stderr
    try:
        # SeaBIOS resets the guest over and over: a one-shot wait sees the next one
        seen = virsh(uri, "event", "looper", "--event", "reboot", "--timeout", "30")
        assert seen.returncode == 0, seen.stderr
        assert seen.stdout.splitlines()[:2] == ["event 'reboot' for domain 'looper'", "events received: 1"]
        # pyvirsh, through pyvirt's remote client, prints the same line; --all includes reboot
        pyvirsh = str(Path(sys.executable).with_name("pyvirsh"))
        ours = subprocess.run([pyvirsh, "-c", uri, "event", "looper", "--all", "--timeout", "30"],
                              capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
        assert ours.stdout.splitlines()[:2] == ["event 'reboot' for domain 'looper'", "events received: 1"], ours.stderr
        # a callback for another event id of the same domain does not get them
        other = virsh(uri, "event", "looper", "--event", "device-removed", "--timeout", "2")
        assert other.stdout.splitlines()[:2] == ["event loop timed out", "events received: 0"]
    finally:
        virsh(uri, "destroy", "looper")
