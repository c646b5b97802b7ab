"""``<seclabel>`` parsing with libvirt's rules, codes and messages."""

from __future__ import annotations

import pytest

from pyvirt.conf.domain import format_domain, parse_domain
from pyvirt.errors import Error, ErrorCode

BASE = "<domain type='kvm'><name>s</name><memory>1024</memory><os><type>hvm</type></os>{}</domain>"


def labels(xml: str, **kw: object) -> list[tuple[str | None, str | None, bool | None, str | None, str | None]]:
    dom = parse_domain(BASE.format(xml), **kw)  # type: ignore[arg-type]
    return [(s.model, s.type, s.relabel, s.label, s.imagelabel) for s in dom.seclabels or []]


@pytest.mark.parametrize(
    ("xml", "code", "message"),
    [
        ("<seclabel type='dynamic' model='selinux' relabel='no'/>", ErrorCode.CONFIG_UNSUPPORTED,
         "unsupported configuration: dynamic label type must use resource relabeling"),
        ("<seclabel type='none' model='selinux' relabel='yes'/>", ErrorCode.CONFIG_UNSUPPORTED,
         "unsupported configuration: resource relabeling is not compatible with 'none' label type"),
        ("<seclabel type='static' model='selinux'/>", ErrorCode.XML_ERROR, "XML error: security label is missing"),
        ("<seclabel type='dynamic' model='dac'/><seclabel type='dynamic' model='dac'/>", ErrorCode.XML_DETAIL,
         "seclabel for model dac is already provided"),
        ("<seclabel type='dynamic' model='dac'/><seclabel type='dynamic'/>", ErrorCode.XML_ERROR,
         "XML error: missing security model when using multiple labels"),
        ("<seclabel type='bogus' model='dac'/>", ErrorCode.XML_ERROR, "Invalid value for attribute 'type'"),
    ],
)  # fmt: skip
def test_refused_with_libvirts_code_and_message(xml: str, code: ErrorCode, message: str) -> None:
    with pytest.raises(Error) as e:
        parse_domain(BASE.format(xml))
    assert e.value.code == code
    assert message in e.value.message


def test_defaults_and_what_inactive_xml_keeps() -> None:
    assert labels("<seclabel model='selinux'/>") == [("selinux", "dynamic", True, None, None)]
    assert labels("<seclabel type='static' model='selinux'><label>system_u:system_r:svirt_t:s0:c1,c2</label></seclabel>") == [
        ("selinux", "static", False, "system_u:system_r:svirt_t:s0:c1,c2", None)
    ]  # fmt: skip
    generated = ("<seclabel type='dynamic' model='selinux' relabel='yes'><label>system_u:system_r:svirt_t:s0:c1,c2"
                 "</label><imagelabel>system_u:object_r:svirt_image_t:s0:c1,c2</imagelabel></seclabel>")  # fmt: skip
    assert labels(generated) == [("selinux", "dynamic", True, None, None)]  # define drops generated labels
    assert labels(generated, live=True)[0][3:] == ("system_u:system_r:svirt_t:s0:c1,c2",
                                                    "system_u:object_r:svirt_image_t:s0:c1,c2")  # fmt: skip
    with pytest.raises(Error) as e:
        parse_domain(BASE.format("<seclabel type='dynamic' model='selinux'/>"), live=True)
    assert e.value.message == "XML error: security label is missing"


def test_model_none_and_the_hosts_default_model() -> None:
    assert labels("<seclabel type='dynamic' model='none'/>") == [("none", "none", False, None, None)]
    with pytest.raises(Error) as e:
        parse_domain(BASE.format("<seclabel type='dynamic' model='none'/>"), live=True)
    assert e.value.message == "unsupported configuration: unsupported type='dynamic' to model 'none'"
    assert labels("<seclabel type='dynamic'/>", default_sec_model="selinux")[0][0] == "selinux"
    with pytest.raises(Error) as e:
        parse_domain(
            BASE.format("<seclabel type='static'><label>a:b:c:s0</label></seclabel>"), default_sec_model="selinux"
        )
    assert e.value.message == "XML error: missing security model in domain seclabel"


def test_per_device_seclabels_round_trip() -> None:
    xml = BASE.format(
        "<devices><disk type='file' device='disk'><source file='/i.img'><seclabel model='selinux' relabel='no'/>"
        "<seclabel model='dac' relabel='yes'><label>+1:+1</label></seclabel></source>"
        "<target dev='vda' bus='virtio'/></disk></devices>"
    )
    out = format_domain(parse_domain(xml))
    assert "<seclabel model='selinux' relabel='no'/>" in out
    assert "<seclabel model='dac' relabel='yes'>" in out and "<label>+1:+1</label>" in out
