"""Monitoring a domain through pyvirtd: Debian's virsh and pyvirsh as its clients, libvirt's test driver as oracle.

virsh's domblkerror asks for the count first (a zero-sized buffer) and then
for the errors; pyvirsh asks once with the wire's largest buffer: both
shapes of DOMAIN_GET_DISK_ERRORS (and of the tunables' GET procedures) must
answer as libvirtd does. The read-only socket answers the reads and refuses
the tunables' changes (remote_protocol.x's ``domain:read`` / ``domain:write``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from pyvirt.daemon.instance import PrivateDaemon

pytestmark = pytest.mark.skipif(shutil.which("virsh") is None, reason="Debian's virsh (libvirt-clients) is needed")

PYVIRSH = [sys.executable, "-m", "pyvirt.cli.main"]
# every state domcontrol can print, then the not-running errors; the guest clock and the domain's state come back
# to where they started, so the next client sees the same
SCRIPT = [
    "domblkerror test", "domcontrol test", "domblkerror nosuch", "cpu-stats test", "cpu-stats test --start 1",
    "cpu-stats test --count 3", "cpu-stats test --start 2",
    "domtime test --time 42", "domcontrol test", "domtime test --time 12345", "domcontrol test",
    "domtime test --time 30001", "domcontrol test", "domtime test --time 30000", "domcontrol test",
    "domtime test --time 627319920", "domcontrol test",
    "destroy test", "domblkerror test", "domcontrol test", "cpu-stats test", "start test", "domblkerror test",
    # tunables: virsh asks the count, then the values; the persistent and running definitions apart
    "blkiotune test", "blkiotune test --weight 300 --device-weights /dev/sda,10 --device-read-bytes-sec /dev/sdb,5",
    "blkiotune test --config --weight 200", "blkiotune test", "blkiotune test --config",
    "blkiotune test --device-weights /dev/sda,x", "blkiotune test --live --config",
    "memtune test", "memtune test --hard-limit 1G --swap-hard-limit 2G", "memtune test",
    "memtune test --config", "memtune test --hard-limit 3G", "memtune test --min-guarantee 1",
    "numatune test", "numatune test --nodeset 0-1", "numatune test --mode interleave", "numatune test",
    "numatune test --config --mode preferred --nodeset 1", "numatune test --config", "numatune test --live --config",
    "perf test --enable cmt,cpu_cycles --disable mbmt", "perf test --config --enable instructions", "perf test",
    "perf test --config", "perf test --enable bogus",
    "destroy test", "blkiotune test --live", "memtune test --live", "numatune test --live", "memtune test",
    "perf test --live", "perf test",
    "set-lifecycle-action test crash preserve --config", "dumpxml test --inactive --xpath //on_crash",
    "set-lifecycle-action test reboot coredump-destroy", "send-process-signal test 1 sigterm",
    "send-process-signal test 2 kill", "send-process-signal test 0 kill", "set-user-password test root x",
    "domlaunchsecinfo test", "domiftune test testnet0 --inbound 100,200,300 --outbound 50",
    "domiftune test aa:bb:cc:dd:ee:ff", "domiftune test testnet0 --config", "domiftune test vnet0",
    "domiftune test testnet0 --live --config", "blkdeviotune test vda",
    "blkdeviotune test vda --total-bytes-sec 1K --total-bytes-sec-max 2K --group-name g1", "blkdeviotune test vda",
    "blkdeviotune test vdb", "blkdeviotune test vda --live --config", "blkdeviotune test vda --read-bytes-sec 1",
    "start test",
]  # fmt: skip
READ_ONLY_SCRIPT = ["domblkerror test", "domcontrol test", "cpu-stats test", "blkiotune test", "memtune test", "numatune test",
                    "perf test", "blkiotune test --weight 5", "memtune test --hard-limit 5", "numatune test --nodeset 0",
                    "perf test --enable cmt", "domlaunchsecinfo test", "send-process-signal test 1 kill",
                    "domiftune test testnet0", "domiftune test testnet0 --inbound 5", "blkdeviotune test vda",
                    "blkdeviotune test vda --size-iops-sec 5"]  # fmt: skip


def _run(tool: list[str], uri: str, lines: list[str]) -> tuple[str, str, int]:
    env = dict(os.environ, LC_ALL="C")
    env.pop("LIBVIRT_DEFAULT_URI", None)
    p = subprocess.run([*tool, "-c", uri, "; ".join(lines)], capture_output=True, text=True, env=env, timeout=120,
                       check=False)  # fmt: skip
    return p.stdout, p.stderr, p.returncode


def test_virsh_and_pyvirsh_through_pyvirtd_see_libvirts_test_driver(pyvirtd: PrivateDaemon) -> None:
    expected = _run(["virsh"], "test:///default", SCRIPT)
    assert "background job (0.042s)" in expected[0] and "error: internal (locking) error" not in expected[0]
    assert "occupied (2.345s)" in expected[0] and "vda: unspecified error" in expected[0]
    assert _run(["virsh"], pyvirtd.uri(), SCRIPT) == expected
    assert _run(PYVIRSH, pyvirtd.uri(), SCRIPT) == expected


def test_read_only_clients_may_ask(pyvirtd: PrivateDaemon) -> None:
    expected = _run(["virsh", "-r"], "test:///default", READ_ONLY_SCRIPT)
    assert expected[0].startswith("vda: unspecified error\n\nok\n\nCPU0:\n")
    assert expected[1] == (
        "error: Unable to change blkio parameters\n"
        "error: operation forbidden: read only access prevents virDomainSetBlkioParameters\n"
        "error: Unable to change memory parameters\n"
        "error: operation forbidden: read only access prevents virDomainSetMemoryParameters\n"
        "error: Unable to change numa parameters\n"
        "error: operation forbidden: read only access prevents virDomainSetNumaParameters\n"
        "error: Unable to enable/disable perf events\n"
        "error: operation forbidden: read only access prevents virDomainSetPerfEvents\n"
        "error: Unable to get launch security parameters\n"
        "error: operation forbidden: read only access prevents virDomainGetLaunchSecurityInfo\n"
        "error: operation forbidden: read only access prevents virDomainSendProcessSignal\n"
        "error: Unable to set interface parameters\n"
        "error: operation forbidden: read only access prevents virDomainSetInterfaceParameters\n"
        "error: Unable to change block I/O throttle\n"
        "error: operation forbidden: read only access prevents virDomainSetBlockIoTune\n"
    )
    assert _run(["virsh", "-r"], pyvirtd.uri(read_only=True), READ_ONLY_SCRIPT) == expected
    assert _run([*PYVIRSH, "-r"], pyvirtd.uri(read_only=True), READ_ONLY_SCRIPT) == expected
