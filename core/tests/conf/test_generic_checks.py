"""Checks and defaults of libvirt's generic domain parser, with its error codes and words.

Each of these was found by comparing verdicts with libvirt 9.0 on mutated
documents of its own test corpus (``test_libvirt_compare.py``) once more of
that corpus parsed.
"""

from __future__ import annotations

import pytest

from pyvirt.conf.domain import format_domain, parse_domain
from pyvirt.errors import Error, ErrorCode


def _doc(inner: str = "", devices: str = "", features: str = "", cpu: str = "") -> str:
    return (f"<domain type='kvm'><name>t</name><memory unit='KiB'>1048576</memory><vcpu>2</vcpu>{cpu}"
            f"<os><type arch='x86_64'>hvm</type></os><features>{features}</features>{inner}"
            f"<devices>{devices}</devices></domain>")  # fmt: skip


@pytest.mark.parametrize(
    ("xml", "code", "message"),
    [
        (_doc("<iothreadids><iothread id='4'/><iothread id='4'/></iothreadids>"), ErrorCode.XML_ERROR,
         "duplicate iothread id '4' found"),
        (_doc(cpu="<cpu><topology sockets='2' dies='1' cores='2147483648' threads='1'/></cpu>"),
         ErrorCode.CONFIG_UNSUPPORTED, "cpu topology results in more than 4294967295 cpus"),
        (_doc(devices="<console type='pty'><target type='serial'/></console>"
                      "<console type='pty'><target type='serial'/></console>"),
         ErrorCode.CONFIG_UNSUPPORTED, "Only the first console can be a serial port"),
        (_doc("<maxMemory slots='16' unit='KiB'>8388608</maxMemory>",
              cpu="<cpu><numa><cell id='0' cpus='0-1' memory='917504' unit='KiB'/></numa></cpu>",
              devices="<memory model='virtio-mem'><target><size unit='KiB'>131072</size><node>0</node>"
                      "<block unit='KiB'>2048</block><requested unit='KiB'>7</requested></target></memory>"),
         ErrorCode.XML_DETAIL, "requested size must be an integer multiple of block size"),
        (_doc(devices="<interface type='user'><model type='on '/></interface>"), ErrorCode.INVALID_ARG,
         "Model name contains invalid characters"),
        (_doc(features="<tcg><tb-cache unit='on '>128</tb-cache></tcg>"), ErrorCode.INVALID_ARG,
         "unknown suffix 'on '"),
        (_doc(devices="<disk type='file'><driver name='qemu' queues='9223372036854775808'/>"
                      "<source file='/x'/><target dev='vda'/></disk>"), ErrorCode.XML_ERROR,
         "Invalid value for attribute 'queues' in element 'driver'"),
        (_doc(devices="<disk type='file'><driver name='qemu' event_idx='yes'/>"
                      "<source file='/x'/><target dev='vda'/></disk>"), ErrorCode.XML_ERROR,
         "Invalid value for attribute 'event_idx' in element 'driver'"),
    ],
)  # fmt: skip
def test_refused_as_libvirt_refuses(xml: str, code: ErrorCode, message: str) -> None:
    with pytest.raises(Error) as info:
        parse_domain(xml)
    assert info.value.code == code and message in str(info.value)


def test_hyperv_mode_defaults_to_custom() -> None:
    out = format_domain(parse_domain(_doc(features="<hyperv><relaxed state='on'/></hyperv>")), 2)
    assert "<hyperv mode='custom'>" in out
    out = format_domain(parse_domain(_doc(features="<hyperv mode='passthrough'/>")), 2)
    assert "<hyperv mode='passthrough'>\n    </hyperv>" in out  # libvirt opens it even when empty


def test_repeated_hugepages_are_one_list() -> None:
    backing = ("<memoryBacking><hugepages><page size='1048576' unit='KiB' nodeset='0'/></hugepages>"
               "<hugepages><page size='1048576' unit='KiB' nodeset='0'/></hugepages></memoryBacking>")  # fmt: skip
    cpu = "<cpu><numa><cell id='0' cpus='0-1' memory='1048576' unit='KiB'/></numa></cpu>"
    with pytest.raises(Error, match="nodeset attribute of hugepages of sizes 1048576 and 1048576 intersect"):
        parse_domain(_doc(backing, cpu=cpu))


def test_empty_serial_target_model_is_no_model() -> None:
    dom = parse_domain(_doc(devices="<serial type='pty'><target type='isa-serial'><model name=''/></target></serial>"))
    assert dom.devices is not None and len(dom.devices.serials) == 1


def test_a_none_video_is_not_primary() -> None:
    out = format_domain(parse_domain(_doc(devices="<video><model type='none'/></video>")), 2)
    assert "<model type='none'/>" in out


def test_an_empty_numatune_nodeset_is_refused() -> None:
    with pytest.raises(Error) as info:
        parse_domain(_doc("<numatune><memory mode='strict' nodeset='0,^0'/></numatune>"))
    assert info.value.code == ErrorCode.CONFIG_UNSUPPORTED and "Invalid value of 'nodeset': 0,^0" in str(info.value)


def test_a_missing_chardev_path_is_a_validation_error() -> None:
    with pytest.raises(Error) as info:
        parse_domain(_doc(devices="<rng model='virtio'><backend model='egd' type='unix'/></rng>"))
    assert info.value.code == ErrorCode.INTERNAL_ERROR
    assert str(info.value) == "internal error: Missing source path attribute for char device"


def test_node_zero_hugepages_without_numa_are_the_default_size() -> None:
    backing = ("<memoryBacking><hugepages><page size='1048576' unit='KiB'/>"
               "<page size='2048' unit='KiB' nodeset='0'/></hugepages></memoryBacking>")  # fmt: skip
    with pytest.raises(Error, match="two master hugepages detected: 2048 and 1048576"):
        parse_domain(_doc(backing))
    alone = "<memoryBacking><hugepages><page size='2048' unit='KiB' nodeset='0'/></hugepages></memoryBacking>"
    assert "<page size='2048' unit='KiB'/>" in format_domain(parse_domain(_doc(alone)), 2)


def test_a_random_rng_reads_dev_random_unless_told() -> None:
    out = format_domain(parse_domain(_doc(devices="<rng model='virtio'><backend model='random'/></rng>")), 2)
    assert "<backend model='random'>/dev/random</backend>" in out


def test_chardev_ports_are_numbered_after_the_highest() -> None:
    dom = parse_domain(_doc(devices="<serial type='pty'><target port='2'/></serial><serial type='pty'/>"
                                    "<parallel type='pty'/>"))  # fmt: skip
    assert dom.devices is not None
    assert [s.target_port for s in dom.devices.serials] == ["2", "3"]
    assert [p.target_port for p in dom.devices.parallels] == ["0"]


def test_a_disabled_boot_menu_has_no_timeout() -> None:
    xml = _doc().replace("<type arch='x86_64'>hvm</type>", "<type arch='x86_64'>hvm</type><bootmenu enable='no' "
                         "timeout='3000'/>")  # fmt: skip
    assert "<bootmenu enable='no'/>" in format_domain(parse_domain(xml), 2)
