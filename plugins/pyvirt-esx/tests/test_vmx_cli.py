"""``python -m pyvirt_esx.vmx``: the conversions without a host, as a user runs them from a shell."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

VMX = """config.version = "8"
virtualHW.version = "7"
displayName = "web 1"
guestOS = "other26xlinux-64"
memsize = "512"
numvcpus = "2"
scsi0.present = "true"
scsi0.virtualDev = "pvscsi"
scsi0:0.present = "true"
scsi0:0.deviceType = "scsi-hardDisk"
scsi0:0.fileName = "/vmfs/volumes/ds1/web/web.vmdk"
ide0:0.present = "true"
ide0:0.deviceType = "cdrom-image"
ide0:0.fileName = "boot.iso"
ethernet0.present = "true"
ethernet0.virtualDev = "vmxnet3"
ethernet0.networkName = "VM Network"
ethernet0.addressType = "static"
ethernet0.address = "00:50:56:01:02:03"
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyvirt_esx.vmx", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_to_xml_then_back(tmp_path: Path) -> None:
    """A VMX file becomes domain XML (datastore paths by name), and that XML becomes the same VMX entries again."""
    vmx = tmp_path / "web.vmx"
    vmx.write_text(VMX)
    converted = run("to-xml", "--vmx-directory", "[ds1] web", str(vmx))
    assert converted.returncode == 0, converted.stderr
    xml = converted.stdout
    assert "<source file='[ds1] web/web.vmdk'/>" in xml
    assert "<source file='[ds1] web/boot.iso'/>" in xml
    assert "<controller type='scsi' index='0' model='vmpvscsi'/>" in xml
    assert "<type arch='x86_64'>hvm</type>" in xml and "<name>web 1</name>" in xml
    domain = tmp_path / "web.xml"
    domain.write_text(xml)
    back = run("from-xml", "--hw-version", "7", str(domain))
    assert back.returncode == 0, back.stderr
    lines = set(back.stdout.splitlines())
    for line in ('scsi0.virtualDev = "pvscsi"', 'scsi0:0.fileName = "/vmfs/volumes/ds1/web/web.vmdk"',
                 'ide0:0.fileName = "/vmfs/volumes/ds1/web/boot.iso"', 'ethernet0.address = "00:50:56:01:02:03"',
                 'numvcpus = "2"', 'memsize = "512"', 'guestOS = "other-64"', 'vmci0.present = "true"'):  # fmt: skip
        assert line in lines, back.stdout
    assert back.stderr == ""


def test_bare_file_name_needs_the_vmx_directory(tmp_path: Path) -> None:
    vmx = tmp_path / "web.vmx"
    vmx.write_text(VMX)
    result = run("to-xml", str(vmx))
    assert result.returncode == 1 and result.stdout == ""
    assert "Cannot place the file name 'boot.iso'" in result.stderr


def test_what_vmx_cannot_hold_is_refused_by_name(tmp_path: Path) -> None:
    """A sound card has no VMX key libvirt writes: refused naming it, never dropped."""
    xml = tmp_path / "d.xml"
    xml.write_text("<domain type='vmware'><name>a</name><memory>4096</memory><os><type>hvm</type></os>"
                   "<devices><sound model='es1370'/></devices></domain>")  # fmt: skip
    result = run("from-xml", str(xml))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == (
        "error: unsupported configuration: 'domain/devices/sound' cannot be expressed in a VMX file"
    )


def test_vmx_syntax_error_names_the_line(tmp_path: Path) -> None:
    vmx = tmp_path / "bad.vmx"
    vmx.write_text('config.version = "8"\nmemsize = 512\n')
    result = run("to-xml", str(vmx))
    assert result.returncode == 1
    assert "(VMX):2: numbers not allowed in VMX format" in result.stderr


def test_missing_file_is_an_error_on_stderr(tmp_path: Path) -> None:
    result = run("to-xml", str(tmp_path / "nope.vmx"))
    assert result.returncode == 1 and "cannot read" in result.stderr
