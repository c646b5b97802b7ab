"""The QEMU driver's domain events from real QEMU, printed alike by virsh on libvirtd 9.0 and on pyvirtd.

One firmware-only guest with an IDE CD-ROM and a VNC display, the same on
both daemons, and the same user actions, each raising what libvirt raises:
``change-media`` (QEMU's DEVICE_TRAY_MOVED: tray-change), ``desc --live``
(metadata-change), ``attach-device --live`` (device-added) and a VNC client
that connects, completes the RFB handshake and leaves (QEMU's
VNC_CONNECTED/INITIALIZED/DISCONNECTED: graphics). ``event --all`` listens on
each: Debian's virsh and pyvirsh, on libvirtd and on pyvirtd.
Only port numbers differ between runs (they are masked).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from lxml import etree

from pyvirt.daemon.instance import PrivateDaemon

pytestmark = pytest.mark.skipif(not shutil.which("virsh"), reason="Debian's virsh (libvirt-clients) is the reference")

REPO = Path(__file__).resolve().parents[3]
PYVIRSH = str(Path(sys.executable).with_name("pyvirsh"))
ENV = dict(os.environ, LC_ALL="C")


def _private_libvirtd() -> ModuleType | None:
    harness = REPO / "bench" / "private_libvirtd.py"
    if not harness.exists():  # an unpacked sdist of pyvirt-qemu has no bench/ beside it
        return None
    spec = importlib.util.spec_from_file_location("private_libvirtd", harness)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def virsh(uri: str, line: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["virsh", "-c", uri, line], capture_output=True, text=True, timeout=60, env=ENV, check=False)


def listen(tool: str, uri: str) -> subprocess.Popen[str]:
    return subprocess.Popen([tool, "-c", uri, "event", "evguest", "--all", "--loop", "--timeout", "12"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)  # fmt: skip


def vnc_client(uri: str) -> None:
    """Connect to the guest's display, do RFB 3.8 with no security up to ServerInit, and leave."""
    xml = etree.fromstring(virsh(uri, "dumpxml evguest").stdout.encode())
    port = int(xml.xpath("string(devices/graphics/@port)"))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.recv(12)  # "RFB 003.008\n"
        sock.sendall(b"RFB 003.008\n")
        count = sock.recv(1)[0]
        sock.recv(count)
        sock.sendall(b"\x01")  # security type None
        sock.recv(4)  # SecurityResult OK
        sock.sendall(b"\x01")  # ClientInit, shared
        sock.recv(24)  # ServerInit's fixed part: the session is initialised
        time.sleep(0.5)


def run_story(uri: str, tools: list[str], tmp: Path, virt_type: str) -> list[tuple[str, int]]:
    """Define and start the guest on ``uri``, act while each tool listens, stop it; return what each printed."""
    iso1, iso2, disk = tmp / "one.iso", tmp / "two.iso", tmp / "hot.qcow2"
    for iso in (iso1, iso2):
        iso.write_bytes(b"\0" * 2048 * 16)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "8M"], check=True)
    (tmp / "guest.xml").write_text(f"""<domain type='{virt_type}'><name>evguest</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices>
<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='{iso1}'/><target dev='hdc' bus='ide'/>
<readonly/></disk><graphics type='vnc' autoport='yes' listen='127.0.0.1'/></devices></domain>""")
    (tmp / "hot.xml").write_text(f"""<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
<source file='{disk}'/><target dev='vdb' bus='virtio'/></disk>""")
    created = virsh(uri, f"create {tmp / 'guest.xml'}")
    assert created.returncode == 0, created.stderr
    try:
        listeners = [listen(tool, uri) for tool in tools]
        time.sleep(3)  # each listener connected and registered
        for line in (
            "change-media evguest hdc --eject",
            f"change-media evguest hdc {iso2} --insert",
            "desc evguest --live 'a guest with events'",
            f"attach-device evguest {tmp / 'hot.xml'} --live",
        ):
            done = virsh(uri, line)
            assert done.returncode == 0, (line, done.stderr)
            time.sleep(0.5)  # QEMU's events of one action before the next action's
        vnc_client(uri)
        outputs = [(p.communicate(timeout=60)[0], p.returncode) for p in listeners]
    finally:
        virsh(uri, "destroy evguest")
    return [(re.sub(r"(127\.0\.0\.1) \d+", r"\1 PORT", out), status) for out, status in outputs]


@pytest.fixture
def pyvirtd(qemu_root: Path) -> Iterator[PrivateDaemon]:
    with PrivateDaemon(qemu_root) as d:
        yield d


def test_qemu_kinds_through_pyvirtd_match_libvirtd(
    pyvirtd: PrivateDaemon, virt_type: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    (tmp_path / "p").mkdir()
    virsh_out, pyvirsh_out = run_story(pyvirtd.uri("qemu:///system"), ["virsh", PYVIRSH], tmp_path / "p", virt_type)
    lines = virsh_out[0].splitlines()
    assert "event 'tray-change' for domain 'evguest' disk ide0-1-0: opened" in lines, virsh_out
    assert "event 'metadata-change' for domain 'evguest': type description, uri <null>" in lines
    assert "event 'device-added' for domain 'evguest': virtio-disk1" in lines
    assert [line.split(":")[1].split()[0] for line in lines if line.startswith("event 'graphics'")] == [
        "connect", "initialize", "disconnect"]  # fmt: skip
    assert pyvirsh_out == virsh_out  # pyvirt's client decodes and prints what virsh does
    assert pyvirtd.tracebacks() == []
    plv = _private_libvirtd()
    if plv is None or not os.path.exists(plv.LIBVIRTD):
        pytest.skip("needs the repository's bench/private_libvirtd.py and Debian's libvirtd 9.0 to compare with")
    work = tmp_path_factory.mktemp("libvirtd")
    proc, uri = plv.start_libvirtd(work, "qemu")
    try:
        (tmp_path / "l").mkdir()
        theirs, pyvirsh_on_libvirtd = run_story(uri, ["virsh", PYVIRSH], tmp_path / "l", virt_type)
    finally:
        plv.stop_libvirtd(proc)
    assert virsh_out == theirs
    assert pyvirsh_on_libvirtd == theirs  # pyvirt's remote client decodes libvirtd's messages alike
