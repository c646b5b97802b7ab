"""The conversions as users reach them: the driver's hooks (in process and through pyvirtd) and the command line.

Also what a user must be told rather than have silently dropped: settings and
elements the converters do not map, malformed files (with the line), and
formats the driver does not know.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import pyvirt
from pyvirt.errors import Error, ErrorCode

PV_CFG = """name = "pv"
uuid = "c7a5fdb2-cdaf-9455-926a-d65c16db1809"
maxmem = 256
memory = 128
vcpus = 2
on_crash = "destroy"
kernel = "/boot/vmlinuz"
cmdline = "console=hvc0"
disk = [ "/srv/pv.img,raw,xvda,rw" ]
vif = [ "mac=00:16:3e:00:00:01,bridge=br0" ]
"""


def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pyvirt_xen.convert", *args], check=False, capture_output=True,
                          text=True, input=stdin, timeout=60)  # fmt: skip


def test_driver_converts_both_ways_in_process() -> None:
    with pyvirt.open("xen:///system?mode=direct") as conn:
        xml = conn.domain_xml_from_native("xen-xl", PV_CFG)
        assert "<type arch='x86_64' machine='xenpv'>linux</type>" in xml
        assert "<source file='/srv/pv.img'/>" in xml
        cfg = conn.domain_xml_to_native("xen-xl", xml)
    assert 'disk = [ "format=raw,vdev=xvda,access=rw,backendtype=qdisk,target=/srv/pv.img" ]' in cfg
    assert 'vif = [ "mac=00:16:3e:00:00:01,bridge=br0,script=vif-bridge" ]' in cfg
    assert 'on_crash = "destroy"' in cfg
    assert "maxvcpus" not in cfg and "vcpus = 2" in cfg


def test_driver_leaves_graphics_passwords_out_as_libvirts_driver_does() -> None:
    """libvirt's libxl driver formats domxml-from-native's XML without secure information (seen beside
    libvirtd in dom0: bench/bench_xen_convert.py): the VNC password stays in the file, not in the answer. The
    offline converter prints what libvirt's xlconfigtest formats, password included."""
    cfg = 'name = "pv"\nuuid = "c7a5fdb2-cdaf-9455-926a-d65c16db1809"\nmemory = 128\nkernel = "/boot/vmlinuz"\n'
    cfg += 'vfb = [ "type=vnc,vnclisten=127.0.0.1,vncpasswd=123poi" ]\n'
    with pyvirt.open("xen:///system?mode=direct") as conn:
        for fmt in ("xen-xl", "xen-xm"):
            xml = conn.domain_xml_from_native(fmt, cfg)
            assert "<graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'>" in xml, (fmt, xml)
            assert "123poi" not in xml, fmt
    offline = _run("from-xl", "-", stdin=cfg)
    assert offline.returncode == 0, offline.stderr
    assert "listen='127.0.0.1' passwd='123poi'>" in offline.stdout


def test_nestedhvm_off_without_xen_disables_vmx_as_libvirts_tests_expect() -> None:
    """Where no Xen answers ``xl info``, the driver disables vmx (libvirt's choice without a host CPU); on Xen it
    asks hw_caps, so an AMD host gets svm, as libvirt 9.0's driver gave in the nested dom0."""
    cfg = 'name = "hvm"\nuuid = "c7a5fdb2-cdaf-9455-926a-d65c16db1809"\nmemory = 128\nbuilder = "hvm"\nnestedhvm = 0\n'
    with pyvirt.open("xen:///system?mode=direct") as conn:
        xml = conn.domain_xml_from_native("xen-xl", cfg)
    assert "<feature policy='disable' name='vmx'/>" in xml, xml


def test_unknown_native_format_is_libvirts_invalid_arg() -> None:
    with pyvirt.open("xen:///system?mode=direct") as conn, pytest.raises(Error) as err:
        conn.domain_xml_from_native("xen-sxpr", PV_CFG)
    assert err.value.code == ErrorCode.INVALID_ARG
    assert "unsupported config type xen-sxpr" in err.value.message


def test_unmapped_xl_setting_is_refused_by_name() -> None:
    with pyvirt.open("xen:///system?mode=direct") as conn, pytest.raises(Error) as err:
        conn.domain_xml_from_native("xen-xl", PV_CFG + 'vtpm = [ "backend=domu-vtpm" ]\n')
    assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED
    assert "'vtpm'" in err.value.message


def test_unmapped_xml_device_is_refused_by_name() -> None:
    with pyvirt.open("xen:///system?mode=direct") as conn:
        xml = conn.domain_xml_from_native("xen-xl", PV_CFG)
        xml = xml.replace("</devices>", "<watchdog model='i6300esb' action='reset'/></devices>")
        with pytest.raises(Error) as err:
            conn.domain_xml_to_native("xen-xl", xml)
    assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED
    assert "<watchdog>" in err.value.message


def test_a_security_label_is_the_drivers_business_not_xls() -> None:
    """A guest's <seclabel> (its files' owner while it runs, applied by the driver) leaves nothing in xl.cfg,
    as with libvirt's converter, instead of refusing the guest: a running guest's XML always carries one."""
    with pyvirt.open("xen:///system?mode=direct") as conn:
        xml = conn.domain_xml_from_native("xen-xl", PV_CFG).replace(
            "</domain>",
            "<seclabel type='static' model='dac' relabel='yes'><label>+107:+108</label></seclabel></domain>",
        )
        native = conn.domain_xml_to_native("xen-xl", xml)
    assert native == conn_free_xl(PV_CFG)
    assert "107" not in native


def conn_free_xl(cfg: str) -> str:
    """The xl.cfg of ``cfg`` round-tripped without any label."""
    with pyvirt.open("xen:///system?mode=direct") as conn:
        return conn.domain_xml_to_native("xen-xl", conn.domain_xml_from_native("xen-xl", cfg))


def test_multiple_serials_refused_for_xm_as_libvirt_does() -> None:
    cfg = PV_CFG.replace('kernel = "/boot/vmlinuz"', 'builder = "hvm"') + 'serial = [ "pty", "pty" ]\n'
    with pyvirt.open("xen:///system?mode=direct") as conn, pytest.raises(Error) as err:
        conn.domain_xml_from_native("xen-xm", cfg.replace('cmdline = "console=hvc0"\n', 'kernel = "/x"\n'))
    assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED
    assert "Multiple serial devices are not supported by xen-xm" in err.value.message


def test_cli_prints_result_on_stdout(tmp_path: Path) -> None:
    cfg = tmp_path / "pv.cfg"
    cfg.write_text(PV_CFG)
    out = _run("from-xl", str(cfg))
    assert out.returncode == 0 and out.stderr == ""
    back = _run("to-xl", "-", stdin=out.stdout)
    assert back.returncode == 0, back.stderr
    assert back.stdout.startswith('name = "pv"\nuuid = "c7a5fdb2-cdaf-9455-926a-d65c16db1809"\nmaxmem = 256\n')


def test_cli_malformed_file_names_the_line(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.cfg"
    cfg.write_text('name = "pv"\n# a comment\nmemory = \nvcpus = 1\n')
    out = _run("from-xl", str(cfg))
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.strip() == "error: configuration file syntax error: line 3: expecting a value"
    cfg.write_text('name = "pv"\nvif = [ "mac=00:16:3e:00:00:01" "x" ]\n')
    out = _run("from-xm", str(cfg))
    assert out.stderr.strip() == "error: configuration file syntax error: line 2: expecting a separator in list"


def test_cli_missing_file_and_refusal_exit_1(tmp_path: Path) -> None:
    missing = _run("to-xm", str(tmp_path / "nope.xml"))
    assert missing.returncode == 1 and "cannot read" in missing.stderr
    refused = _run("from-xm", "-", stdin=PV_CFG.replace('cmdline = "console=hvc0"', "cpuid = 'host'"))
    assert refused.returncode == 1
    assert (
        refused.stderr.strip()
        == "error: unsupported configuration: setting 'cpuid' has no domain XML equivalent in xen-xm"
    )


def test_through_pyvirtd(tmp_path: Path) -> None:
    """``virsh -c xen:///system domxml-from-native`` reaches the driver hosted in the daemon."""
    from pyvirt.daemon.instance import PrivateDaemon

    with PrivateDaemon(tmp_path) as daemon, pyvirt.open(daemon.uri("xen:///system")) as conn:
        xml = conn.domain_xml_from_native("xen-xl", PV_CFG)
        assert "<memory unit='KiB'>262144</memory>" in xml
        assert conn.domain_xml_to_native("xen-xm", xml).endswith('disk = [ "qemu:/srv/pv.img,xvda,w" ]\n')


def test_libxl_json_uses_libxls_shadow_memory_and_refuses_unmapped(tmp_path: Path) -> None:
    """Without the test mock, shadow memory is libxl's formula: 4 KiB x (256 per vCPU + 2 per MiB)."""
    from pyvirt_xen.from_native import xl_to_domain_xml
    from pyvirt_xen.libxl_json import LibxlHost, domain_xml_to_libxl_json

    xml = xl_to_domain_xml(PV_CFG)
    config = json.loads(domain_xml_to_libxl_json(xml, LibxlHost(numa_nodes=1, cpu_flags=frozenset())))
    assert config["b_info"]["shadow_memkb"] == 4 * (256 * 2 + 2 * 256)
    assert config["b_info"]["max_memkb"] == 262144 and config["b_info"]["avail_vcpus"] == [0, 1]
    assert config["b_info"]["type.pv"] == {"kernel": "/boot/vmlinuz", "cmdline": "console=hvc0"}
    assert config["disks"] == [{"pdev_path": "/srv/pv.img", "vdev": "xvda", "backend": "qdisk", "format": "raw",
                                "removable": 1, "readwrite": 1}]  # fmt: skip
    assert "on_crash" not in config and config["on_reboot"] == "restart"
    with pytest.raises(Error) as err:
        domain_xml_to_libxl_json(
            xml.replace("</devices>", "<parallel type='pty'><target port='0'/></parallel></devices>")
        )
    assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED
    cfg = tmp_path / "pv.xml"
    cfg.write_text(xml)
    out = _run("to-libxl-json", str(cfg))
    assert out.returncode == 0 and json.loads(out.stdout)["c_info"] == {
        "type": "pv",
        "name": "pv",
        "uuid": "c7a5fdb2-cdaf-9455-926a-d65c16db1809",
    }
