"""vhost-user devices on a real QEMU: the backend is another process the guest's RAM is shared with.

A vhost-user-blk disk served by ``qemu-storage-daemon`` and a virtiofs share served by a virtiofsd the
user started (``<source socket>``) both reach a running guest; the argv pieces themselves are checked
against libvirt's corpus in ``test_argv_corpus_pieces.py``. Each test stops the daemons it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt import DomainState

QSD = "/usr/bin/qemu-storage-daemon"


def _virtiofsd() -> str | None:
    """The virtiofsd QEMU's packages describe (``/usr/share/qemu/vhost-user``, type ``fs``), as libvirt finds it."""
    for descriptor in sorted(Path("/usr/share/qemu/vhost-user").glob("*.json")):
        with contextlib.suppress(OSError, ValueError):
            desc = json.loads(descriptor.read_text())
            if desc.get("type") == "fs" and os.access(desc.get("binary", ""), os.X_OK):
                return str(desc["binary"])
    return None


GUEST = """<domain type='{virt}'><name>{name}</name><memory unit='MiB'>128</memory>
  <memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>{devices}<memballoon model='none'/></devices></domain>"""


@contextmanager
def _daemon(argv: list[str], socket: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A backend process, up once its socket exists; stopped (and reaped) afterwards."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while not socket.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                pytest.fail(f"{argv[0]} did not listen on {socket}: {err}")
            time.sleep(0.05)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


def _peripherals(monitor: Any) -> set[str]:
    return {p["name"] for p in monitor.execute("qom-list", {"path": "/machine/peripheral"})}


def test_a_vhost_user_blk_disk_reaches_the_guest(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    if not os.access(QSD, os.X_OK):
        pytest.skip("qemu-storage-daemon (Debian's qemu-system-common) is not installed")
    image, sock = tmp_path / "disk.raw", tmp_path / "vu.sock"
    image.write_bytes(b"\0" * (4 << 20))
    qsd = [QSD, "--blockdev", f"driver=file,node-name=file0,filename={image}",
           "--export", f"type=vhost-user-blk,id=exp0,node-name=file0,addr.type=unix,addr.path={sock},writable=on"]  # fmt: skip
    disk = (f"<disk type='vhostuser' device='disk'><driver name='qemu' type='raw'/><source type='unix' path='{sock}'/>"
            "<target dev='vda' bus='virtio'/></disk>")  # fmt: skip
    with _daemon(qsd, sock):
        dom = conn.define_domain(GUEST.format(virt=virt_type, name="vublk", devices=disk))
        dom.create()
        try:
            assert dom.state()[0] == DomainState.RUNNING
            monitor = guest_monitor(dom)
            assert "virtio-disk0" in _peripherals(monitor)
            # (vhost-user-blk connects while QEMU sets the device up: a guest running is one whose daemon answered)
            chardev = monitor.execute("qom-get", {"path": "/machine/peripheral/virtio-disk0", "property": "chardev"})
            assert chardev == "chr-vu-virtio-disk0"
            live = dom.xml_desc()
            assert f"<source type='unix' path='{sock}'" in live and "snapshot='no'" in live
        finally:
            dom.destroy()
            dom.undefine()


def test_a_virtiofs_share_from_a_daemon_started_by_the_user(
    conn: pyvirt.Connection, virt_type: str, tmp_path: Path, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    virtiofsd = _virtiofsd()
    if virtiofsd is None:
        pytest.skip("no virtiofsd described in /usr/share/qemu/vhost-user (Debian's qemu-system-common)")
    shared, sock = tmp_path / "shared", tmp_path / "fs.sock"
    shared.mkdir()
    fs = (f"<filesystem type='mount'><driver type='virtiofs' queue='1024'/><source socket='{sock}'/>"
          "<target dir='share'/></filesystem>")  # fmt: skip
    with _daemon([virtiofsd, f"--socket-path={sock}", "-o", f"source={shared}"], sock):
        dom = conn.define_domain(GUEST.format(virt=virt_type, name="vufs", devices=fs))
        dom.create()
        try:
            assert dom.state()[0] == DomainState.RUNNING
            monitor = guest_monitor(dom)
            assert "fs0" in _peripherals(monitor)
            tag = monitor.execute("qom-get", {"path": "/machine/peripheral/fs0", "property": "tag"})
            assert tag == "share"
        finally:
            dom.destroy()
            dom.undefine()
    # a share whose daemon the driver would have to start is refused with the reason, before QEMU runs
    managed = GUEST.format(virt=virt_type, name="vufs2", devices=fs.replace(f"socket='{sock}'", f"dir='{shared}'"))
    dom = conn.define_domain(managed)
    with pytest.raises(pyvirt.Error) as exc:
        dom.create()
    assert exc.value.code == pyvirt.ErrorCode.CONFIG_UNSUPPORTED and "virtiofsd" in str(exc.value)
    dom.undefine()
