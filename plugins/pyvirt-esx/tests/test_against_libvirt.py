"""pyvirsh beside libvirt 9.0's own ESX driver (Debian's virsh) on the same simulated ESX host: same output.

The simulator is the ``vcsim-libvirt`` build (build_vcsim.py): vcsim with
``xsi:type`` on array items and datastore mount paths, which libvirt's SOAP
client needs. Both tools read the same host, so their answers are compared
byte for byte (virsh's own log lines on stderr aside: libvirt warns about
every property of vcsim's replies it does not know).

Known differences, each for a stated reason: ``dominfo``'s Autostart line
(libvirt's esxDomainGetAutostart fails on vcsim, which has no auto-start
manager, and virsh then leaves the line out; pyvirt reports autostart off),
and the ``<uuid>`` of a domain defined here (vcsim registers a VM under a
UUID of its own, not the VMX's ``uuid.bios`` libvirt prints).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_vsphere import domain_xml, prepare_directory
from vcsim import Simulator

import pyvirt

pytestmark = [
    pytest.mark.usefixtures("auth_file"),
    pytest.mark.skipif(shutil.which("virsh") is None, reason="Debian's virsh (libvirt-clients) is the reference"),
]
PYVIRSH = str(Path(sys.executable).with_name("pyvirsh"))
_LIBVIRT_LOG = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\+\d{4}: \d+: (info|warning) : .*\n", re.M)


def run(tool: str, sim: Simulator, *args: str) -> tuple[str, str, int]:
    argv = ["virsh"] if tool == "virsh" else [PYVIRSH]
    env = dict(os.environ, LC_ALL="C")
    p = subprocess.run([*argv, "-c", sim.uri(), *args], capture_output=True, text=True, timeout=120, env=env,
                       check=False)  # fmt: skip
    return p.stdout, _LIBVIRT_LOG.sub("", p.stderr), p.returncode


@pytest.mark.parametrize(
    "command",
    [
        ("list", "--all"),
        ("nodeinfo",),
        ("capabilities",),
        ("hostname",),
        ("domstate", "ha-host_VM1"),
        ("net-list", "--all"),
        ("net-dumpxml", "vSwitch0"),
        ("pool-list", "--all", "--details"),
        ("pool-info", "LocalDS_0"),
        ("pool-dumpxml", "LocalDS_0"),
    ],
)
def test_same_answer_as_libvirts_esx_driver(libvirt_esx_sim: Simulator, command: tuple[str, ...]) -> None:
    theirs = run("virsh", libvirt_esx_sim, *command)
    assert theirs[2] == 0, theirs  # libvirt answers: the comparison means something
    assert run("pyvirsh", libvirt_esx_sim, *command) == theirs


def test_dominfo_like_libvirts(libvirt_esx_sim: Simulator) -> None:
    theirs = run("virsh", libvirt_esx_sim, "dominfo", "ha-host_VM0")
    mine = run("pyvirsh", libvirt_esx_sim, "dominfo", "ha-host_VM0")
    assert theirs[2] == mine[2] == 0
    assert mine[0].replace("Autostart:      disable\n", "") == theirs[0]


def test_interface_xml_like_libvirts(libvirt_esx_sim: Simulator) -> None:
    """libvirt looks an interface's name up as a MAC address (its bug); pyvirt by name: the XML is the same."""
    names = run("pyvirsh", libvirt_esx_sim, "iface-list", "--all")[0]
    device, _, mac = names.splitlines()[2].split()
    theirs = run("virsh", libvirt_esx_sim, "iface-dumpxml", mac)
    assert theirs[2] == 0 and f"name='{device}'" in theirs[0]
    assert run("pyvirsh", libvirt_esx_sim, "iface-dumpxml", device) == theirs


def test_defined_domain_reads_the_same_in_both(libvirt_esx_sim: Simulator) -> None:
    """Defined here (VMX uploaded, VM registered), read by libvirt: the same domain XML, UUID line aside."""
    prepare_directory(libvirt_esx_sim, "both")
    with pyvirt.open(libvirt_esx_sim.uri()) as conn:
        dom = conn.define_domain(domain_xml("both"))
        theirs = run("virsh", libvirt_esx_sim, "dumpxml", "both")
        mine = run("pyvirsh", libvirt_esx_sim, "dumpxml", "both")
        assert theirs[2] == mine[2] == 0, theirs
        assert "<vmware:moref>" in theirs[0]
        uuid_line = re.compile(r"^  <uuid>[0-9a-f-]+</uuid>\n", re.M)
        assert uuid_line.sub("", mine[0]) == uuid_line.sub("", theirs[0])
        # libvirt sees what pyvirt's ReconfigVM_Task changed
        dom.set_max_memory(131072)
        dom.set_vcpus(4)
        dom.set_memory(65536)
        info = run("virsh", libvirt_esx_sim, "dominfo", "both")[0]
        assert "CPU(s):         4\n" in info
        assert "Max memory:     131072 KiB\nUsed memory:    65536 KiB\n" in info
        assert run("virsh", libvirt_esx_sim, "vol-dumpxml", "--pool", "LocalDS_0", "both/both.vmx") == run(
            "pyvirsh", libvirt_esx_sim, "vol-dumpxml", "--pool", "LocalDS_0", "both/both.vmx"
        )  # a file that is neither a disk nor an image: both refuse it the same way
        dom.undefine()
