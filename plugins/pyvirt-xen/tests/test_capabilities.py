"""The capabilities document from ``xl info -n``, in the shape of libvirt's libxlMakeCapabilities."""

from __future__ import annotations

import pytest
from pyvirt_xen.capabilities import capabilities_xml, nested_virt_feature, parse_xen_caps

from pyvirt.errors import Error

# what xl 4.17 prints on the nested Xen the in-dom0 tests boot (QEMU/TCG, -smp 2, no VMX: PV guests only),
# with an HVM-capable xen_caps put in to show the HVM and PVH guests
XL_INFO_N = """host                   : dom0
release                : 6.1.0-28-amd64
machine                : x86_64
nr_cpus                : 2
max_cpu_id             : 1
nr_nodes               : 1
cores_per_socket       : 2
threads_per_core       : 1
cpu_mhz                : 2495.998
hw_caps                : 078bfbfd:f6b82203:2191cbf5:00000123:0000000f:009c07ab:00000000:00000100
virt_caps              :
total_memory           : 1535
free_memory            : 730
cpu_topology           :
cpu:    core    socket     node
  0:       0        0        0
  1:       1        0        0
device topology        :
device           node
No device topology data available
numa_info              :
node:    memsize    memfree    distances
   0:      1535        730      10
xen_major              : 4
xen_minor              : 17
xen_extra              : .3-pre
xen_caps               : xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64
xen_scheduler          : credit2
xend_config_format     : 4
"""


def test_guests_follow_xen_caps_as_libvirt_merges_them() -> None:
    guests = parse_xen_caps("xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64 bogus-1")
    assert [(g.os_type, g.arch, g.machine, g.features) for g in guests] == [
        ("xen", "x86_64", "xenpv", []),
        ("hvm", "i686", "xenfv", ["nonpae", "pae"]),
        ("xenpvh", "i686", "xenpvh", []),
        ("hvm", "x86_64", "xenfv", []),
        ("xenpvh", "x86_64", "xenpvh", []),
    ]


def test_capabilities_document() -> None:
    xml = capabilities_xml(XL_INFO_N)
    assert xml.startswith("<capabilities>\n\n  <host>\n    <cpu>\n      <arch>x86_64</arch>\n      <features>\n"
                          "        <pae/>\n")  # fmt: skip
    assert (
        """      <cells num='1'>
        <cell id='0'>
          <memory unit='KiB'>1571840</memory>
          <distances>
            <sibling id='0' value='10'/>
          </distances>
          <cpus num='2'>
            <cpu id='0' socket_id='0' die_id='0' core_id='0' siblings='0'/>
            <cpu id='1' socket_id='0' die_id='0' core_id='1' siblings='1'/>
          </cpus>
        </cell>
      </cells>"""
        in xml
    )
    assert (
        """  <guest>
    <os_type>xen</os_type>
    <arch name='x86_64'>
      <wordsize>64</wordsize>
      <emulator>/usr/lib/xen-4.17/bin/qemu-system-i386</emulator>
      <machine>xenpv</machine>
      <domain type='xen'/>
    </arch>
  </guest>"""
        in xml
    )
    assert (
        """  <guest>
    <os_type>hvm</os_type>
    <arch name='i686'>
      <wordsize>32</wordsize>
      <emulator>/usr/lib/xen-4.17/bin/qemu-system-i386</emulator>
      <loader>/usr/lib/xen-4.17/boot/hvmloader</loader>
      <machine>xenfv</machine>
      <domain type='xen'/>
    </arch>
    <features>
      <pae/>
      <nonpae/>
      <acpi default='on' toggle='yes'/>
      <apic default='on' toggle='no'/>
      <hap default='on' toggle='yes'/>
    </features>
  </guest>"""
        in xml
    )
    assert xml.count("<os_type>xenpvh</os_type>") == 2


def test_output_without_the_numa_tables_is_refused() -> None:
    with pytest.raises(Error) as err:
        capabilities_xml(XL_INFO_N.split("cpu_topology", maxsplit=1)[0] + "xen_major : 4\nxen_minor : 17\n")
    assert "cannot parse the output of 'xl info -n'" in err.value.message


@pytest.mark.parametrize(
    ("hw_caps", "feature"),
    [
        # the nested dom0 under QEMU's qemu64 (AMD's svm, no vmx): libvirt 9.0's driver there disables svm
        ("178bf3fd:c0002001:20100800:00000007:00000000:00000000:00000000:00000000", "svm"),
        # an Intel host (VMX, CPUID 1 ECX bit 5)
        ("bfebfbff:7ffafbbf:2c100800:00000121:0000000f:009c6fbf:00000000:00000100", "vmx"),
        # neither (XL_INFO_N's host), and no words at all: libvirt's default
        ("078bfbfd:f6b82203:2191cbf5:00000123:0000000f:009c07ab:00000000:00000100", "vmx"),
        ("", "vmx"),
    ],
)
def test_nestedhvm_disables_the_hosts_own_virtualisation_feature(hw_caps: str, feature: str) -> None:
    assert nested_virt_feature(hw_caps) == feature
