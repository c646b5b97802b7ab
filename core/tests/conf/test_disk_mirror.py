"""``<mirror>`` of a disk under a block copy: live XML only, read in libvirt's old and new forms.

libvirt keeps a mirror only when it parses live XML (a status file after a
daemon restart) and drops it from a user's definition and from inactive
output; the old form (``file``/``format`` attributes, no ``type``) is read as
the new one and a file copy is always written in both
(virDomainDiskDefMirrorParse / virDomainDiskDefFormatMirror).
"""

from __future__ import annotations

import pytest

from pyvirt.conf.domain import format_domain, parse_domain
from pyvirt.errors import ErrorCode, XMLError

GUEST = """<domain type='qemu'><name>m</name><memory>65536</memory><os><type>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/a.img'/>{}
<target dev='vda' bus='virtio'/></disk></devices></domain>"""


def _disk(text: str) -> str:
    return text[text.index("<disk") : text.index("</disk>")]


def test_old_form_is_read_as_the_new_and_written_in_both() -> None:
    dom = parse_domain(GUEST.format("<mirror file='/c.img' format='qcow2' ready='yes'/>"), live=True)
    disk = _disk(format_domain(dom))
    assert (
        "<mirror type='file' file='/c.img' format='qcow2' job='copy' ready='yes'>\n"
        "        <format type='qcow2'/>\n        <source file='/c.img'/>\n      </mirror>"
    ) in disk


def test_new_form_of_a_block_copy_gets_no_old_attributes() -> None:
    mirror = "<mirror type='block' job='copy'><format type='raw'/><source dev='/dev/sdz' index='3'/></mirror>"
    disk = _disk(format_domain(parse_domain(GUEST.format(mirror), live=True)))
    assert "<mirror type='block' job='copy'>\n        <format type='raw'/>\n" in disk
    assert "<source dev='/dev/sdz' index='3'/>" in disk


def test_a_copy_to_a_network_image_keeps_its_protocol_export_and_server() -> None:
    """A status file read again after a daemon restart still knows where an NBD copy goes."""
    mirror = ("<mirror type='network' job='copy' ready='yes'><format type='qcow2'/>"
              "<source protocol='nbd' name='exp' tls='no' index='2'><host name='127.0.0.1' port='10809'/></source>"
              "<backingStore/></mirror>")  # fmt: skip
    disk = _disk(format_domain(parse_domain(GUEST.format(mirror), live=True)))
    assert (
        "<mirror type='network' job='copy' ready='yes'>\n        <format type='qcow2'/>\n"
        "        <source protocol='nbd' name='exp' tls='no' index='2'>\n          <host name='127.0.0.1' port='10809'/>\n"
        "        </source>\n        <backingStore/>\n      </mirror>"
    ) in disk


def test_a_definition_and_inactive_output_have_no_mirror() -> None:
    text = GUEST.format("<mirror type='file' file='/c.img' job='copy'><source file='/c.img'/></mirror>")
    assert "<mirror" not in format_domain(parse_domain(text)), "a user's definition: ignored, as libvirt does"
    assert "<mirror" not in format_domain(parse_domain(text, live=True), 2)  # VIR_DOMAIN_XML_INACTIVE


@pytest.mark.parametrize(
    ("mirror", "message"),
    [
        ("<mirror format='qcow2'/>", "mirror requires file name"),
        ("<mirror file='/c.img' job='active-commit'/>", "mirror without type only supported by copy job"),
    ],
)
def test_old_form_refusals(mirror: str, message: str) -> None:
    with pytest.raises(XMLError) as exc:
        parse_domain(GUEST.format(mirror), live=True)
    assert exc.value.code == ErrorCode.XML_ERROR and message in str(exc.value)
