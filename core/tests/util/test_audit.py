"""Audit records reach the kernel for real and read back in libvirt's format.

The kernel here has audit support but starts with it disabled; the fixture
enables it with Debian's auditctl for the test and restores the old state.
Records are read from the kernel's READLOG multicast group (no auditd).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from pyvirt.errors import ErrorDomain, OperationFailedError
from pyvirt.util.audit import (
    AuditGuest,
    AuditLevel,
    Auditor,
    AuditReader,
    AuditRecordType,
    encode_value,
    read_audit_status,
)

pytestmark = pytest.mark.usefixtures("root_only")

GUEST = AuditGuest("kvm", "QEMUGuest1", "c7a5fdbd-edaf-9455-926a-d65c16db1809", 4242)


def _set_enabled(value: int) -> None:
    subprocess.run(["auditctl", "-e", str(value)], check=True, stdout=subprocess.DEVNULL)


@pytest.fixture
def kernel_audit() -> Iterator[None]:
    if not shutil.which("auditctl"):
        pytest.skip("auditctl (Debian's auditd package) is not installed")
    try:
        before = read_audit_status().enabled
    except OSError as exc:
        pytest.skip(f"this kernel has no audit support: {exc}")
    if before == 2:
        pytest.skip("audit configuration is locked (enabled=2)")
    _set_enabled(1)
    yield
    _set_enabled(before)


@pytest.fixture
def audit_disabled() -> Iterator[None]:
    if not shutil.which("auditctl"):
        pytest.skip("auditctl (Debian's auditd package) is not installed")
    before = read_audit_status().enabled
    if before == 2:
        pytest.skip("audit configuration is locked (enabled=2)")
    _set_enabled(0)
    yield
    _set_enabled(before)


def collect(reader: AuditReader, count: int) -> list[tuple[int, str]]:
    out = []
    for rtype, text in reader.records(2.0):
        if 2500 <= rtype <= 2502 and "uuid=c7a5fdbd" in text:
            out.append((rtype, re.sub(r"^audit\([^)]*\): ", "", text)))
            if len(out) == count:
                break
    return out


def body(text: str) -> str:
    """The part between msg=' and the libaudit trailer."""
    m = re.search(r"msg='(.*) exe=(\S+) hostname=\? addr=\? terminal=\? res=(success|failed)'", text)
    assert m, text
    return m.group(1)


def test_records_read_back_from_the_kernel_in_libvirts_format(kernel_audit: None) -> None:
    with AuditReader() as reader, Auditor(AuditLevel.REQUIRED) as auditor:
        assert auditor.active
        auditor.start(GUEST, "booted")
        auditor.disk(GUEST, None, "/var/lib/images/disk one.qcow2", "start")
        auditor.net(GUEST, None, "52:54:00:4d:3a:01", "start")
        auditor.net_device_open(GUEST, "52:54:00:4d:3a:01", "/dev/net/tun")
        auditor.memory(GUEST, 0, 1048576, "start")
        auditor.vcpu(GUEST, 0, 2, "start")
        auditor.security_label(GUEST, "selinux", "system_u:system_r:svirt_t:s0:c1,c2", None)
        auditor.cgroup_path(GUEST, "/sys/fs/cgroup/devices/machine/x", "allow", "/dev/null", "rw")
        auditor.hostdev(GUEST, "pci", "0000:00:1f.2", "attach", success=False)
        auditor.stop(GUEST, "destroyed")
        got = collect(reader, 10)
    types = [t for t, _ in got]
    texts = [body(t) for _, t in got]
    assert types == [2500, 2501, 2501, 2501, 2501, 2501, 2502, 2501, 2501, 2500]
    u = "uuid=c7a5fdbd-edaf-9455-926a-d65c16db1809"
    vm = 'vm="QEMUGuest1"'
    disk = b"/var/lib/images/disk one.qcow2".hex().upper()
    assert texts == [
        f"virt=kvm op=start reason=booted {vm} {u} vm-pid=4242",
        f'virt=kvm resrc=disk reason=start {vm} {u} old-disk="?" new-disk={disk}',
        f'virt=kvm resrc=net reason=start {vm} {u} old-net="?" new-net="52:54:00:4d:3a:01"',
        f'virt=kvm resrc=net reason=open {vm} {u} net=52:54:00:4d:3a:01 path="/dev/net/tun" rdev=0A:C8',
        f"virt=kvm resrc=mem reason=start {vm} {u} old-mem=0 new-mem=1048576",
        f"virt=kvm resrc=vcpu reason=start {vm} {u} old-vcpu=0 new-vcpu=2",
        f"virt=kvm {vm} {u} vm-ctx=system_u:system_r:svirt_t:s0:c1,c2 img-ctx=? model=selinux",
        f'virt=kvm resrc=cgroup reason=allow {vm} {u} cgroup="/sys/fs/cgroup/devices/machine/x" '
        f'class=path path="/dev/null" rdev=01:03 acl=rw',
        f'virt=kvm resrc=dev reason=attach {vm} {u} bus=pci device="0000:00:1f.2"',
        f"virt=kvm op=stop reason=destroyed {vm} {u} vm-pid=4242",
    ]
    assert got[8][1].endswith("res=failed'")
    assert got[0][1].endswith("res=success'")


def test_fs_chardev_rng_and_cgroup_major_records(kernel_audit: None) -> None:
    with AuditReader() as reader, Auditor() as auditor:
        auditor.fs(GUEST, None, "/srv/share", "start")
        auditor.chardev(GUEST, "/dev/pts/3", None, "detach")
        auditor.rng(GUEST, None, "/dev/urandom", "attach")
        auditor.cgroup_major(GUEST, None, "deny", 136, "pty", "rw")
        auditor.cgroup(GUEST, None, "deny", "all")
        auditor.hostdev_caps(GUEST, "disk", "/dev/sdb", "start")
        got = collect(reader, 6)
    u, vm = f"uuid={GUEST.uuid}", 'vm="QEMUGuest1"'
    assert [body(t) for _, t in got] == [
        f'virt=kvm resrc=fs reason=start {vm} {u} old-fs="?" new-fs="/srv/share"',
        f'virt=kvm resrc=chardev reason=detach {vm} {u} old-chardev="/dev/pts/3" new-chardev="?"',
        f'virt=kvm resrc=rng reason=attach {vm} {u} old-rng="?" new-rng="/dev/urandom"',
        f'virt=kvm resrc=cgroup reason=deny {vm} {u} cgroup="?" class=major category=pty maj=88 acl=rw',
        f'virt=kvm resrc=cgroup reason=deny {vm} {u} cgroup="?" class=all',
        f'virt=kvm resrc=hostdev reason=start {vm} {u} disk="/dev/sdb"',
    ]


def test_lxc_init_record(kernel_audit: None) -> None:
    import os

    ns = os.stat("/proc/self/ns/pid").st_ino
    with AuditReader() as reader, Auditor() as auditor:
        auditor.init(AuditGuest("lxc", "c1", GUEST.uuid, 10), 11, ns)
        got = collect(reader, 1)
    assert (
        body(got[0][1])
        == f'virt=lxc op=init vm="c1" {GUEST.uuid and "uuid=" + GUEST.uuid} vm-pid=10 init-pid=11 pid-ns={ns}'
    )


def test_required_level_fails_loudly_when_the_kernel_does_not_audit(audit_disabled: None) -> None:
    with pytest.raises(OperationFailedError) as e:
        Auditor(AuditLevel.REQUIRED)
    assert e.value.domain == ErrorDomain.AUDIT
    assert "auditctl -e 1" in e.value.message


def test_default_level_degrades_quietly_and_mirrors_to_the_log(
    audit_disabled: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="pyvirt.audit")
    with Auditor(mirror_to_log=True) as auditor:
        assert not auditor.active
        auditor.stop(GUEST, "shutdown")
    assert any("op=stop reason=shutdown" in r.message for r in caplog.records)


def test_level_off_sends_nothing(kernel_audit: None) -> None:
    with AuditReader() as reader, Auditor(AuditLevel.OFF) as auditor:
        assert not auditor.active
        auditor.start(GUEST, "booted")
        assert collect(reader, 1) == []


def test_value_encoding_follows_libaudit() -> None:
    assert encode_value("vm", "plain") == 'vm="plain"'
    assert encode_value("vm", 'a"b') == "vm=612262"
    assert encode_value("vm", "a b") == "vm=612062"
    assert encode_value("path", None) == 'path="?"'
    assert AuditRecordType.VIRT_MACHINE_ID == 2502
