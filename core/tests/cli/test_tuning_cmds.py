"""blkiotune, memtune, numatune, perf, domiftune and blkdeviotune on test:///default, byte for byte as Debian's virsh 9.0 (stdout, stderr, exit status).

The lines set values and read them back through ``--config``/``--live`` and
``dumpxml``, so what libvirt's test driver keeps (and where: the running
definition or the persistent one) is compared along with what it prints.
Each refusal comes from where virsh's comes: virsh's own option parsing, the
library's flag check ("Unable to get number of ..."), the driver's parsing
of device lists (whose failure still applies the other values, as libvirt's
loop does) and its limits check.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from virsh_compare import PYVIRSH, SKIP_WITHOUT_VIRSH, VIRSH, run_line

import pyvirt
from pyvirt.errors import ErrorCode
from pyvirt.plugin.typed_params import TypedParam, TypedParamType

pytestmark = pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)


@pytest.mark.parametrize(
    "line",
    [
        "blkiotune test",
        "blkiotune test --weight 500 --device-weights /dev/sda,300; blkiotune test",
        "blkiotune test --weight 500 --config; blkiotune test --config; blkiotune test --live",
        "blkiotune test --device-weights /dev/sda,10,/dev/sdb,20 --device-read-iops-sec /dev/sdb,5 --weight 9; "
        "blkiotune test --device-weights /dev/sda,0; blkiotune test; dumpxml test",
        "blkiotune test --device-write-iops-sec /dev/sda,7 --device-read-bytes-sec /dev/sda,18446744073709551615,"
        "/dev/sdb,+7 --device-write-bytes-sec /dev/sdc,1; blkiotune test",
        "destroy test; blkiotune test --weight 3; blkiotune test; blkiotune test --live",
        "blkiotune test --weight 3 --config --live",
        "blkiotune test --live --config",
        "blkiotune test --current --config",
        "blkiotune nosuch --weight 5",
        "blkiotune test --weight x",
        "blkiotune test --weight -1",
        "blkiotune test --weight 4294967295",
        "blkiotune test --device-weights ''",
        "blkiotune test --device-weights /dev/sda",
        "blkiotune test --device-weights /dev/sda,1,/dev/sdb",
        "blkiotune test --device-weights /dev/sda,1x",
        "blkiotune test --device-weights /dev/sda,x,/dev/sdb,1",
        "blkiotune test --device-read-bytes-sec /dev/sda,-1",
        "blkiotune test --device-read-iops-sec /dev/sda,4294967296",
        "blkiotune test --weight 7 --device-weights /dev/sda,x; blkiotune test",
        "memtune test",
        "memtune test --hard-limit 1G --soft-limit 512M; memtune test; dumpxml test",
        "memtune test --hard-limit 1500b --swap-hard-limit 2KB; memtune test",
        "memtune test --hard-limit 100; memtune test --swap-hard-limit -1; memtune test; dumpxml test",
        "memtune test --hard-limit 100 --swap-hard-limit 50",
        # the limits check reads the running definition, even for --config
        "memtune test --swap-hard-limit 200; memtune test --config --hard-limit 300",
        "memtune test --config --hard-limit 5; memtune test --config; memtune test",
        "destroy test; memtune test --live",
        "destroy test; memtune test --hard-limit 7; memtune test",
        "memtune test --live --config",
        "memtune test --min-guarantee 5",
        "memtune test --hard-limit x",
        "memtune test --hard-limit ''",
        "memtune test --hard-limit 1Q",
        "memtune test --hard-limit '5 G'",
        "memtune test --hard-limit 9007199254740992",
        "memtune test --hard-limit 8E",
        "memtune test --hard-limit 9007199254740991; memtune test; dumpxml test",
        "numatune test",
        "numatune test --mode interleave",  # a static vCPU placement needs a node set
        "numatune test --nodeset 0-1; numatune test; dumpxml test",
        "numatune test --mode preferred --nodeset 1 --config; numatune test --config; dumpxml test --inactive",
        "numatune test --mode 0x2 --nodeset 0; numatune test --mode 010 --nodeset 0; numatune test",
        "numatune test --nodeset 1; numatune test --mode interleave; numatune test --nodeset 0,1; numatune test",
        "destroy test; numatune test --mode restrictive --nodeset 0; numatune test; dumpxml test",
        "numatune test --mode 7",
        "numatune test --mode -1",
        "numatune test --mode bogus",
        "numatune test --mode ''",
        "numatune test --nodeset ''",
        "numatune test --nodeset x",
        "numatune test --nodeset 0,^0",
        "numatune test --nodeset 99999",
        "numatune test --live --config",  # refused by the driver, in the second call
        "numatune test --current --live",
        "destroy test; numatune test --live",
        "perf test",
        "perf test --enable ,cmt,,cpu_cycles; perf test",
        "perf test --enable cmt,instructions --disable mbmt --config; perf test --config; perf test; "
        "dumpxml test --inactive; dumpxml test",
        "perf test --enable cmt; perf test --disable cmt; dumpxml test",
        "perf test --quiet --enable cmt",  # both listings are virsh's "extra" output
        "perf test --enable cmt --disable cmt",
        "perf test --enable bogus",
        "perf test --enable ''",
        "perf nosuch --disable ''",  # the empty value is refused before the lookup
        "perf test --live --config",
        "destroy test; perf test --live",
        "domiftune test testnet0; domiftune test AA:BB:CC:DD:EE:FF",
        "domiftune test testnet0 --inbound 100,200,300 --outbound 50; domiftune test testnet0; "
        "dumpxml test --xpath //interface",
        "domiftune test testnet0 --inbound 100 --outbound 10; domiftune test testnet0 --outbound 0,5; "
        "dumpxml test --xpath //interface",
        "domiftune test testnet0 --inbound ,,,40; domiftune test testnet0; dumpxml test --xpath //interface",
        "domiftune test testnet0 --inbound 100 --config; domiftune test testnet0 --config; "
        "domiftune test testnet0 --live; dumpxml test --inactive --xpath //interface",
        "destroy test; domiftune test testnet0 --inbound 7; domiftune test testnet0",
        "domiftune test vnet0",
        "domiftune test vnet0 --inbound 5",
        "domiftune test testnet0 --inbound 1,2,3,4,5",
        "domiftune test testnet0 --inbound -1",
        "domiftune test testnet0 --inbound 4294967296",
        "domiftune test testnet0 --inbound 0,5",
        "domiftune test testnet0 --outbound 0,5",
        "domiftune test testnet0 --outbound 5,0,0,5",
        "domiftune test testnet0 --inbound ''",
        "domiftune test testnet0 --live --config",
        "destroy test; domiftune test testnet0 --live",
        "blkdeviotune test vda",
        "blkdeviotune test vda --total-bytes-sec 1K --read-iops-sec 5 --group-name grp",  # no _max: refused
        "blkdeviotune test vda --total-bytes-sec 1K --total-bytes-sec-max 2K --read-iops-sec 5 --read-iops-sec-max 6 "
        "--size-iops-sec 3 --group-name 'g&<1' --total-bytes-sec-max-length 4; blkdeviotune test vda; dumpxml test",
        "blkdeviotune test vda --size_iops_sec 5 --config; blkdeviotune test vda --config; blkdeviotune test vda",
        "blkdeviotune test /guest/diskimage --size-iops-sec 5; blkdeviotune test /guest/diskimage",
        "destroy test; blkdeviotune test vda --size-iops-sec 9; blkdeviotune test vda; dumpxml test",
        "blkdeviotune test vdb",
        "blkdeviotune test vda --total-bytes-sec 5 --read-bytes-sec 5",
        "blkdeviotune test vda --total-iops-sec 5 --write-iops-sec 5 --total-iops-sec-max 9",
        "blkdeviotune test vda --total-bytes-sec 1000000000000001",
        "blkdeviotune test vda --total-bytes-sec x",
        "blkdeviotune test vda --total-bytes-sec 1Q",
        "blkdeviotune test vda --total-bytes-sec 20000000E",
        "blkdeviotune test vda --total-iops-sec -1",
        "blkdeviotune test vda --group-name ''",
        "blkdeviotune test vda --live --config",
        "destroy test; blkdeviotune test vda --live",
        "blkiotune --help; memtune --help; numatune --help; perf --help; domiftune --help; blkdeviotune --help",
    ],
)
def test_like_virsh(line: str) -> None:
    assert VIRSH is not None
    assert run_line(PYVIRSH, line) == run_line([VIRSH], line)


AUTO_VCPUS = """<domain type='test'><name>auto</name><uuid>5b3a1e8e-6c3c-4a55-9b38-0e8b5d6a1f01</uuid>
<memory>8192</memory><vcpu placement='auto'>2</vcpu><os><type>hvm</type></os></domain>"""
AUTO_MEMORY = """<domain type='test'><name>auto2</name><uuid>5b3a1e8e-6c3c-4a55-9b38-0e8b5d6a1f02</uuid>
<memory>8192</memory><vcpu placement='static'>2</vcpu><numatune><memory mode='interleave' placement='auto'/>
</numatune><os><type>hvm</type></os></domain>"""


def test_numa_placement_like_virsh(tmp_path: Path) -> None:
    """With automatic vCPU placement a mode alone is accepted (memory follows numad); a node set makes it static."""
    assert VIRSH is not None
    (tmp_path / "auto.xml").write_text(AUTO_VCPUS)
    (tmp_path / "auto2.xml").write_text(AUTO_MEMORY)
    line = (
        f"define {tmp_path}/auto.xml; numatune auto; numatune auto --mode preferred; numatune auto; dumpxml auto; "
        "numatune auto --nodeset 0; numatune auto; dumpxml auto; "
        f"define {tmp_path}/auto2.xml; numatune auto2; numatune auto2 --nodeset 1; numatune auto2; dumpxml auto2; "
        "start auto2; numatune auto2 --mode strict"
    )
    mine = run_line(PYVIRSH, line)
    assert mine == run_line([VIRSH], line)
    assert "numa_mode      : preferred\nnuma_nodeset   : \n" in mine[0]
    assert "can't change numatune mode for running domain" in mine[1]


def test_the_library_checks_as_libvirts() -> None:
    with pyvirt.open("test:///default") as conn:
        dom = conn.lookup_domain_by_name("test")
        with pytest.raises(pyvirt.Error) as err:
            dom.set_memory_parameters([])
        assert err.value.code == ErrorCode.INVALID_ARG
        assert err.value.message == "nparams in virDomainSetMemoryParameters must be greater than zero"
        with pytest.raises(pyvirt.Error) as err:
            dom.set_blkio_parameters([TypedParam("weight", TypedParamType.ULLONG, 5)])
        assert err.value.message == "invalid argument: invalid type 'ullong' for parameter 'weight', expected 'uint'"
        with pytest.raises(pyvirt.Error) as err:
            dom.set_memory_parameters([TypedParam("hard_limit", TypedParamType.ULLONG, 5)], flags=4)
        assert err.value.message == "unsupported flags (0x4) in function testDomainSetMemoryParameters"
        dom.set_memory_parameters([TypedParam("soft_limit", TypedParamType.ULLONG, 64)])
        assert [(p.field, p.value) for p in dom.memory_parameters()] == [
            ("hard_limit", 9007199254740991), ("soft_limit", 64), ("swap_hard_limit", 9007199254740991),
        ]  # fmt: skip
