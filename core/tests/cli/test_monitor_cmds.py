"""domblkerror, domcontrol and cpu-stats on test:///default, byte for byte as Debian's virsh 9.0 prints them.

libvirt's test driver reports every disk of a running domain in error
(unspecified, no space, unspecified, ... by position) and reads the control
interface's state off the guest clock that ``domtime --time`` sets, so the
lines below reach each state and reason virsh can print. stdout, stderr and
exit status must all be virsh's: scripts read the words and the status.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from virsh_compare import PYVIRSH, SKIP_WITHOUT_VIRSH, VIRSH, run_line

import pyvirt
from pyvirt.errors import ErrorCode

pytestmark = pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)

THREE_DISKS = """<domain type='test'><name>three</name><memory>8192</memory><os><type>hvm</type></os><devices>
<disk type='file' device='disk'><source file='/a.img'/><target dev='vda' bus='virtio'/></disk>
<disk type='file' device='disk'><source file='/b.img'/><target dev='vdb' bus='virtio'/></disk>
<disk type='file' device='disk'><source file='/c.img'/><target dev='sdc' bus='scsi'/></disk>
</devices></domain>"""
NO_DISK = "<domain type='test'><name>bare</name><memory>8192</memory><os><type>hvm</type></os></domain>"


@pytest.mark.parametrize(
    "line",
    [
        "domblkerror test",
        "domblkerror --domain 1",
        "domblkerror nosuch",  # virsh's lookup error
        "shutdown test; domblkerror test",  # not running: the driver's error
        "domblkerror",
        "domcontrol test",
        "domcontrol --domain 6695eb01-f6a4-8304-79aa-97f2502e193f",
        "domcontrol nosuch",
        "destroy test; domcontrol test",
        # the guest clock picks the state: a job for N ms, occupied, error with each reason, ok again
        "domtime test --time 5; domcontrol test; domtime test --time 9999; domcontrol test",
        "domtime test --time 10000; domcontrol test; domtime test --time 29999; domcontrol test",
        "domtime test --time 30000; domcontrol test; domtime test --time 30001; domcontrol test",
        "domtime test --time 30002; domcontrol test; domtime test --time 30003; domcontrol test",
        "domtime test --time 60000; domcontrol test; domtime test --time 0; domcontrol test",
        "cpu-stats test",
        "cpu-stats test --total",
        "cpu-stats test --start 1 --count 1",
        "cpu-stats test --count 5 --start 1",  # more than the host has: virsh's notice, then what there is
        "cpu-stats test --count 0",
        "cpu-stats test --start 5",
        "cpu-stats test --start -1",
        "cpu-stats test --count -1",
        "cpu-stats test --start x",
        "destroy test; cpu-stats test",
        "cpu-stats nosuch",
        "domblkerror --help; domcontrol --help; cpu-stats --help",
    ],
)
def test_like_virsh(line: str) -> None:
    assert VIRSH is not None
    assert run_line(PYVIRSH, line) == run_line([VIRSH], line)


def test_each_disk_and_none_like_virsh(tmp_path: Path) -> None:
    assert VIRSH is not None
    (tmp_path / "three.xml").write_text(THREE_DISKS)
    (tmp_path / "bare.xml").write_text(NO_DISK)
    line = (
        f"define {tmp_path}/three.xml; start three; domblkerror three; "
        f"define {tmp_path}/bare.xml; start bare; domblkerror bare"
    )
    mine = run_line(PYVIRSH, line)
    assert mine == run_line([VIRSH], line)
    assert "vda: unspecified error\nvdb: no space\nsdc: unspecified error\n" in mine[0]
    assert "No errors found" in mine[0]


def test_the_library_answers_and_checks_flags_as_libvirt() -> None:
    with pyvirt.open("test:///default") as conn:
        dom = conn.lookup_domain_by_name("test")
        assert dom.disk_errors() == {"vda": 1}
        assert dom.control_info() == (0, 0, 0)
        for call, function in ((dom.disk_errors, "testDomainGetDiskErrors"),
                               (dom.control_info, "testDomainGetControlInfo")):  # fmt: skip
            with pytest.raises(pyvirt.Error) as err:
                call(2)
            assert err.value.code == ErrorCode.INVALID_ARG
            assert str(err.value.message) == f"unsupported flags (0x2) in function {function}"


def test_cpu_stats_through_the_library() -> None:
    with pyvirt.open("test:///default") as conn:
        dom = conn.lookup_domain_by_name("test")
        assert [[(p.field, p.value) for p in row] for row in dom.cpu_stats()] == [
            [("cpu_time", 48772617035), ("user_time", 5540000000), ("system_time", 6460000000)]
        ]
        assert len(dom.cpu_stats(0, 0)) == 2 and all(row == [] for row in dom.cpu_stats(0, 0))
        assert [row[0].value for row in dom.cpu_stats(0, 128)] == [24386308517, 24386308518]
        for args, message in (((-1, 2), "invalid argument: ncpus must be 1 when start_cpu is -1"),
                              ((-2, 1), "start_cpu in virDomainGetCPUStats must be non-negative"),
                              ((2, 1), "invalid argument: start_cpu 2 larger than maximum of 1")):  # fmt: skip
            with pytest.raises(pyvirt.Error) as err:
                dom.cpu_stats(*args)
            assert (err.value.code, err.value.message) == (ErrorCode.INVALID_ARG, message)


def test_a_read_only_connection_may_ask() -> None:
    with pyvirt.open_readonly("test:///default") as conn:
        dom = conn.lookup_domain_by_name("test")
        assert dom.disk_errors() == {"vda": 1}
        assert dom.control_info()[0] == 0
