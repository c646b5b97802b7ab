"""Definitions on ``xen:///embed``: define, list, dumpxml, undefine, kept on disk as libvirt keeps them.

libvirt's Xen XML defaults are checked with its own data: every xlconfigdata
input the domain models map comes back from define + dumpxml unchanged.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

import pyvirt
from pyvirt.errors import Error, ErrorCode

PV = """<domain type='xen'>
  <name>pv1</name>
  <memory>262144</memory>
  <os><type>linux</type><kernel>/boot/vmlinuz</kernel></os>
  <devices><disk type='file' device='disk'><source file='/srv/pv.img'/><target dev='xvda'/></disk></devices>
</domain>"""


# inputs of xlconfigtest's XML -> xl.cfg cases only: written by hand, without the devices libvirt's driver adds
NOT_FORMATTED_BY_LIBVIRT = frozenset({"test-fullvirt-vnuma-autocomplete.xml", "test-fullvirt-vnuma-nodistances.xml",
                                      "test-fullvirt-vnuma-partialdist.xml"})  # fmt: skip
# an openvswitch <virtualport> without an interfaceid gets a random one when defined, in libvirt as here
# (VIR_VPORT_XML_GENERATE_MISSING_DEFAULTS); xlconfigtest never defines, so its files have none
GAINS_AN_INTERFACEID = frozenset({"test-fullvirt-ovswitch-tagged.xml", "test-fullvirt-ovswitch-trunked.xml"})


def _uri(root: Path) -> str:
    return f"xen:///embed?root={root}"


def test_define_list_dumpxml_undefine(tmp_path: Path) -> None:
    with pyvirt.open(_uri(tmp_path)) as conn:
        dom = conn.define_domain(PV)
        xml = dom.xml_desc()
        assert "<type arch='x86_64' machine='xenpv'>linux</type>" in xml
        assert "<driver type='raw'/>" in xml and "<target dev='xvda' bus='xen'/>" in xml
        assert "<console type='pty'>" in xml and "<memballoon model='xen'/>" in xml
        assert [d.name for d in conn.list_all_domains()] == ["pv1"]
        assert dom.state()[0] == 5  # shut off
        stored = tmp_path / "etc" / "libxl" / "pv1.xml"  # embed roots use libvirt's layout under ROOT
        assert stored.exists()
    with pyvirt.open(_uri(tmp_path)) as conn:  # a later process finds the definition again
        dom = conn.lookup_domain_by_name("pv1")
        assert dom.xml_desc() == xml
        dom.undefine()
        assert conn.list_all_domains() == []
    assert not os.path.exists(stored)


def test_non_xen_domain_is_refused_with_libvirts_words(tmp_path: Path) -> None:
    with pyvirt.open(_uri(tmp_path)) as conn, pytest.raises(Error) as err:
        conn.define_domain(PV.replace("type='xen'", "type='kvm'").replace("<type>linux</type>", "<type>hvm</type>"))
    assert err.value.code == ErrorCode.INVALID_ARG
    assert err.value.message == "invalid argument: could not find capabilities for ostype=hvm domaintype=kvm "


@pytest.mark.skipif(shutil.which("xl") is not None, reason="xl is installed here: starts are tested for real")
def test_start_without_xen_names_the_missing_toolstack_and_leaves_nothing(tmp_path: Path) -> None:
    """On a host without Xen's toolstack a start fails before anything exists (the real starts: test_nested_xen)."""
    with pyvirt.open(_uri(tmp_path)) as conn:
        dom = conn.define_domain(PV)
        with pytest.raises(Error) as err:
            dom.start()
        assert err.value.code == ErrorCode.SYSTEM_ERROR
        assert err.value.message.startswith("Cannot find 'xl' in path")
        assert dom.state() == (5, 0)  # shut off, unknown reason: it never ran
        assert os.listdir(tmp_path / "run" / "libxl") == []  # neither the generated xl.cfg nor a status file


@pytest.mark.skipif(shutil.which("xl") is not None, reason="xl is installed here: starts are tested for real")
def test_a_transient_guest_that_cannot_start_is_not_kept(tmp_path: Path) -> None:
    with pyvirt.open(_uri(tmp_path)) as conn:
        with pytest.raises(Error) as err:
            conn.create_domain(PV)
        assert err.value.code == ErrorCode.SYSTEM_ERROR
        assert conn.list_all_domains() == []


@pytest.mark.parametrize("call", ["destroy", "shutdown", "suspend", "resume"])
def test_calls_on_a_shut_off_domain_are_refused_as_libvirt_refuses_them(tmp_path: Path, call: str) -> None:
    with pyvirt.open(_uri(tmp_path)) as conn:
        dom = conn.define_domain(PV)
        with pytest.raises(Error) as err:
            getattr(dom, call)()
    assert err.value.code == ErrorCode.OPERATION_INVALID
    assert err.value.message == "Requested operation is not valid: domain is not running"


def test_xlconfigdata_inputs_round_trip_through_define(corpus: Path, tmp_path: Path) -> None:
    """libvirt's Xen defaults: each input the models map is already in the form the driver gives back."""
    same, refused = [], []
    with pyvirt.open(_uri(tmp_path)) as conn:
        for path in sorted((corpus / "xlconfigdata").glob("*.xml")):
            xml = path.read_text().replace("/LIBXL_FIRMWARE_DIR", "/usr/lib/xen/boot")
            try:
                dom = conn.define_domain(xml)
            except Error as err:
                assert err.code == ErrorCode.CONFIG_UNSUPPORTED, (path.name, err)
                refused.append(path.name)
                continue
            got = dom.xml_desc(3)  # inactive and secure, as xlconfigtest formats
            if path.name in NOT_FORMATTED_BY_LIBVIRT:
                assert "<controller type='xenbus' index='0'/>" in got and "<memballoon model='xen'/>" in got
            elif path.name in GAINS_AN_INTERFACEID:
                generated = re.search(r"\n +<parameters interfaceid='[0-9a-f-]{36}'/>\n", got)
                assert generated is not None, got
                got = got.replace(generated.group(0), "\n").replace(
                    "<virtualport type='openvswitch'>\n      </virtualport>", "<virtualport type='openvswitch'/>"
                )
                assert got == xml, path.name
            else:
                assert got == xml, path.name
            dom.undefine()
            same.append(path.name)
    assert len(same) >= 48, refused
