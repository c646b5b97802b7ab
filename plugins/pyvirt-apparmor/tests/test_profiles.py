"""Profiles generated for real guests compile with Debian's apparmor_parser; hostile XML gets nothing more."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest
from pyvirt_apparmor.driver import AppArmorDriver
from pyvirt_apparmor.profile import check_path

from pyvirt.conf.domain import parse_domain
from pyvirt.errors import ErrorCode, NotSupportedError, OperationFailedError
from pyvirt.util.command import Command

PARSER = shutil.which("apparmor_parser") or "/sbin/apparmor_parser"
pytestmark = [
    pytest.mark.usefixtures("root_only"),
    pytest.mark.skipif(not os.path.exists(PARSER), reason="apparmor_parser (Debian's apparmor) is not installed"),
]
UUID = "c7a5fdbd-edaf-9455-926a-d65c16db1809"


@pytest.fixture
def aa_root(tmp_path: Path) -> Path:
    """A private apparmor.d: the system's tunables and abstractions, our generated profiles."""
    root = tmp_path / "apparmor.d"
    root.mkdir()
    for sub in ("tunables", "abstractions", "abi"):
        if os.path.isdir(f"/etc/apparmor.d/{sub}"):
            os.symlink(f"/etc/apparmor.d/{sub}", root / sub)
    return root


@pytest.fixture
def driver(aa_root: Path) -> AppArmorDriver:
    # -Q: compile the profile but do not load it (this kernel has no AppArmor); -K: no cache.
    return AppArmorDriver(str(aa_root), parser=PARSER, load_args=("-Q", "-K"))


def guest(d: Path, disk: str | None = None, kind: str = "kvm") -> str:
    for f in ("top.qcow2", "base.qcow2", "install.iso", "shared.img", "vmlinuz", "initrd.img", "VARS.fd", "ser.log"):
        (d / f).touch()
    disk = disk or f"{d}/top.qcow2"
    return f"""<domain type='{kind}'><name>aa</name><uuid>{UUID}</uuid><memory>1024</memory>
<os><type>hvm</type><nvram>{d}/VARS.fd</nvram><kernel>{d}/vmlinuz</kernel><initrd>{d}/initrd.img</initrd></os>
<devices>
<disk type='file' device='disk'><source file='{disk}'/>
  <backingStore type='file'><format type='qcow2'/><source file='{d}/base.qcow2'/></backingStore>
  <target dev='vda' bus='virtio'/></disk>
<disk type='file' device='cdrom'><source file='{d}/install.iso'/><target dev='sda' bus='sata'/><readonly/></disk>
<disk type='file' device='disk'><source file='{d}/shared.img'/><target dev='vdb' bus='virtio'/><shareable/></disk>
<serial type='file'><source path='{d}/ser.log'/><target port='0'/></serial>
</devices><seclabel type='dynamic' model='apparmor'/></domain>"""


def start(driver: AppArmorDriver, xml: str) -> tuple[object, Path, Path]:
    dom = parse_domain(xml)
    driver.security_gen_label(domain=dom)
    driver.security_set_all_label(domain=dom, incoming_path=None)
    profile, files = driver.paths(f"libvirt-{UUID}")
    return dom, Path(profile), Path(files)


def test_profile_lists_exactly_the_guests_files_and_compiles(driver: AppArmorDriver, tmp_path: Path) -> None:
    dom, profile, files = start(driver, guest(tmp_path))
    assert dom.seclabels[0].label == f"libvirt-{UUID}"  # type: ignore[attr-defined]
    text = profile.read_text()
    assert f"profile libvirt-{UUID} flags=(attach_disconnected)" in text
    assert f"#include <libvirt/libvirt-{UUID}.files>" in text
    rules = [line.strip() for line in files.read_text().splitlines() if not line.startswith("#")]
    d = tmp_path
    assert rules == sorted([
        f'"{d}/VARS.fd" rwk,', f'"{d}/base.qcow2" rk,', f'"{d}/initrd.img" r,', f'"{d}/install.iso" rk,',
        f'"{d}/ser.log" rw,', f'"{d}/shared.img" rwk,', f'"{d}/top.qcow2" rwk,', f'"{d}/vmlinuz" r,',
        '"/run/pyvirt/qemu/aa.log" w,', '"/run/pyvirt/qemu/aa.monitor" rw,', '"/run/pyvirt/qemu/aa.pid" rwk,',
    ])  # fmt: skip
    # compiled for real by apparmor_parser in set_all_label; compile again, explicitly
    out = Command([PARSER, "-Q", "-K", "-I", str(driver.apparmor_dir), "-I", str(Path(__file__).parents[1] / "src/pyvirt_apparmor/data"),
                   str(profile)]).capture_stderr().run(check=False)  # fmt: skip
    assert out.exit_status == 0, out.stderr
    driver.security_restore_all_label(domain=dom, migrated=False)
    assert not profile.exists() and not files.exists()


def test_lxc_guests_use_the_lxc_template(driver: AppArmorDriver, tmp_path: Path) -> None:
    xml = guest(tmp_path, kind="lxc").replace("<type>hvm</type>", "<type>exe</type><init>/sbin/init</init>")
    dom, profile, _ = start(driver, xml)
    assert "pyvirt-lxc" in profile.read_text()
    driver.security_restore_all_label(domain=dom, migrated=False)


def test_hotplug_regenerates_and_unplug_removes(driver: AppArmorDriver, tmp_path: Path) -> None:
    dom, _, files = start(driver, guest(tmp_path))
    extra = tmp_path / "hot.img"
    extra.touch()
    driver.security_set_path_label(domain=dom, path=str(extra), kind="image", remember=True)
    assert f'"{extra}" rwk,' in files.read_text()
    driver.security_restore_path_label(domain=dom, path=str(extra), kind="image", recall=True)
    assert str(extra) not in files.read_text()
    driver.security_restore_all_label(domain=dom, migrated=False)


HOSTILE = [
    ('/tmp/x" rwk,\n  /etc/shadow r,\n  "/tmp/y', "characters"),
    ("/tmp/*", "characters"),
    ("/tmp/a?b", "characters"),
    ("/tmp/{a,b}", "characters"),
    ("/tmp/@{HOME}/x", "characters"),
    ("/tmp/../etc/shadow", "normalised"),
    ("/tmp//double", "normalised"),
    ("relative/disk.img", "absolute"),
    ("/etc/shadow", "restricted"),
    ("/proc/self/mem", "restricted"),
    ("/sys/firmware/efi/efivars/x", "restricted"),
    ("/run/user/0/keyring", "restricted"),
    ("/run/pyvirt/qemu/other-guest.monitor", "restricted"),
    ("/usr/bin/sudo", "restricted"),
    ("/boot/vmlinuz", "restricted"),  # writable disk under /boot
    ("/dev/mem", "restricted"),
]


@pytest.mark.parametrize(("path", "why"), HOSTILE)
def test_hostile_paths_are_refused_and_nothing_is_written(
    driver: AppArmorDriver, tmp_path: Path, path: str, why: str
) -> None:
    xml = guest(tmp_path).replace(f"{tmp_path}/top.qcow2", path.replace("\n", "&#10;").replace('"', "&quot;"))
    dom = parse_domain(xml)
    driver.security_gen_label(domain=dom)
    with pytest.raises(NotSupportedError) as e:
        driver.security_set_all_label(domain=dom, incoming_path=None)
    assert e.value.code == ErrorCode.CONFIG_UNSUPPORTED and why in e.value.message
    assert not os.path.exists(driver.profile_dir) or os.listdir(driver.profile_dir) == []


def test_symlinks_are_followed_to_what_the_kernel_mediates(driver: AppArmorDriver, tmp_path: Path) -> None:
    (tmp_path / "evil.img").symlink_to("/etc/shadow")
    with pytest.raises(NotSupportedError) as e:
        check_path(str(tmp_path / "evil.img"), "image")
    assert "resolves to" in e.value.message or "restricted" in e.value.message
    (tmp_path / "real.img").touch()
    (tmp_path / "link.img").symlink_to(tmp_path / "real.img")
    assert check_path(str(tmp_path / "link.img"), "image") == str(tmp_path / "real.img")


def test_firmware_and_kernels_may_come_from_system_directories_read_only() -> None:
    assert (
        check_path("/boot/vmlinuz", "kernel") == os.path.realpath("/boot/vmlinuz")
        if os.path.lexists("/boot/vmlinuz")
        else "/boot/vmlinuz"
    )
    assert check_path("/usr/share/OVMF/OVMF_CODE.fd", "readonly")
    with pytest.raises(NotSupportedError):
        check_path("/usr/share/OVMF/OVMF_CODE.fd", "image")


def test_random_names_either_refused_or_quoted_safely(driver: AppArmorDriver, tmp_path: Path) -> None:
    """Fuzz: a profile never holds a rule for anything but the guest's own (existing) files."""
    rng = random.Random(20261122)
    alphabet = "abc/.-_ \"'\\*?[]{}^@$#,\n\t!~%&()=+;:<>|"
    own_dir = tmp_path / "own"
    own_dir.mkdir()
    for _ in range(300):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        path = f"{own_dir}/{name}"
        try:
            checked = check_path(path, "image")
        except NotSupportedError:
            continue
        assert checked.startswith(f"{own_dir}/") or checked == str(own_dir)
        assert not any(ch in checked for ch in '"\\*?[]{}^\n\t') and "@{" not in checked


def test_process_label_requests_the_profile_at_exec(driver: AppArmorDriver, tmp_path: Path) -> None:
    attr = tmp_path / "attr-exec"
    drv = AppArmorDriver(driver.apparmor_dir, parser=PARSER, load_args=("-Q", "-K"), attr_exec_path=str(attr))
    dom = parse_domain(guest(tmp_path))
    drv.security_gen_label(domain=dom)
    cmd = Command(["/bin/true"])
    drv.security_set_process_label(domain=dom, cmd=cmd)
    cmd.run()
    assert attr.read_text() == f"exec libvirt-{UUID}"


def test_loading_on_a_kernel_without_apparmor_fails_cleanly(aa_root: Path, tmp_path: Path) -> None:
    if os.path.isdir("/sys/kernel/security/apparmor"):
        pytest.skip("this kernel has AppArmor: loading would succeed")
    drv = AppArmorDriver(str(aa_root), parser=PARSER)  # the real load: apparmor_parser -r -W
    dom = parse_domain(guest(tmp_path))
    drv.security_gen_label(domain=dom)
    with pytest.raises(OperationFailedError) as e:
        drv.security_set_all_label(domain=dom, incoming_path=None)
    assert e.value.message.startswith("operation failed: apparmor_parser -r -W ") and "failed: " in e.value.message
    assert os.listdir(drv.profile_dir) == []
    assert drv.security_probe().startswith("disabled: AppArmor is not enabled")
