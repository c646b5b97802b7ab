"""dom-fd-associate (virDomainFDAssociate, libvirt 9.0's qemuDomainFDAssociate): descriptors kept under a name.

The driver keeps duplicates of the caller's descriptors per domain and name
(a second association of the name replaces the first) until the connection
that made it closes. Debian's virsh is compared against libvirtd 9.0's QEMU
driver and against pyvirtd, and pyvirsh in-process; the descriptors come from
the shell (``3<file``), as a user passes them.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

import pyvirt
from pyvirt.cli.main import main as pyvirsh_main
from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.flags import DomainFDAssociateFlags


def guest(virt_type: str) -> str:
    return f"""<domain type='{virt_type}'><name>fdq</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type></os><devices><memballoon model='none'/></devices></domain>"""


# virsh's own checks (the list, then the domain first), the API's flags, the association and its replacement
_LINE = ("define {xml}; dom-fd-associate fdq grp 3; dom-fd-associate fdq grp 3,4 --seclabel-writable "
         "--seclabel-restore; dom-fd-associate nosuch grp 3; dom-fd-associate fdq grp x; "
         "dom-fd-associate fdq grp 3,,4; dom-fd-associate fdq grp ' 3'; undefine fdq")  # fmt: skip


def _virsh(uri: str, line: str, image: Path) -> tuple[str, str, int]:
    done = subprocess.run(["sh", "-c", f"virsh -c \"$0\" \"$1\" 3<'{image}' 4<'{image}'", uri, line],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ, LC_ALL="C"),
                          check=False)  # fmt: skip
    return done.stdout, done.stderr, done.returncode


def _pyvirsh(root: Path, line: str, image: Path) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    a, b = os.open(image, os.O_RDONLY), os.open(image, os.O_RDONLY)
    try:
        mine = line.replace(" 3,4 ", f" {a},{b} ").replace(" grp 3;", f" grp {a};").replace(" 3,,4", f" {a},,{b}")
        mine = mine.replace("' 3'", f"' {a}'")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = pyvirsh_main(["-c", f"qemu:///embed?root={root}", mine])
    finally:
        os.close(a)
        os.close(b)
    return out.getvalue(), err.getvalue(), rc


def _holders(image: Path, pid: int | str = "self") -> int:
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/{pid}/fd/{fd}") == str(image)
    return count


def test_virsh_and_pyvirsh_answer_as_libvirtd(
    qemu_root: Path, tmp_path: Path, virt_type: str, shared_libvirtd: str
) -> None:
    image = tmp_path / "image.raw"
    image.write_bytes(b"\0" * 4096)
    xml = tmp_path / "guest.xml"
    xml.write_text(guest(virt_type))
    line = _LINE.format(xml=xml)
    theirs = _virsh(shared_libvirtd, line, image)
    assert "Unable to parse FD number 'x'" in theirs[1] and "Domain 'fdq' has been undefined" in theirs[0], theirs
    with PrivateDaemon(tmp_path / "pyvirtd") as daemon:
        wire = _virsh(daemon.uri("qemu:///system"), line, image)
        assert not daemon.tracebacks()
        assert daemon.proc is not None
        pid = daemon.proc.pid

        def settled(expected: int) -> int:  # a client's groups go once pyvirtd sees its connection close
            deadline = time.monotonic() + 10
            while _holders(image, pid) != expected and time.monotonic() < deadline:
                time.sleep(0.02)
            return _holders(image, pid)

        assert settled(0) == 0  # virsh's
        fd = os.open(image, os.O_RDONLY)
        try:
            with pyvirt.open(daemon.uri("qemu:///system")) as conn:  # pyvirt's client: CALL_WITH_FDS too
                conn.define_domain(guest(virt_type)).fd_associate("grp", [fd, fd])
                assert _holders(image, pid) == 2
                with pyvirt.open(daemon.uri("qemu:///system")) as other:  # another client's close keeps them
                    other.lookup_domain_by_name("fdq").fd_associate("other", [fd])
                    assert _holders(image, pid) == 3
                assert settled(2) == 2  # only the other client's group went
                conn.lookup_domain_by_name("fdq").undefine()
            assert settled(0) == 0
        finally:
            os.close(fd)

    def norm(result: tuple[str, str, int]) -> list[str]:
        return [re.sub(r"'\d+'|\d+,,\d+", "FD", str(part)) for part in result]

    assert norm(wire) == norm(theirs)
    assert norm(_pyvirsh(qemu_root, line, image)) == norm(theirs)


def test_the_driver_keeps_duplicates_until_the_connection_closes(qemu_root: Path, tmp_path: Path) -> None:
    image = tmp_path / "image.raw"
    image.write_bytes(b"\0" * 4096)
    fd = os.open(image, os.O_RDONLY)
    try:
        with pyvirt.open(f"qemu:///embed?root={qemu_root}") as conn:
            dom = conn.define_domain(guest("qemu"))
            dom.fd_associate("grp", [fd, fd], DomainFDAssociateFlags.WRITABLE)
            assert _holders(image) == 3  # the caller's and the driver's two
            dom.fd_associate("grp", [fd])  # replaces the group: its two go
            assert _holders(image) == 2
            with pytest.raises(pyvirt.InvalidArgumentError, match="nfds in virDomainFDAssociate must not be zero"):
                dom.fd_associate("grp", [])
            with pytest.raises(pyvirt.InvalidArgumentError, match="unsupported flags"):
                dom.fd_associate("grp", [fd], 4)
        assert _holders(image) == 1
    finally:
        os.close(fd)


def disk_guest(virt_type: str, image: Path) -> str:
    """A firmware-only guest whose one disk QEMU opens through the descriptors of group ``grp``."""
    return f"""<domain type='{virt_type}'><name>fdd</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='raw'/>
<source file='{image}' fdgroup='grp'/><target dev='vdb' bus='virtio'/></disk>
<memballoon model='none'/></devices></domain>"""


# refused before the association, started after it (one virsh session: the group lives as long as it)
_START = "define {xml}; start fdd; dom-fd-associate fdd grp 3; start fdd; domblklist fdd; destroy fdd; undefine fdd"


def test_a_disk_opened_through_associated_descriptors(
    tmp_path: Path, virt_type: str, shared_libvirtd: str, qemu_root: Path
) -> None:
    """libvirt 9.0's qemuDomainPrepareStorageSourceFDs: ``-add-fd`` per descriptor, the disk's file node on
    ``/dev/fdset/N`` (read-write at once), and no group of that name is libvirt's INVALID_ARG."""
    image = tmp_path / "disk.raw"
    image.write_bytes(b"\0" * (1 << 20))
    xml = tmp_path / "fdd.xml"
    xml.write_text(disk_guest(virt_type, image))
    line = _START.format(xml=xml)

    def rdwr_virsh(uri: str) -> tuple[str, str, int]:
        done = subprocess.run(["sh", "-c", f"virsh -c \"$0\" \"$1\" 3<>'{image}'", uri, line], capture_output=True,
                              text=True, timeout=120, env=dict(os.environ, LC_ALL="C"), check=False)  # fmt: skip
        return done.stdout, done.stderr, done.returncode

    theirs = rdwr_virsh(shared_libvirtd)
    assert "file descriptor group 'grp' was not associated with the domain" in theirs[1], theirs
    assert "Domain 'fdd' started" in theirs[0], theirs
    with PrivateDaemon(tmp_path / "pyvirtd") as daemon:
        assert rdwr_virsh(daemon.uri("qemu:///system")) == theirs
        assert not daemon.tracebacks()
    fd = os.open(image, os.O_RDWR)
    try:  # what QEMU got: its command line and its own descriptor of the image
        with pyvirt.open(f"qemu:///embed?root={qemu_root}") as conn:
            dom = conn.define_domain(disk_guest(virt_type, image))
            dom.fd_associate("grp", [fd])
            dom.create()
            try:
                pid = int(next((qemu_root / "run").rglob("fdd.pid")).read_text())
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                add_fd = argv[argv.index(b"-add-fd") + 1].decode()
                assert re.fullmatch(r"set=(\d+),fd=\d+,opaque=libvirt-1-storage0", add_fd), add_fd
                fdset = add_fd.split(",")[0].removeprefix("set=")
                storage = (f'{{"driver":"file","filename":"/dev/fdset/{fdset}","node-name":"libvirt-1-storage",'
                           '"read-only":false,"discard":"unmap"}').encode()  # fmt: skip
                assert storage in argv, argv
                assert _holders(image, pid) >= 1
                # a disk on the group this guest cannot take (no ACPI: its PCI bus has no hot-plug): the descriptor
                # QEMU got for it (add-fd) goes with the rollback (test_hotplug_filters_fdsets: plugged for real)
                second = disk_guest(virt_type, image).split("<devices>")[1].split("<memballoon")[0]
                held = _holders(image, pid)
                with pytest.raises(pyvirt.Error, match="does not support hotplugging"):
                    dom.attach_device(second.replace("vdb", "vdc"))
                assert "vdc" not in dom.xml_desc() and _holders(image, pid) == held
            finally:
                dom.destroy()
    finally:
        os.close(fd)
