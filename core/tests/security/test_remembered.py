"""Stale remembered labels: records of an earlier boot, and records of a start that died.

A start killed between labelling a disk and giving it back leaves libvirt's
``ref_dac`` behind; without recovery every later start that wants another owner
for that disk fails with "Setting different DAC user or group ... already in use",
and the disk never gets its owner back. The "starts" here are real processes
labelling real files, killed with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyvirt.conf.domain import Domain, parse_domain
from pyvirt.errors import OperationInvalidError
from pyvirt.security import remembered
from pyvirt.security.dac import DacDriver
from pyvirt.security.remembered import host_boot_time, owners_of
from pyvirt.security.stack import SecurityConfig, SecurityStack

pytestmark = pytest.mark.usefixtures("root_only")
XATTR = "trusted.libvirt.security."
ORIGINAL = (1000, 2000)
QEMU = 64055
UUIDS = ("6f0d7f0e-0d5c-4b8e-9d3e-000000000001", "6f0d7f0e-0d5c-4b8e-9d3e-000000000002")


def guest_xml(disk: Path, name: str, uuid: str, label: str | None = None) -> str:
    seclabel = f"<seclabel type='static' model='dac' relabel='yes'><label>{label}</label></seclabel>" if label else ""
    return f"""<domain type='kvm'><name>{name}</name><uuid>{uuid}</uuid><memory>1024</memory>
  <os><type>hvm</type></os><devices><disk type='file' device='disk'><source file='{disk}'/>
  <target dev='vda' bus='virtio'/></disk></devices>{seclabel}</domain>"""


def stack() -> SecurityStack:
    return SecurityStack([("dac", DacDriver(QEMU, QEMU))], SecurityConfig())


def start(disk: Path, name: str, uuid: str, label: str | None = None) -> tuple[SecurityStack, Domain]:
    st = stack()
    dom = parse_domain(guest_xml(disk, name, uuid, label))
    st.gen_label(dom)
    st.set_all_label(dom)
    return st, dom


def owner(p: Path) -> tuple[int, int]:
    return p.stat().st_uid, p.stat().st_gid


def xattrs(p: Path) -> dict[str, str]:
    return {n: os.getxattr(p, n).decode() for n in os.listxattr(p) if n.startswith(XATTR)}


@pytest.fixture
def disk(tmp_path: Path) -> Path:
    p = tmp_path / "disk.qcow2"
    p.write_bytes(b"x")
    os.chown(p, *ORIGINAL)
    return p


CHILD = textwrap.dedent(
    """
    import os, signal, sys
    sys.path[:0] = {path!r}
    from pyvirt.conf.domain import parse_domain
    from pyvirt.security.dac import DacDriver
    from pyvirt.security.stack import SecurityConfig, SecurityStack
    st = SecurityStack([("dac", DacDriver({uid}, {gid}))], SecurityConfig())
    dom = parse_domain(open({xml!r}).read())
    st.gen_label(dom)
    st.set_all_label(dom)
    if {hand_over}:
        st.hand_over_labels(dom, {hand_over})
        sys.exit(0)  # the starting process is done; the "guest" keeps the labels
    os.kill(os.getpid(), signal.SIGSTOP)  # labelled, not yet given back: the test kills us here
    """
)


def labelling_process(
    tmp: Path, xml: str, uid: int = QEMU, gid: int = QEMU, hand_over: int = 0
) -> subprocess.Popen[bytes]:
    """A start in another process that labels the domain's files, then stops (or hands over and exits)."""
    xml_file = tmp / f"dom-{time.monotonic_ns()}.xml"
    xml_file.write_text(xml)
    code = CHILD.format(path=sys.path, uid=uid, gid=gid, xml=str(xml_file), hand_over=hand_over)
    proc = subprocess.Popen([sys.executable, "-c", code])
    if hand_over:
        assert proc.wait(30) == 0
        return proc
    deadline = time.monotonic() + 30
    while Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "T":
        assert proc.poll() is None and time.monotonic() < deadline, "the labelling process died early"
        time.sleep(0.02)
    return proc


@pytest.fixture
def reaped() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(10)


def test_a_record_from_an_earlier_boot_does_not_block_a_start_and_is_rebuilt(disk: Path) -> None:
    """An earlier boot's ref_dac=1 on a file now owned by someone else: libvirt's timestamp check purges it."""
    os.setxattr(disk, f"{XATTR}dac", b"+7:+7")
    os.setxattr(disk, f"{XATTR}ref_dac", b"1")
    os.setxattr(disk, f"{XATTR}timestamp_dac", str(host_boot_time() - 86400).encode())
    st, dom = start(disk, "g1", UUIDS[0], "+4242:+4242")  # different from the owner: refused if the record counted
    assert owner(disk) == (4242, 4242)
    assert xattrs(disk) == {
        f"{XATTR}dac": f"+{ORIGINAL[0]}:+{ORIGINAL[1]}",  # the owner it has now, not the stale record's
        f"{XATTR}ref_dac": "1",
        f"{XATTR}timestamp_dac": str(host_boot_time()),
    }
    st.restore_all_label(dom)
    assert owner(disk) == ORIGINAL and xattrs(disk) == {} and os.listxattr(disk) == []


def test_a_start_killed_after_labelling_blocks_no_later_start(
    disk: Path, tmp_path: Path, reaped: list[subprocess.Popen[bytes]]
) -> None:
    killed = labelling_process(tmp_path, guest_xml(disk, "g1", UUIDS[0]))
    reaped.append(killed)
    assert owner(disk) == (QEMU, QEMU) and xattrs(disk)[f"{XATTR}ref_dac"] == "1"
    assert [(o.domain, o.pid) for o in owners_of(disk, "dac")] == [(UUIDS[0], killed.pid)]
    killed.kill()
    killed.wait(10)
    # another guest wanting another owner: refused while the dead start's reference counted
    st, dom = start(disk, "g2", UUIDS[1], "+4242:+4242")
    assert owner(disk) == (4242, 4242)
    assert xattrs(disk)[f"{XATTR}ref_dac"] == "1"
    assert xattrs(disk)[f"{XATTR}dac"] == f"+{ORIGINAL[0]}:+{ORIGINAL[1]}"  # the true original, not QEMU's
    assert [o.domain for o in owners_of(disk, "dac")] == [UUIDS[1]]
    st.restore_all_label(dom)
    assert owner(disk) == ORIGINAL and os.listxattr(disk) == []


def test_the_same_guest_restarted_after_a_killed_start_gives_the_disk_back(
    disk: Path, tmp_path: Path, reaped: list[subprocess.Popen[bytes]]
) -> None:
    """Same owner wanted: no refusal even before, but the dead reference kept the disk QEMU's forever."""
    killed = labelling_process(tmp_path, guest_xml(disk, "g1", UUIDS[0]))
    reaped.append(killed)
    killed.kill()
    killed.wait(10)
    st, dom = start(disk, "g1", UUIDS[0])
    assert xattrs(disk)[f"{XATTR}ref_dac"] == "1"
    st.restore_all_label(dom)
    assert owner(disk) == ORIGINAL and os.listxattr(disk) == []


def test_a_live_user_still_refuses_a_different_owner(
    disk: Path, tmp_path: Path, reaped: list[subprocess.Popen[bytes]]
) -> None:
    """Only dead owners are forgotten: a guest still starting (or running) keeps its reference."""
    holder = labelling_process(tmp_path, guest_xml(disk, "g1", UUIDS[0]))
    reaped.append(holder)
    before = (owner(disk), xattrs(disk), owners_of(disk, "dac"))
    with pytest.raises(OperationInvalidError) as e:
        start(disk, "g2", UUIDS[1], "+4242:+4242")
    assert e.value.message.endswith(f"Setting different DAC user or group on {disk} which is already in use")
    assert (owner(disk), xattrs(disk), owners_of(disk, "dac")) == before  # the refused start left no trace


def test_the_guest_process_keeps_the_reference_after_its_starter_exits(
    disk: Path, tmp_path: Path, reaped: list[subprocess.Popen[bytes]]
) -> None:
    guest = subprocess.Popen(["sleep", "60"])  # stands for QEMU: the process the labels are handed to
    reaped.append(guest)
    labelling_process(tmp_path, guest_xml(disk, "g1", UUIDS[0]), hand_over=guest.pid)
    assert [(o.domain, o.pid) for o in owners_of(disk, "dac")] == [(UUIDS[0], guest.pid)]
    with pytest.raises(OperationInvalidError):
        start(disk, "g2", UUIDS[1], "+4242:+4242")  # the starter is gone, but its guest runs
    guest.send_signal(signal.SIGKILL)
    guest.wait(10)
    st, dom = start(disk, "g2", UUIDS[1], "+4242:+4242")  # the guest died unseen: its reference goes with it
    st.restore_all_label(dom)
    assert owner(disk) == ORIGINAL and os.listxattr(disk) == []


def test_references_without_an_owner_line_follow_libvirts_rules(disk: Path) -> None:
    """A reference libvirt took (no pyvirt owner line) is never judged dead: the refusal stays."""
    os.setxattr(disk, f"{XATTR}dac", f"+{ORIGINAL[0]}:+{ORIGINAL[1]}".encode())
    os.setxattr(disk, f"{XATTR}ref_dac", b"1")
    os.setxattr(disk, f"{XATTR}timestamp_dac", str(host_boot_time()).encode())
    os.chown(disk, QEMU, QEMU)
    with pytest.raises(OperationInvalidError):
        start(disk, "g2", UUIDS[1], "+4242:+4242")
    assert xattrs(disk)[f"{XATTR}ref_dac"] == "1"


@pytest.mark.parametrize(("offset", "trusted"), [(0, True), (1, True), (-1, True), (2, False), (-3600, False)])
def test_a_stamp_is_this_boot_within_libvirts_one_second_wobble(disk: Path, offset: int, trusted: bool) -> None:
    """libvirt's boot time without utmp is whole seconds of the clock minus the uptime: two of its own
    processes can disagree by one second. pyvirt takes such a stamp for this boot; an earlier boot's it purges."""
    os.setxattr(disk, f"{XATTR}dac", b"+7:+7")
    os.setxattr(disk, f"{XATTR}ref_dac", b"1")
    os.setxattr(disk, f"{XATTR}timestamp_dac", str(int(remembered._boot_stamp()) + offset).encode())
    os.chown(disk, QEMU, QEMU)  # as the record's guest left it
    st, dom = start(disk, "g1", UUIDS[0])  # same owner: never refused, but counted on only when trusted
    assert xattrs(disk)[f"{XATTR}ref_dac"] == ("2" if trusted else "1")
    st.restore_all_label(dom)
    if trusted:  # the record's guest still uses it: its owner and record stay
        assert owner(disk) == (QEMU, QEMU) and xattrs(disk)[f"{XATTR}dac"] == "+7:+7"
        assert xattrs(disk)[f"{XATTR}ref_dac"] == "1"
    else:  # purged at start: this guest was the only user, and gave back the owner it found
        assert owner(disk) == (QEMU, QEMU) and xattrs(disk) == {}


def test_the_boot_time_comes_from_utmp_when_the_host_keeps_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """libvirt's virHostGetBootTime asks utmp (getutxid BOOT_TIME) first; /proc/uptime only without it."""
    record = bytearray(384)  # glibc's struct utmpx
    struct.pack_into("=h", record, 0, 2)  # BOOT_TIME
    struct.pack_into("=ii", record, 340, 1_600_000_000, 123)  # ut_tv
    utmp = tmp_path / "utmp"
    utmp.write_bytes(bytes(384) + bytes(record))  # after an empty slot
    monkeypatch.setattr(remembered, "_UTMP", str(utmp))
    assert host_boot_time() == 1_600_000_000
    utmp.write_bytes(bytes(384))  # no BOOT_TIME record: the uptime answer
    with open("/proc/uptime", encoding="ascii") as f:
        expected = time.time() - float(f.read().split()[0])
    assert host_boot_time() == int(expected) or abs(host_boot_time() - expected) < 0.02  # its whole second
