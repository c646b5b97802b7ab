"""domfsinfo on QEMU guests: libvirt 9.0's qemuDomainGetFSInfo.

The agent's reply is turned into file systems as libvirt's own test corpus
expects (tests/qemuagenttest.c's guest-get-fsinfo reply, matched against
tests/qemuagentdata/fsinfo.xml: an IDE disk found through its controller's
PCI address, two virtio disks by their own, a file system on no known disk).
Then the refusals on a real QEMU guest (firmware only, so its agent never
connects) print what libvirtd 9.0 prints, through pyvirsh and through
Debian's virsh against pyvirtd.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from pyvirt_qemu.guest_fs_info import fs_info

from pyvirt.conf.domain import parse_domain
from pyvirt.errors import Error, ErrorCode
from pyvirt.testing.sources import libvirt_source

# the suite imports test modules in importlib mode: this directory's helper modules are found through sys.path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from beside_libvirtd import assert_prints_as, run_every_way


def _corpus_reply(src: Path) -> object:
    """The guest-get-fsinfo reply testQemuAgentGetFSInfoCommon queues, read from its C string literals."""
    text = (src / "tests" / "qemuagenttest.c").read_text()
    head = 'qemuMonitorTestAddItem(ret_test, "guest-get-fsinfo",'
    start = text.index(head) + len(head)
    body = text[start : text.index(") < 0)", start)]
    literals = re.findall(r'"((?:[^"\\]|\\.)*)"', body)
    return json.loads("".join(literals).replace('\\"', '"'))["return"]


def test_libvirts_corpus_reply_becomes_libvirts_answer() -> None:
    src = libvirt_source()
    if src is None:
        pytest.skip("libvirt 9.0.0 source unavailable (pyvirt.testing.sources cannot fetch it here)")
    dom = parse_domain((src / "tests" / "qemuagentdata" / "fsinfo.xml").read_text())
    infos = fs_info(_corpus_reply(src), dom)
    assert [(i.mountpoint, i.name, i.fstype, i.dev_aliases) for i in infos] == [
        ("/mnt/disk", "sdb1", "xfs", []),
        ("/opt", "dm-1", "vfat", ["vda", "vdb"]),
        ("/", "sda1", "ext4", ["hdc"]),
    ]


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (None, "guest-get-fsinfo reply was missing return data"),
        ({}, "Malformed guest-get-fsinfo data array"),
        ([{"name": "a", "type": "xfs", "disk": []}], "'mountpoint' missing in reply of guest-get-fsinfo"),
        ([{"mountpoint": "/", "name": "a", "type": "xfs"}], "'disk' missing in reply of guest-get-fsinfo"),
        ([{"mountpoint": "/", "name": "a", "type": "xfs", "disk": [{"bus": 0, "target": 0, "unit": 0}]}],
         "'pci-controller' missing"),
    ],
)  # fmt: skip
def test_a_malformed_reply_fails_in_libvirts_words(reply: object, message: str) -> None:
    dom = parse_domain("<domain type='qemu'><name>x</name><memory>1024</memory><os><type>hvm</type></os></domain>")
    with pytest.raises(Error) as err:
        fs_info(reply, dom)
    assert err.value.code == ErrorCode.INTERNAL_ERROR and err.value.message == f"internal error: {message}"


def guest(virt_type: str, tmp: Path, agent: bool) -> str:
    name = "fsa" if agent else "fsn"
    channel = f"<channel type='unix'><source mode='bind' path='{tmp}/{name}.agent'/>" \
              "<target type='virtio' name='org.qemu.guest_agent.0'/></channel>" if agent else ""  # fmt: skip
    return f"""<domain type='{virt_type}'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type></os><devices>{channel}<memballoon model='none'/></devices></domain>"""


_LINE = ("define {a}; define {n}; domfsinfo fsa; start fsa; start fsn; domfsinfo fsa; domfsinfo fsn; "
         "domfsinfo nosuch; destroy fsa; destroy fsn; undefine fsa; undefine fsn")  # fmt: skip


def test_refusals_print_as_libvirts(qemu_root: Path, tmp_path: Path, virt_type: str, shared_libvirtd: str) -> None:
    (tmp_path / "a.xml").write_text(guest(virt_type, tmp_path, agent=True))
    (tmp_path / "n.xml").write_text(guest(virt_type, tmp_path, agent=False))
    line = _LINE.format(a=tmp_path / "a.xml", n=tmp_path / "n.xml")
    cleanup = "destroy fsa; destroy fsn; undefine fsa; undefine fsn"
    theirs, ours = run_every_way(line, shared_libvirtd, qemu_root, tmp_path / "pyvirtd", cleanup)
    assert "QEMU guest agent is not connected" in theirs[1] and "QEMU guest agent is not configured" in theirs[1]
    assert_prints_as(theirs, **ours)
