"""DAC labelling on real files: owners set and restored exactly, remembered in libvirt's xattrs."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

import pytest

from pyvirt.conf.domain import Domain, parse_domain
from pyvirt.errors import ErrorCode, NotSupportedError, OperationInvalidError
from pyvirt.plugin import CONTRACT_VERSION, hookimpl
from pyvirt.security.dac import DacDriver
from pyvirt.security.none import NoneDriver
from pyvirt.security.remembered import host_boot_time
from pyvirt.security.stack import SecurityConfig, SecurityStack
from pyvirt.util.caps import read_process_caps
from pyvirt.util.command import Command

pytestmark = pytest.mark.usefixtures("root_only")
QEMU = 64055
XATTR = "trusted.libvirt.security."


def files(tmp: Path) -> dict[str, Path]:
    names = ["top.qcow2", "base.qcow2", "ro.iso", "shared.img", "keep.img", "other.img", "vmlinuz", "initrd",
             "board.dtb", "VARS.fd", "serial.log"]  # fmt: skip
    out = {}
    for i, name in enumerate(names):
        p = tmp / name
        p.write_bytes(b"x")
        os.chown(p, 1000 + i, 2000 + i)
        out[name] = p
    return out


def guest_xml(f: dict[str, Path], name: str = "g1", label: str | None = None, extra_disk: str = "") -> str:
    seclabel = f"<seclabel type='static' model='dac' relabel='yes'><label>{label}</label></seclabel>" if label else ""
    return f"""<domain type='kvm'><name>{name}</name><memory>1024</memory>
  <os><type>hvm</type><loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader>
    <nvram>{f["VARS.fd"]}</nvram><kernel>{f["vmlinuz"]}</kernel><initrd>{f["initrd"]}</initrd>
    <dtb>{f["board.dtb"]}</dtb></os>
  <devices>
    <disk type='file' device='disk'><source file='{f["top.qcow2"]}'/>
      <backingStore type='file'><format type='qcow2'/><source file='{f["base.qcow2"]}'/></backingStore>
      <target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><source file='{f["ro.iso"]}'/><target dev='sda' bus='sata'/><readonly/></disk>
    <disk type='file' device='disk'><source file='{f["shared.img"]}'/><target dev='vdb' bus='virtio'/><shareable/></disk>
    <disk type='file' device='disk'><source file='{f["keep.img"]}'><seclabel model='dac' relabel='no'/></source>
      <target dev='vdc' bus='virtio'/></disk>
    <disk type='file' device='disk'><source file='{f["other.img"]}'><seclabel model='dac'><label>+4242:+4343</label></seclabel></source>
      <target dev='vdd' bus='virtio'/></disk>
    {extra_disk}
    <serial type='file'><source path='{f["serial.log"]}'/><target port='0'/></serial>
  </devices>{seclabel}</domain>"""


def owners(f: dict[str, Path]) -> dict[str, tuple[int, int]]:
    return {k: (p.stat().st_uid, p.stat().st_gid) for k, p in f.items()}


def xattrs(p: Path) -> dict[str, str]:
    return {n: os.getxattr(p, n).decode() for n in os.listxattr(p) if n.startswith(XATTR)}


def stack(*extra: tuple[str, Any]) -> SecurityStack:
    return SecurityStack([*extra, ("dac", DacDriver(QEMU, QEMU))], SecurityConfig())


def start(st: SecurityStack, xml: str) -> Domain:
    dom = parse_domain(xml)
    st.gen_label(dom)
    st.set_all_label(dom)
    return dom


def test_every_file_labelled_and_restored_exactly(tmp_path: Path) -> None:
    f = files(tmp_path)
    before = owners(f)
    st = stack()
    dom = start(st, guest_xml(f))
    assert dom.seclabels and dom.seclabels[0].label == f"+{QEMU}:+{QEMU}"
    now = owners(f)
    for name in ("top.qcow2", "base.qcow2", "ro.iso", "shared.img", "vmlinuz", "initrd", "board.dtb", "VARS.fd",
                 "serial.log"):  # fmt: skip
        assert now[name] == (QEMU, QEMU), name
    assert now["keep.img"] == before["keep.img"]  # relabel='no'
    assert now["other.img"] == (4242, 4343)  # per-device label
    top = xattrs(f["top.qcow2"])
    assert top == {
        f"{XATTR}dac": f"+{before['top.qcow2'][0]}:+{before['top.qcow2'][1]}",
        f"{XATTR}ref_dac": "1",
        f"{XATTR}timestamp_dac": str(host_boot_time()),
    }
    for shared in ("base.qcow2", "ro.iso", "shared.img"):
        assert xattrs(f[shared]) == {}, shared  # never remembered
    st.restore_all_label(dom)
    after = owners(f)
    for name in ("top.qcow2", "vmlinuz", "initrd", "board.dtb", "VARS.fd", "serial.log", "keep.img", "other.img"):
        assert after[name] == before[name], name
    for name in ("base.qcow2", "ro.iso", "shared.img"):
        assert after[name] == (QEMU, QEMU), name  # libvirt never restores what others may share
    assert all(xattrs(p) == {} for p in f.values())


def test_two_guests_sharing_an_image_keep_it_until_the_last_stops(tmp_path: Path) -> None:
    f = files(tmp_path)
    before = owners(f)
    st = stack()
    g1 = start(st, guest_xml(f))
    g2 = start(st, guest_xml(f, "g2"))
    assert xattrs(f["top.qcow2"])[f"{XATTR}ref_dac"] == "2"
    st.restore_all_label(g1)
    assert owners(f)["top.qcow2"] == (QEMU, QEMU)
    assert xattrs(f["top.qcow2"])[f"{XATTR}ref_dac"] == "1"
    st.restore_all_label(g2)
    assert owners(f)["top.qcow2"] == before["top.qcow2"]
    assert xattrs(f["top.qcow2"]) == {}


def test_a_different_label_on_a_file_in_use_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    f = files(tmp_path)
    st = stack()
    start(st, guest_xml(f))
    snapshot = (owners(f), {k: xattrs(p) for k, p in f.items()})
    dom2 = parse_domain(guest_xml(f, "g2", label="+5000:+5000"))
    st.gen_label(dom2)
    with pytest.raises(OperationInvalidError) as e:
        st.set_all_label(dom2)
    assert e.value.code == ErrorCode.OPERATION_INVALID
    assert e.value.message == (
        f"Requested operation is not valid: Setting different DAC user or group on {f['top.qcow2']} which is already in use"
    )
    assert (owners(f), {k: xattrs(p) for k, p in f.items()}) == snapshot


def test_attributes_from_a_previous_boot_are_purged_not_trusted(tmp_path: Path) -> None:
    f = files(tmp_path)
    before = owners(f)
    top = f["top.qcow2"]
    os.setxattr(top, f"{XATTR}dac", b"+1:+1")
    os.setxattr(top, f"{XATTR}ref_dac", b"5")
    os.setxattr(top, f"{XATTR}timestamp_dac", b"12345")
    st = stack()
    dom = start(st, guest_xml(f))
    assert xattrs(top)[f"{XATTR}ref_dac"] == "1"
    st.restore_all_label(dom)
    assert owners(f)["top.qcow2"] == before["top.qcow2"]


def test_crash_between_set_and_restore_then_next_start(tmp_path: Path) -> None:
    """The guest died without a restore: the next start counts on; the restores bring the owner back."""
    f = files(tmp_path)
    before = owners(f)
    st = stack()
    start(st, guest_xml(f))  # crashed: no restore
    dom = start(st, guest_xml(f))  # started again, same label: allowed
    assert xattrs(f["top.qcow2"])[f"{XATTR}ref_dac"] == "2"
    st.restore_all_label(dom)
    st.restore_all_label(dom)  # the reconnect path restores the dead instance too
    assert owners(f)["top.qcow2"] == before["top.qcow2"]


class Boom:
    """A MAC driver whose SetAllLabel fails: the stack must undo DAC's work."""

    pyvirt_contract = CONTRACT_VERSION

    def __init__(self, fail: bool = True) -> None:
        self.fail = fail

    @hookimpl
    def security_get_model(self) -> str:
        return "boom"

    @hookimpl
    def security_get_doi(self) -> str:
        return "0"

    @hookimpl
    def security_gen_label(self, domain: Domain) -> None:
        pass

    @hookimpl
    def security_release_label(self, domain: Domain) -> None:
        pass

    @hookimpl
    def security_set_all_label(self, domain: Domain, incoming_path: str | None) -> None:
        if self.fail:
            raise OSError(13, "boom")

    @hookimpl
    def security_restore_all_label(self, domain: Domain, migrated: bool) -> None:
        pass


def test_a_failing_driver_rolls_back_the_ones_before_it(tmp_path: Path) -> None:
    f = files(tmp_path)
    before = owners(f)
    st = SecurityStack([("dac", DacDriver(QEMU, QEMU)), ("boom", Boom())], SecurityConfig(default_confined=False))
    dom = parse_domain(guest_xml(f))
    st.gen_label(dom)
    with pytest.raises(OSError):
        st.set_all_label(dom)
    after = owners(f)
    for name in ("top.qcow2", "vmlinuz", "initrd", "board.dtb", "VARS.fd", "serial.log", "keep.img", "other.img"):
        assert after[name] == before[name], name
    assert all(xattrs(p) == {} for p in f.values())


def test_process_label_runs_the_child_as_the_guest_user(tmp_path: Path) -> None:
    f = files(tmp_path)
    st = stack(("none", NoneDriver()))
    dom = start(st, guest_xml(f))
    cmd = Command(["/bin/sleep", "30"]).clear_capabilities()
    st.set_process_label(dom, cmd)
    cmd.run_async()
    try:
        status = read_process_caps(cmd.pid)  # type: ignore[arg-type]
        assert status.uids[0] == QEMU and status.gids[0] == QEMU
        labels = st.process_labels(dom, cmd.pid)  # type: ignore[arg-type]
        assert [label.label for label in labels] == ["", f"+{QEMU}:+{QEMU}"]
    finally:
        cmd.abort()
    st.restore_all_label(dom)


def test_implicit_labels_and_required_confinement(tmp_path: Path) -> None:
    f = files(tmp_path)
    confined = SecurityStack([("boom", Boom(fail=False)), ("dac", DacDriver(QEMU, QEMU))], SecurityConfig())
    dom = parse_domain(guest_xml(f))
    confined.gen_label(dom)
    assert [(s.model, s.type) for s in dom.seclabels or []] == [("boom", "dynamic"), ("dac", "dynamic")]
    strict = SecurityStack(
        [("boom", Boom(fail=False)), ("dac", DacDriver(QEMU, QEMU))], SecurityConfig(require_confined=True)
    )
    unconfined = parse_domain(guest_xml(f).replace("</domain>", "<seclabel type='none' model='boom'/></domain>"))
    with pytest.raises(NotSupportedError) as e:
        strict.gen_label(unconfined)
    assert e.value.message == "unsupported configuration: Unconfined guests are not allowed on this host"


def _hold_lock(path: str, seconds: float, ready: Any) -> None:
    fd = os.open(path, os.O_RDWR)
    fcntl.lockf(fd, fcntl.LOCK_EX, 1, 1)
    ready.set()
    time.sleep(seconds)
    os.close(fd)


def test_metadata_updates_wait_for_libvirts_byte_one_lock(tmp_path: Path) -> None:
    f = files(tmp_path)
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_lock, args=(str(f["top.qcow2"]), 0.6, ready))
    holder.start()
    ready.wait(5)
    t0 = time.monotonic()
    st = stack()
    dom = start(st, guest_xml(f))
    assert time.monotonic() - t0 >= 0.4
    holder.join()
    st.restore_all_label(dom)


def test_probe_falls_back_to_none_and_dac_is_always_last() -> None:
    from pyvirt.errors import Error
    from pyvirt.security.stack import load_security_stack

    st = load_security_stack(SecurityConfig(dac_user=QEMU, dac_group=QEMU))
    assert st.models == [("none", "0"), ("dac", "0")]  # plugins may be installed, but no LSM is active here
    st = load_security_stack(SecurityConfig(drivers=("dac", "none")))
    assert st.models == [("none", "0"), ("dac", "0")]
    with pytest.raises(Error) as e:
        load_security_stack(SecurityConfig(drivers=("smack",)))
    assert e.value.message == "internal error: Security driver smack not found"  # libvirt's virSecurityDriverLookup


def test_modes_are_untouched_and_a_shared_readonly_image_serves_two_guests(tmp_path: Path) -> None:
    f = files(tmp_path)
    for i, p in enumerate(f.values()):
        os.chmod(p, 0o600 + i % 8)
    modes = {k: p.stat().st_mode for k, p in f.items()}
    st = stack()
    g1 = start(st, guest_xml(f))
    top2 = tmp_path / "top2.qcow2"
    top2.write_bytes(b"x")
    g2 = start(st, guest_xml(f, "g2").replace(str(f["top.qcow2"]), str(top2)))
    assert owners(f)["ro.iso"] == (QEMU, QEMU)
    st.restore_all_label(g1)
    assert owners(f)["ro.iso"] == (QEMU, QEMU)  # still used (and readable) by g2
    st.restore_all_label(g2)
    assert {k: p.stat().st_mode for k, p in f.items()} == modes
