"""The converter's refusals: libvirt's checks with libvirt's codes, and what the VMX cannot hold named."""

from __future__ import annotations

import pytest
from pyvirt_esx.disk_names import disk_name_to_index, index_to_disk_name
from pyvirt_esx.vmx import vmx_to_xml, xml_to_vmx
from pyvirt_esx.vmx_context import host_free_context, parse_mac, parse_uuid
from pyvirt_esx.vmx_file import escape_hex, parse_vmx, unescape_hex

from pyvirt.errors import Error, ErrorCode

HEAD = 'config.version = "8"\nvirtualHW.version = "4"\n'


def to_xml(body: str) -> str:
    return vmx_to_xml(HEAD + body, host_free_context("[ds] dir"))


def domain(devices: str = "", extra: str = "") -> str:
    return (f"<domain type='vmware'><name>t</name><memory>4096</memory><os><type>hvm</type></os>{extra}"
            f"<devices>{devices}</devices></domain>")  # fmt: skip


@pytest.mark.parametrize(
    ("devices", "extra", "named"),
    [
        ("<input type='tablet' bus='usb'/>", "", "'domain/devices/input'"),
        (
            "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1'/><product id='0x2'/></source></hostdev>",
            "",
            "'domain/devices/hostdev'",
        ),
        ("", "<features><acpi/></features>", "'domain/features'"),
        ("", "<on_reboot>destroy</on_reboot>", "'domain/on_reboot' = 'destroy'"),
        ("", "<clock offset='localtime'/>", "'domain/clock/@offset' = 'localtime'"),
        (
            "<disk type='file' device='disk'><driver name='lsilogic' io='native'/><source file='[ds] d/a.vmdk'/>"
            "<target dev='sda' bus='scsi'/></disk>",
            "",
            "'domain/devices/disk/driver/@io'",
        ),
    ],
)
def test_unmapped_xml_is_refused_by_name(devices: str, extra: str, named: str) -> None:
    """libvirt drops these without a word; here the definition is refused, naming what would be lost."""
    with pytest.raises(Error) as err:
        xml_to_vmx(domain(devices, extra), 7, host_free_context())
    assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED
    assert named in err.value.message


def test_libvirt_refusals_keep_libvirts_words() -> None:
    with pytest.raises(Error) as err:
        xml_to_vmx(domain("<graphics type='spice'/>"), 4, host_free_context())
    assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED
    assert err.value.message == "unsupported configuration: Unsupported graphics type 'spice'"
    with pytest.raises(Error) as err:
        xml_to_vmx(domain("<interface type='network'><source network='default'/></interface>"), 4,
                   host_free_context())  # fmt: skip
    assert err.value.message == "unsupported configuration: Unsupported net type 'network'"
    with pytest.raises(Error) as err:
        xml_to_vmx(domain(extra="<vcpu current='1'>2</vcpu>"), 4, host_free_context())
    assert "No support for domain XML entry 'vcpu' attribute 'current'" in err.value.message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('memsize = "13"\n', "Expecting VMX entry 'memsize' to be an unsigned integer (multiple of 4) but found 13"),
        ('numvcpus = "0"\n', "Expecting VMX entry 'numvcpus' to be an unsigned integer greater than 0 but found 0"),
        ('firmware = "bios2"\n', "VMX entry 'firmware' has unknown value 'bios2'"),
        ('scsi0.present = "yes"\n', "Config entry 'scsi0.present' must represent a boolean value (true|false)"),
        (
            'ethernet0.present = "true"\nethernet0.connectionType = "hostonly"\n',
            "No yet handled value 'hostonly' for VMX entry 'ethernet0.connectionType'",
        ),
        ('ethernetX.present = "true"\n', "failed to parse the index of the VMX key 'ethernetX.present'"),
        # libvirt 9.0's VIR_DOMAIN_CPUMASK_LEN is 16384: CPU 16384 is past the bitmap
        ('sched.cpu.affinity = "16384"\n', "VMX entry 'sched.cpu.affinity' contains a 16384, this value is too large"),
    ],
)
def test_vmx_values_libvirt_refuses(body: str, message: str) -> None:
    with pytest.raises(Error) as err:
        to_xml(body)
    assert err.value.code == ErrorCode.INTERNAL_ERROR
    assert err.value.message == f"internal error: {message}"


def test_vmx_without_config_version_is_refused() -> None:
    with pytest.raises(Error) as err:
        vmx_to_xml('virtualHW.version = "4"\n', host_free_context())
    assert "Missing essential config entry 'config.version'" in err.value.message


def test_vmx_reader_is_case_insensitive_and_first_wins() -> None:
    conf = parse_vmx('# comment\nMemSize = "8"\nmemsize = "16" # trailing\n.encoding = "UTF-8"\n')
    assert conf.string("memsize") == "8"
    assert conf.string(".ENCODING") == "UTF-8"


def test_escapes_round_trip() -> None:
    name = 'a|b"c%d/e'
    escaped = escape_hex(escape_hex(name, "|", '"'), "%", "/\\")
    assert escaped == "a|7cb|22c%25d%2fe"
    assert unescape_hex(unescape_hex(escaped, "%", "name"), "|", "name") == name
    with pytest.raises(Error):
        unescape_hex("bad%zz", "%", "name")


def test_encoding_other_than_utf8_is_converted() -> None:
    vmx = (HEAD + '.encoding = "windows-1252"\ndisplayName = "caf\xe9"\n').encode("cp1252")
    assert "<name>café</name>" in vmx_to_xml(vmx, host_free_context())


def test_helpers_follow_libvirt() -> None:
    assert [index_to_disk_name(i, "sd") for i in (0, 25, 26, 701, 702)] == ["sda", "sdz", "sdaa", "sdzz", "sdaaa"]
    assert [disk_name_to_index(n) for n in ("sda", "sdaa", "hdb", "fd", "sda1", "xyz")] == [0, 26, 1, -1, 0, -1]
    assert parse_uuid("50 11 5e 16 9b dc 49 d7-f1 71 53 c4 d7 f9 17 10") == "50115e16-9bdc-49d7-f171-53c4d7f91710"
    assert parse_uuid("50 11") is None
    assert parse_mac("0:50:56:1:2:3") == bytes([0, 0x50, 0x56, 1, 2, 3])
    assert parse_mac("00:50:56:01:02") is None and parse_mac("000:50:56:01:02:03") is None
