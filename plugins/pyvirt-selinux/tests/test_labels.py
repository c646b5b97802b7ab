"""SELinux labels on real files through the real security.selinux xattr.

This kernel has no SELinux LSM, but root can still write and read the
``security.selinux`` xattr, which is exactly what setfilecon/getfilecon do;
the tests check that first and say so if it ever stops being true.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import pyvirt_selinux
from pyvirt_selinux.context import parse_context
from pyvirt_selinux.driver import XATTR, SelinuxDriver, get_file_context

from pyvirt.conf.domain import parse_domain
from pyvirt.errors import ErrorCode, InternalError, OperationInvalidError
from pyvirt.security.dac import DacDriver
from pyvirt.security.stack import SecurityConfig, SecurityStack
from pyvirt.util.command import Command

pytestmark = pytest.mark.usefixtures("root_only")
CONTEXTS = "/etc/selinux/default/contexts"
POLICY = "/etc/selinux/default/policy/policy.33"


@pytest.fixture(autouse=True)
def xattrs_work(tmp_path: Path) -> None:
    probe = tmp_path / ".probe"
    probe.write_bytes(b"")
    try:
        os.setxattr(probe, XATTR, b"system_u:object_r:svirt_image_t:s0\0")
    except OSError as exc:
        pytest.skip(f"this filesystem refuses the security.selinux xattr: {exc}")
    probe.unlink()


@pytest.fixture
def driver() -> SelinuxDriver:
    if not os.path.exists(f"{CONTEXTS}/virtual_domain_context"):
        pytest.skip("Debian's selinux-policy-default (virtual_*_context files) is not installed")
    return SelinuxDriver(CONTEXTS)


def rooted(xml: str, root: Path) -> str:
    """Point every absolute path of libvirt's test XML into ``root``."""
    return (
        re.sub(r"(file|path)='/([^']*)'", lambda m: f"{m.group(1)}='{root}/{m.group(2)}'", xml)
        .replace("<kernel>/", f"<kernel>{root}/")
        .replace("<initrd>/", f"<initrd>{root}/")
    )


def libvirt_cases() -> list[str]:
    from pyvirt.testing.sources import libvirt_source

    src = libvirt_source()
    if src is None:
        return []
    return sorted(p.stem for p in (src / "tests" / "securityselinuxlabeldata").glob("*.xml"))


@pytest.mark.parametrize("case", libvirt_cases() or ["unavailable"])
def test_libvirt_securityselinuxlabeldata(case: str, driver: SelinuxDriver, tmp_path: Path) -> None:
    from pyvirt.testing.sources import libvirt_source

    src = libvirt_source()
    if src is None or case == "unavailable":
        pytest.skip("libvirt 9.0.0 source package could not be fetched")
    data = src / "tests" / "securityselinuxlabeldata"
    expected = [line.split(";", 1) for line in (data / f"{case}.txt").read_text().splitlines() if line]
    if any(ctx == "EOPNOTSUPP" for _, ctx in expected):
        pytest.skip(
            "needs a filesystem that refuses xattrs (libvirt mocks NFS for this case); none exists on this host"
        )
    for path, _ in expected:
        target = tmp_path / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"")
    dom = parse_domain(rooted((data / f"{case}.xml").read_text(), tmp_path), live=True)
    driver.security_set_all_label(domain=dom, incoming_path=None)
    got = [[path, get_file_context(str(tmp_path / path.lstrip("/"))) or ""] for path, _ in expected]
    assert got == expected


GUEST = """<domain type='kvm'><name>{name}</name><memory>1024</memory><os><type>hvm</type>
<kernel>{d}/vmlinuz</kernel></os><devices>
<disk type='file' device='disk'><source file='{d}/{name}.qcow2'/>
  <backingStore type='file'><format type='qcow2'/><source file='{d}/base.qcow2'/></backingStore>
  <target dev='vda' bus='virtio'/></disk>
<disk type='file' device='cdrom'><source file='{d}/install.iso'/><target dev='sda' bus='sata'/><readonly/></disk>
<disk type='file' device='disk'><source file='{d}/shared.img'/><target dev='vdb' bus='virtio'/><shareable/></disk>
</devices>{seclabel}</domain>"""


def guest(tmp: Path, name: str, seclabel: str = "<seclabel type='dynamic' model='selinux'/>") -> str:
    for f in (f"{name}.qcow2", "base.qcow2", "install.iso", "shared.img", "vmlinuz"):
        p = tmp / f
        if not p.exists():
            p.write_bytes(b"")
            os.setxattr(p, XATTR, b"system_u:object_r:user_home_t:s0\0")
    return GUEST.format(name=name, d=tmp, seclabel=seclabel)


def test_dynamic_labels_get_unique_mcs_pairs_and_are_released(driver: SelinuxDriver, tmp_path: Path) -> None:
    doms = [parse_domain(guest(tmp_path, f"g{i}")) for i in range(50)]
    levels = set()
    for dom in doms:
        driver.security_gen_label(domain=dom)
        sl = dom.seclabels[0]  # type: ignore[index]
        ctx, img = parse_context(sl.label or ""), parse_context(sl.imagelabel or "")
        assert (ctx.user, ctx.role, ctx.type) == ("system_u", "system_r", "svirt_t")
        assert (img.type, img.level) == ("svirt_image_t", ctx.level)
        a, b = (int(c[1:]) for c in (ctx.categories or "").split(","))
        assert 0 <= a < b <= 1023
        levels.add(ctx.level)
    assert len(levels) == 50
    for dom in doms:
        level = parse_context(dom.seclabels[0].label or "").level  # type: ignore[index]
        driver.security_release_label(domain=dom)
        assert not driver.mcs.in_use(level)


def test_configured_category_range_and_reservation_on_reconnect(tmp_path: Path) -> None:
    drv = SelinuxDriver(CONTEXTS, mcs_range=(100, 103))
    dom = parse_domain(guest(tmp_path, "r1"))
    drv.security_gen_label(domain=dom)
    level = parse_context(dom.seclabels[0].label or "").level  # type: ignore[index]
    a, b = (int(c[1:]) for c in level.split(":")[1].split(","))
    assert 100 <= a < b <= 103
    drv.security_release_label(domain=dom)
    running = parse_domain(guest(tmp_path, "r2").replace(
        "<seclabel type='dynamic' model='selinux'/>",
        "<seclabel type='dynamic' model='selinux' relabel='yes'><label>system_u:system_r:svirt_t:s0:c7,c9</label>"
        "<imagelabel>system_u:object_r:svirt_image_t:s0:c7,c9</imagelabel></seclabel>"), live=True)  # fmt: skip
    drv.security_reserve_label(domain=running, pid=1)  # pid 1 has no SELinux context here: status XML is used
    assert drv.mcs.in_use("s0:c7,c9")
    with pytest.raises(InternalError):
        drv.security_reserve_label(domain=running, pid=1)
    drv.security_release_label(domain=running)


def test_image_roles_remembering_and_restore(driver: SelinuxDriver, tmp_path: Path) -> None:
    dom = parse_domain(guest(tmp_path, "g1"))
    st = SecurityStack([("selinux", driver), ("dac", DacDriver(0, 0))], SecurityConfig())
    st.gen_label(dom)
    st.set_all_label(dom)
    image = dom.seclabels[0].imagelabel  # type: ignore[index]
    assert get_file_context(str(tmp_path / "g1.qcow2")) == image
    assert get_file_context(str(tmp_path / "base.qcow2")) == "system_u:object_r:virt_content_t:s0"
    assert get_file_context(str(tmp_path / "install.iso")) == "system_u:object_r:virt_content_t:s0"
    assert get_file_context(str(tmp_path / "shared.img")) == "system_u:object_r:svirt_image_t:s0"
    assert get_file_context(str(tmp_path / "vmlinuz")) == "system_u:object_r:virt_content_t:s0"
    top = tmp_path / "g1.qcow2"
    assert os.getxattr(top, "trusted.libvirt.security.selinux") == b"system_u:object_r:user_home_t:s0"
    assert os.getxattr(top, "trusted.libvirt.security.ref_selinux") == b"1"
    st.restore_all_label(dom)
    assert get_file_context(str(top)) == "system_u:object_r:user_home_t:s0"
    assert not [n for n in os.listxattr(top) if n.startswith("trusted.libvirt")]


def test_a_second_guest_cannot_take_a_file_in_use(driver: SelinuxDriver, tmp_path: Path) -> None:
    g1 = parse_domain(guest(tmp_path, "g1"))
    driver.security_gen_label(domain=g1)
    driver.security_set_all_label(domain=g1, incoming_path=None)
    g2 = parse_domain(guest(tmp_path, "g1").replace("<name>g1</name>", "<name>g2</name>"))
    driver.security_gen_label(domain=g2)
    with pytest.raises(OperationInvalidError) as e:
        driver.security_set_all_label(domain=g2, incoming_path=None)
    assert "Setting different SELinux label on" in e.value.message and e.value.code == ErrorCode.OPERATION_INVALID
    assert get_file_context(str(tmp_path / "g1.qcow2")) == g1.seclabels[0].imagelabel  # type: ignore[index]


def test_static_none_and_baselabel_rules(driver: SelinuxDriver, tmp_path: Path) -> None:
    static = parse_domain(guest(tmp_path, "s", "<seclabel type='static' model='selinux' relabel='yes'>"
                                              "<label>system_u:system_r:svirt_t:s0:c5,c6</label></seclabel>"))  # fmt: skip
    driver.security_gen_label(domain=static)
    assert static.seclabels[0].imagelabel == "system_u:object_r:svirt_image_t:s0:c5,c6"  # type: ignore[index]
    base = parse_domain(guest(tmp_path, "b", "<seclabel type='dynamic' model='selinux'>"
                                            "<baselabel>system_u:system_r:svirt_tcg_t:s0</baselabel></seclabel>"))  # fmt: skip
    driver.security_gen_label(domain=base)
    assert parse_context(base.seclabels[0].label or "").type == "svirt_tcg_t"  # type: ignore[index]
    none = parse_domain(guest(tmp_path, "n", "<seclabel type='none' model='selinux'/>"))
    driver.security_gen_label(domain=none)
    driver.security_set_all_label(domain=none, incoming_path=None)
    assert get_file_context(str(tmp_path / "n.qcow2")) == "system_u:object_r:user_home_t:s0"
    driver.security_release_label(domain=base)


def test_restore_without_a_remembered_label_uses_the_policy_default(driver: SelinuxDriver, tmp_path: Path) -> None:
    if not shutil.which("matchpathcon") and not os.path.exists("/usr/sbin/matchpathcon"):
        pytest.skip("matchpathcon (policycoreutils) is not installed")
    dom = parse_domain(guest(tmp_path, "m"))
    driver.security_gen_label(domain=dom)
    driver.security_set_path_label(domain=dom, path=str(tmp_path / "m.qcow2"), kind="image", remember=False)
    assert get_file_context(str(tmp_path / "m.qcow2")) == dom.seclabels[0].imagelabel  # type: ignore[index]
    driver.security_restore_path_label(domain=dom, path=str(tmp_path / "m.qcow2"), kind="image", recall=True)
    expected = subprocess.run(["matchpathcon", "-n", str(tmp_path / "m.qcow2")], capture_output=True, text=True,
                              check=True).stdout.strip()  # fmt: skip
    assert get_file_context(str(tmp_path / "m.qcow2")) == expected
    driver.security_release_label(domain=dom)


def test_process_label_is_written_in_the_child_between_fork_and_exec(driver: SelinuxDriver, tmp_path: Path) -> None:
    attr = tmp_path / "attr-exec"
    drv = SelinuxDriver(CONTEXTS, attr_exec_path=str(attr))
    dom = parse_domain(guest(tmp_path, "p"))
    drv.security_gen_label(domain=dom)
    cmd = Command(["/bin/sh", "-c", "echo $$"]).capture_stdout()
    drv.security_set_process_label(domain=dom, cmd=cmd)
    cmd.run()
    assert attr.read_text() == dom.seclabels[0].label  # type: ignore[index]
    drv.security_release_label(domain=dom)


def test_probe_reports_why_it_is_disabled_here() -> None:
    state = SelinuxDriver(CONTEXTS).security_probe()
    if os.path.exists("/sys/fs/selinux/enforce"):
        assert state == "enabled"
    else:
        assert state.startswith("disabled: SELinux is not enabled in this kernel")


def _policy_check(*args: str) -> subprocess.CompletedProcess[str]:
    # Debian's interpreter (it has python3-setools) runs the installed pyvirt_selinux, wherever it is installed
    env = dict(os.environ, PYTHONPATH=str(Path(pyvirt_selinux.__file__).resolve().parents[1]))
    return subprocess.run(["/usr/bin/python3", "-m", "pyvirt_selinux.policy_check", POLICY, *args],
                          capture_output=True, text=True, env=env, check=False)  # fmt: skip


def test_isolation_holds_in_debians_compiled_policy(driver: SelinuxDriver, tmp_path: Path) -> None:
    """Checked offline with setools against selinux-policy-default's policy.33."""
    if not os.path.exists(POLICY) or subprocess.run(["/usr/bin/python3", "-c", "import setools"],
                                                    capture_output=True, check=False).returncode:  # fmt: skip
        pytest.skip("Debian's selinux-policy-default and python3-setools are needed for the offline check")
    g1, g2 = parse_domain(guest(tmp_path, "i1")), parse_domain(guest(tmp_path, "i2"))
    driver.security_gen_label(domain=g1)
    driver.security_gen_label(domain=g2)
    p1, i1 = g1.seclabels[0].label or "", g1.seclabels[0].imagelabel or ""  # type: ignore[index]
    i2 = g2.seclabels[0].imagelabel or ""  # type: ignore[index]
    for ctx in (p1, i1, i2):
        assert _policy_check("--valid", ctx).returncode == 0, ctx
    assert _policy_check(p1, i1, "file", "write").returncode == 0
    denied = _policy_check(p1, i2, "file", "write")
    assert denied.returncode == 1 and "mlsconstrain" in denied.stdout
    assert _policy_check(p1, "system_u:object_r:virt_content_t:s0", "file", "read").returncode == 0
    assert _policy_check(p1, "system_u:object_r:virt_content_t:s0", "file", "write").returncode == 1
    driver.security_release_label(domain=g1)
    driver.security_release_label(domain=g2)


def test_base_label_through_the_stack(driver: SelinuxDriver) -> None:
    st = SecurityStack([("selinux", driver), ("dac", DacDriver(0, 0))], SecurityConfig())
    assert st.base_label("kvm") == "system_u:system_r:svirt_t:s0"
    assert st.base_label("qemu") == "system_u:system_r:svirt_tcg_t:s0"
    assert st.model() == "selinux" and st.doi() == "0"
