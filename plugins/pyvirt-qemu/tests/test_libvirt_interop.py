"""Files pyvirt shares with Debian's libvirt 9.0, used by each in turn on the same host.

libvirt's side is a private libvirtd (bench/private_libvirtd.py: its own sockets, state
directories and mount namespace, guests as root without a security driver, as pyvirt's
embedded root runs them) driven with Debian's virsh; the same firmware-only guest is
defined on both sides.

- Save images: what one writes (``save``, ``managedsave``, of a running and of a paused
  guest) the other restores, which only works when the header is libvirt's 92 bytes, the
  XML is where libvirt puts it, and QEMU accepts the migration stream behind it.
- Remembered labels: the ``trusted.libvirt.security.*`` attributes one writes on a disk,
  the other counts on and gives back, with the same boot time (from utmp, as libvirt reads
  it, or from /proc/uptime where the host keeps no utmp).
- Snapshot metadata: the ``<domainsnapshot>`` documents (``<active>`` marking the current
  one) each keeps per domain, read by the other's snapshot list, current snapshot and revert.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import pyvirt
from pyvirt import DomainState
from pyvirt.conf.domain import Domain, parse_domain
from pyvirt.errors import OperationInvalidError
from pyvirt.security import remembered
from pyvirt.security.dac import DacDriver
from pyvirt.security.stack import SecurityConfig, SecurityStack

NAME = "interop"
UUID = "0d5b7a52-3c1e-4e9f-8a61-2f4be0c1a9d3"
REPO = Path(__file__).resolve().parents[3]


def _private_libvirtd() -> ModuleType:
    harness = REPO / "bench" / "private_libvirtd.py"
    if not harness.exists():  # an unpacked sdist of pyvirt-qemu has no bench/ beside it
        pytest.skip("needs the repository's bench/private_libvirtd.py (a private libvirtd 9.0 to compare with)")
    spec = importlib.util.spec_from_file_location("private_libvirtd", harness)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


plv = _private_libvirtd()


def guest(virt_type: str, disk: Path | None = None) -> str:
    drive = (f"<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{disk}'/>"
             "<target dev='vda' bus='virtio'/></disk>" if disk else "")  # fmt: skip
    return f"""<domain type='{virt_type}'><name>{NAME}</name><uuid>{UUID}</uuid>
<memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>
<devices>{drive}<serial type='pty'/></devices></domain>"""


class Libvirt:
    """Debian's virsh against the private daemon."""

    def __init__(self, uri: str, work: Path) -> None:
        self.uri = uri
        self.work = work

    def virsh(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(["virsh", "-q", "-c", self.uri, *args],
                             capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        if check and out.returncode != 0:
            raise AssertionError(f"virsh {' '.join(args)} failed: {out.stderr.strip()}")
        return out

    def domstate(self) -> str:
        return self.virsh("domstate", "--reason", NAME).stdout.strip()

    def managed_save_path(self) -> Path:
        return Path(plv.libvirt_state(self.work, f"/var/lib/libvirt/qemu/save/{NAME}.save"))

    def clean(self) -> None:
        self.virsh("destroy", NAME, check=False)
        self.virsh("managedsave-remove", NAME, check=False)
        self.virsh("undefine", NAME, check=False)


def _need_libvirt() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to run a private libvirtd")
    missing = [p for p in (plv.LIBVIRTD, "/usr/bin/virsh", "/usr/bin/qemu-system-x86_64") if not os.path.exists(p)]
    if missing:
        pytest.skip(f"needs Debian's libvirt-daemon-driver-qemu and libvirt-clients: {missing} missing")


@pytest.fixture(scope="module")
def libvirt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Libvirt]:
    _need_libvirt()
    work = tmp_path_factory.mktemp("libvirtd")
    proc, uri = plv.start_libvirtd(work, "qemu")
    try:
        yield Libvirt(uri, work)
    finally:
        plv.stop_libvirtd(proc)


@pytest.fixture
def lv(libvirt: Libvirt) -> Iterator[Libvirt]:
    libvirt.clean()
    yield libvirt
    libvirt.clean()


def pyvirt_state(dom: pyvirt.Domain) -> tuple[int, int]:
    state, reason = dom.state()
    return int(state), int(reason)


@pytest.mark.parametrize("running", [True, False], ids=["running", "paused"])
def test_libvirt_restores_a_pyvirt_save_image(
    conn: pyvirt.Connection, lv: Libvirt, virt_type: str, tmp_path: Path, running: bool
) -> None:
    dom = conn.create_domain(guest(virt_type))
    if not running:
        dom.suspend()
    image = tmp_path / "pyvirt.save"
    dom.save(str(image))
    # Debian's virsh said "(domain_definition):1: Document is empty" when the XML sat 4 bytes late
    lv.virsh("restore", str(image))
    assert lv.domstate() == ("running (restored)" if running else "paused (migrating)")  # as for its own images
    lv.virsh("destroy", NAME)


@pytest.mark.parametrize("running", [True, False], ids=["running", "paused"])
def test_pyvirt_restores_a_libvirt_save_image(
    conn: pyvirt.Connection, lv: Libvirt, virt_type: str, tmp_path: Path, running: bool
) -> None:
    xml = tmp_path / "guest.xml"
    xml.write_text(guest(virt_type))
    lv.virsh("create", str(xml))
    if not running:
        lv.virsh("suspend", NAME)
    image = tmp_path / "libvirt.save"
    lv.virsh("save", NAME, str(image))
    # pyvirsh said "Start tag expected, '<' not found" reading 4 bytes into libvirt's XML
    dom = conn.restore_domain(str(image))
    assert dom.name == NAME and dom.uuid == UUID
    # what libvirt reports restoring its own image: running (restored), paused (migrating)
    assert pyvirt_state(dom) == ((DomainState.RUNNING, 3) if running else (DomainState.PAUSED, 2))
    dom.destroy()


@pytest.mark.parametrize("running", [True, False], ids=["running", "paused"])
def test_managed_save_images_are_used_by_the_other_sides_start(
    conn: pyvirt.Connection, qemu_root: Path, lv: Libvirt, virt_type: str, tmp_path: Path, running: bool
) -> None:
    xml = tmp_path / "guest.xml"
    xml.write_text(guest(virt_type))
    lv.virsh("define", str(xml))
    dom = conn.define_domain(guest(virt_type))
    expected = "running (restored)" if running else "paused (migrating)"
    # pyvirt's managed save, started by libvirt
    dom.create()
    if not running:
        dom.suspend()
    dom.managed_save()
    ours = next(qemu_root.rglob(f"{NAME}.save"))
    shutil.move(ours, lv.managed_save_path())
    assert not dom.has_managed_save()
    lv.virsh("start", NAME)
    assert lv.domstate() == expected
    assert not lv.managed_save_path().exists()  # libvirt consumed it, as it does its own
    # libvirt's managed save, started by pyvirt
    lv.virsh("managedsave", NAME)
    assert lv.managed_save_path().exists() and lv.domstate() == "shut off (saved)"
    shutil.move(lv.managed_save_path(), ours)
    assert dom.has_managed_save()
    dom.create()
    assert pyvirt_state(dom) == ((DomainState.RUNNING, 3) if running else (DomainState.PAUSED, 2))
    assert not dom.has_managed_save()
    time.sleep(0.2)  # the guest stays as restored
    assert dom.state()[0] == (DomainState.RUNNING if running else DomainState.PAUSED)
    dom.destroy()
    dom.undefine()


# ---------------------------------------------------------------------------- remembered labels
XATTR = "trusted.libvirt.security."
DISK_OWNER = (1234, 1235)
OTHER_UUID = "0d5b7a52-3c1e-4e9f-8a61-2f4be0c1a9d4"


def xattrs(path: Path) -> dict[str, str]:
    return {n.removeprefix(XATTR): os.getxattr(path, n).decode() for n in os.listxattr(path) if n.startswith(XATTR)}


def owner(path: Path) -> tuple[int, int]:
    return path.stat().st_uid, path.stat().st_gid


def labelled(uid: int, disk: Path, virt_type: str, uuid: str = UUID) -> tuple[SecurityStack, Domain]:
    """pyvirt's security stack labelling a guest of ``disk`` for a QEMU running as ``uid``."""
    st = SecurityStack([("dac", DacDriver(uid, uid))], SecurityConfig(default_confined=False))
    dom = parse_domain(guest(virt_type, disk).replace(UUID, uuid))
    st.gen_label(dom)
    st.set_all_label(dom)
    return st, dom


@pytest.fixture
def disk(tmp_path: Path) -> Path:
    path = tmp_path / "disk.img"
    path.write_bytes(b"\0" * (1 << 20))
    os.chown(path, *DISK_OWNER)
    return path


def test_pyvirt_counts_on_and_gives_back_what_libvirt_remembered(
    lv: Libvirt, disk: Path, tmp_path: Path, virt_type: str
) -> None:
    xml = tmp_path / "guest.xml"
    xml.write_text(guest(virt_type, disk))
    lv.virsh("create", str(xml))  # libvirt's DAC driver lends the disk to its root QEMU, remembering the owner
    assert owner(disk) == (0, 0)
    record = xattrs(disk)
    assert set(record) == {"dac", "ref_dac", "timestamp_dac"}
    assert record["dac"] == "+1234:+1235" and record["ref_dac"] == "1"  # the formats pyvirt writes
    # no utmp on this host: both take the boot time from /proc/uptime, to the second (libvirt's own
    # daemons differ by one second at times; pyvirt accepts that, a stamp of another boot it does not)
    assert abs(int(record["timestamp_dac"]) - remembered.host_boot_time()) <= 1
    with pytest.raises(OperationInvalidError) as err:
        labelled(4242, disk, virt_type, OTHER_UUID)  # libvirt's reference counts: another owner is refused
    assert "Setting different DAC user or group on" in err.value.message and xattrs(disk) == record
    st, dom = labelled(0, disk, virt_type, OTHER_UUID)  # the same owner: one more user
    assert xattrs(disk)["ref_dac"] == "2"
    st.restore_all_label(dom)
    assert xattrs(disk)["ref_dac"] == "1" and owner(disk) == (0, 0)  # libvirt's guest still has it
    lv.virsh("destroy", NAME)
    assert owner(disk) == DISK_OWNER and os.listxattr(disk) == []  # libvirt gave it back, nothing left


def write_utmp(path: Path, boot: int) -> None:
    """A utmp with glibc's record layout (384 bytes) and one BOOT_TIME record, as systemd writes it."""
    record = bytearray(384)
    struct.pack_into("=hxxi", record, 0, 2, 0)  # ut_type BOOT_TIME, ut_pid
    record[8:10] = b"~\0"  # ut_line
    record[40:42] = b"~~"  # ut_id
    record[44:50] = b"reboot"  # ut_user
    struct.pack_into("=ii", record, 340, boot, 0)  # ut_tv
    path.write_bytes(bytes(384) + bytes(record))  # an empty slot first: the search must skip it


def uefi_guest(virt_type: str, nvram: Path) -> str:
    """A UEFI guest: its NVRAM file is labelled and remembered by both, and (unlike a disk image, whose
    metadata libvirt 9.0 wipes whenever a guest of it stops: qemuBlockRemoveImageMetadata) refcounted."""
    return (
        guest(virt_type)
        .replace(
            "<type arch='x86_64' machine='pc'>hvm</type>",
            "<type arch='x86_64' machine='pc'>hvm</type><loader readonly='yes' type='pflash'>"
            f"/usr/share/OVMF/OVMF_CODE_4M.fd</loader><nvram>{nvram}</nvram>",
        )
        .replace("</os>", "</os><features><acpi/></features>")
    )


def test_libvirt_counts_on_and_gives_back_what_pyvirt_remembered(
    tmp_path: Path, virt_type: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With utmp (as on most hosts) the boot time is exact: libvirt trusts pyvirt's stamp, or purges the record."""
    _need_libvirt()
    if not os.path.exists("/usr/share/OVMF/OVMF_VARS_4M.fd"):
        pytest.skip("needs Debian's ovmf")
    nvram = tmp_path / "VARS.fd"
    shutil.copyfile("/usr/share/OVMF/OVMF_VARS_4M.fd", nvram)
    os.chown(nvram, *DISK_OWNER)
    boot = remembered.host_boot_time() - 12345  # not the uptime-derived one: utmp must win on both sides
    utmp = tmp_path / "utmp"
    write_utmp(utmp, boot)
    monkeypatch.setattr(remembered, "_UTMP", str(utmp))
    remembered._boot_stamp.cache_clear()
    work = tmp_path / "libvirtd"
    work.mkdir()
    proc, uri = plv.start_libvirtd(work, "qemu", utmp=utmp)
    lv = Libvirt(uri, work)
    try:
        # pyvirt's guest of the NVRAM file, as root like libvirt's
        st = SecurityStack([("dac", DacDriver(0, 0))], SecurityConfig(default_confined=False))
        dom = parse_domain(uefi_guest(virt_type, nvram).replace(UUID, OTHER_UUID))
        st.gen_label(dom)
        st.set_all_label(dom)
        assert xattrs(nvram) == {"dac": "+1234:+1235", "ref_dac": "1", "timestamp_dac": str(boot)}
        xml = tmp_path / "guest.xml"
        xml.write_text(uefi_guest(virt_type, nvram))
        lv.virsh("create", str(xml))
        # libvirt validated pyvirt's stamp against its own boot time and counted on (a stale record it purges)
        assert xattrs(nvram) == {"dac": "+1234:+1235", "ref_dac": "2", "timestamp_dac": str(boot)}
        lv.virsh("destroy", NAME)
        assert (xattrs(nvram), owner(nvram)) == ({"dac": "+1234:+1235", "ref_dac": "1", "timestamp_dac": str(boot)},
                                                 (0, 0))  # fmt: skip  # pyvirt's guest still has it
        st.restore_all_label(dom)
        assert owner(nvram) == DISK_OWNER and os.listxattr(nvram) == []
    finally:
        lv.clean()
        plv.stop_libvirtd(proc)
        remembered._boot_stamp.cache_clear()


# ---------------------------------------------------------------------------- snapshot metadata
def test_snapshot_metadata_is_read_by_the_other_side(qemu_root: Path, tmp_path: Path, virt_type: str) -> None:
    _need_libvirt()
    disk = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "16M"], check=True)
    xml = tmp_path / "guest.xml"
    xml.write_text(guest(virt_type).replace("<devices>", "<devices><disk type='file' device='disk'><driver "
                   f"name='qemu' type='qcow2'/><source file='{disk}'/><target dev='vda' bus='virtio'/></disk>"))  # fmt: skip
    with pyvirt.open(f"qemu:///embed?root={qemu_root}") as conn:
        conn.define_domain(xml.read_text()).snapshot_create("<domainsnapshot><name>py1</name></domainsnapshot>")
    ours = next(qemu_root.rglob("py1.xml")).parent  # pyvirt's snapshot directory of the domain
    work = tmp_path / "libvirtd"
    work.mkdir()
    proc, uri = plv.start_libvirtd(work, "qemu")
    lv = Libvirt(uri, work)
    try:
        lv.virsh("define", str(xml))
    finally:
        plv.stop_libvirtd(proc)
    theirs = Path(plv.libvirt_state(work, f"/var/lib/libvirt/qemu/snapshot/{NAME}"))
    theirs.mkdir(parents=True, exist_ok=True)
    shutil.copy(ours / "py1.xml", theirs)
    proc, uri = plv.start_libvirtd(work, "qemu")  # libvirt loads snapshot metadata when it starts
    lv = Libvirt(uri, work)
    try:
        assert lv.virsh("snapshot-list", "--name", NAME).stdout.split() == ["py1"]
        assert lv.virsh("snapshot-current", "--name", NAME).stdout.strip() == "py1"  # pyvirt's <active>1</active>
        assert "<state>shutoff</state>" in lv.virsh("snapshot-dumpxml", NAME, "py1").stdout
        lv.virsh("snapshot-revert", NAME, "py1")
        lv.virsh("snapshot-create-as", NAME, "lv1", "--description", "from libvirt")
        assert lv.virsh("snapshot-current", "--name", NAME).stdout.strip() == "lv1"
    finally:
        lv.clean()  # undefine keeps the metadata files (the domain had snapshots: refused, then kept)
        plv.stop_libvirtd(proc)
    for name in ("py1", "lv1"):  # libvirt's own documents, its comment banner included; py1 no longer current
        shutil.copy(theirs / f"{name}.xml", ours / f"{name}.xml")
    with pyvirt.open(f"qemu:///embed?root={qemu_root}") as conn:
        dom = conn.lookup_domain_by_name(NAME)
        assert sorted(s.name for s in dom.list_snapshots()) == ["lv1", "py1"]
        current = dom.snapshot_current()
        assert current.name == "lv1" and "<description>from libvirt</description>" in current.xml_desc()
        dom.snapshot_lookup_by_name("py1").revert()
        assert dom.snapshot_current().name == "py1"
        tags = subprocess.run(["qemu-img", "snapshot", "-l", str(disk)], capture_output=True, text=True, check=True)
        assert {"py1", "lv1"} <= set(tags.stdout.split())  # both internal snapshots are in the image
