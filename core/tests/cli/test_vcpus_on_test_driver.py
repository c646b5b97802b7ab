"""The test driver beside Debian's virsh 9.0: ``<vcpus>`` states, and a restore that keeps the definition.

libvirt's test driver takes a ``<vcpus>`` list (each vCPU's state) from a
define and from a ``test:///FILE`` node document; its setvcpus puts the first N
vCPUs by id online whatever the list said (virDomainDefSetVcpus), its
vcpuinfo leaves a zeroed "offline" entry for an offline id below the online
count (testDomainGetVcpus). Restoring a saved defined domain, or starting it
from its managed save, runs the image's XML but keeps the persistent
definition changed meanwhile (testDomainRestoreFlags adds it live). Each line
runs through Debian's virsh and pyvirsh; both must print the same.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from virsh_compare import PYVIRSH, SKIP_WITHOUT_VIRSH, VIRSH, run_line

pytestmark = pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)

_DOMAIN = """<domain type='test'><name>tv</name><uuid>5f1e3a4c-2b7d-4e8a-9c61-0d2f4b6a8e12</uuid>
<memory unit='MiB'>64</memory><vcpu current='2'>4</vcpu><vcpus>
<vcpu id='0' enabled='yes' hotpluggable='no' order='1'/><vcpu id='1' enabled='no' hotpluggable='yes'/>
<vcpu id='2' enabled='yes' hotpluggable='yes' order='2'/><vcpu id='3' enabled='no' hotpluggable='yes'/>
</vcpus><os><type>hvm</type></os></domain>"""


def _both(uri: str, line: str) -> tuple[str, str, int]:
    assert VIRSH is not None
    theirs = run_line([VIRSH], line, uri)  # (tried again if virsh's own job watch hangs on test:///)
    assert run_line(PYVIRSH, line, uri) == theirs
    return theirs


def test_vcpus_states_are_taken_and_changed_as_libvirt_does(tmp_path: Path) -> None:
    xml = tmp_path / "tv.xml"
    xml.write_text(_DOMAIN)
    states = "dumpxml tv {} --xpath /domain/vcpus"
    out = _both("test:///default", "; ".join([
        f"define {xml}", "dumpxml tv", "start tv", "vcpucount tv", "vcpuinfo tv", "setvcpus tv 3 --live",
        states.format(""), "setvcpus tv 1 --config", states.format("--inactive"),
        "setvcpus tv 6 --config --maximum", states.format("--inactive"), "setvcpus tv 2 --config --maximum",
        states.format("--inactive"), "vcpucount tv", "vcpupin tv", f"create {xml}",
    ]))  # fmt: skip
    assert "State:          offline" in out[0] and '<vcpu id="1" enabled="yes" hotpluggable="yes"/>' in out[0]
    node = tmp_path / "node.xml"
    node.write_text(f"<node>{_DOMAIN}</node>")
    out = _both(f"test://{node}", "list --all; dumpxml tv; vcpucount tv; vcpuinfo tv; domstats tv --vcpu")
    assert "<vcpus>" in out[0]


def test_restore_keeps_the_persistent_definition(tmp_path: Path) -> None:
    xml = tmp_path / "tk.xml"
    xml.write_text(_DOMAIN.replace("<name>tv", "<name>tk").replace("8e12", "8e13"))
    image = tmp_path / "tk.save"
    line = "; ".join([
        f"define {xml}", "start tk", "setvcpus tk 3 --live", f"save tk {image}", "setvcpus tk 4 --config",
        "desc tk --config --title kept", f"restore {image}", "vcpucount tk", "dumpxml tk --inactive",
        "dumpxml tk", "destroy tk", "dumpxml tk", "start tk", "managedsave tk", "setvcpus tk 1 --config",
        "start tk", "vcpucount tk", "dumpxml tk --inactive",
    ])  # fmt: skip
    assert VIRSH is not None
    theirs = run_line([VIRSH], line)
    image.unlink()
    assert run_line(PYVIRSH, line) == theirs
    assert "current      config         4" in theirs[0] and "<title>kept</title>" in theirs[0]
