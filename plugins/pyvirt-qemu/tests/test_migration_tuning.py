"""``migrate-setmaxdowntime`` / ``migrate-getmaxdowntime`` (virDomainMigrateSetMaxDowntime / GetMaxDowntime).

The limit is QEMU's ``downtime-limit`` migration parameter, so the story is
told three ways with the same command line: Debian's virsh against a private
libvirtd 9.0, pyvirsh against pyvirtd, and Debian's virsh against pyvirtd
(libvirt's RPC procedures 166 and 387 on the wire). The outputs must match:
the default QEMU reports, a value set and read back, virsh's own refusals (0,
a sign, a word), QEMU's ceiling, and the refusals for a guest that does not
run. pyvirt's value is also read from the guest's QEMU itself, so the test
sees the parameter really changed there, not only in an answer.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest


def _hosts() -> ModuleType:
    """migration_hosts beside this file (the suite imports test files by path, not from sys.path)."""
    spec = importlib.util.spec_from_file_location("pyvirt_qemu_tests_migration_hosts",
                                                  Path(__file__).parent / "migration_hosts.py")  # fmt: skip
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


Host = _hosts().Host

FIRMWARE_GUEST = """<domain type='{virt}'><name>tune</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices/></domain>"""

LINE = ("define {xml}; migrate-getmaxdowntime tune; start tune; migrate-getmaxdowntime tune; "
        "migrate-setmaxdowntime tune 0; migrate-setmaxdowntime tune -5; migrate-setmaxdowntime tune 12abc; "
        "migrate-setmaxdowntime tune 7; migrate-getmaxdowntime tune; migrate-setmaxdowntime tune 2000000; "
        "migrate-getmaxdowntime tune; migrate-setmaxdowntime nosuch 5")  # fmt: skip


def _run(argv: list[str]) -> tuple[str, str, int]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=180, env=dict(os.environ, LC_ALL="C"),
                          check=False)  # fmt: skip
    return done.stdout, done.stderr, done.returncode


def _qmp_downtime(host: Host) -> int:  # type: ignore[valid-type]
    """``downtime-limit`` as the guest's QEMU itself reports it, over its own monitor socket; QEMU serves one
    monitor client, so the daemon steps aside meanwhile (its guests run on without it, and the next daemon
    reconnects to them)."""
    host.daemon.stop()
    monitor = host.run_dir / "tune.monitor"
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(monitor))
        reader = s.makefile("rb")
        reader.readline()  # the greeting
        for cmd in ("qmp_capabilities", "query-migrate-parameters"):
            s.sendall(json.dumps({"execute": cmd}).encode())
            while "return" not in (reply := json.loads(reader.readline())):
                continue  # (an event)
    host.restart()
    return int(reply["return"]["downtime-limit"])


def test_max_downtime_as_libvirt_sets_and_reads_it(
    tmp_path: Path, virt_type: str, request: pytest.FixtureRequest
) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to run pyvirtd's qemu:///system and libvirtd")
    uri = request.getfixturevalue("shared_libvirtd")  # after the root check: libvirtd needs root too
    xml = tmp_path / "tune.xml"
    xml.write_text(FIRMWARE_GUEST.format(virt=virt_type))
    line = LINE.format(xml=xml)
    theirs = _run(["virsh", "-c", uri, line])
    _run(["virsh", "-c", uri, "destroy tune; undefine tune"])
    host = Host(tmp_path / "pyvirt").start()
    try:
        ours = _run([sys.executable, "-m", "pyvirt.cli.main", "-c", host.uri, line])
        assert _qmp_downtime(host) == 2000000  # QEMU itself holds the last value set
        _run(["virsh", "-c", host.uri, "destroy tune; undefine tune"])
        wire = _run(["virsh", "-c", host.uri, line])  # Debian's virsh through pyvirtd's RPC procedures
        _run(["virsh", "-c", host.uri, "destroy tune; undefine tune"])
    finally:
        host.close()
    # what libvirt 9.0 answered: QEMU's 300 ms default, 7 read back, virsh's refusals, QEMU's ceiling taken
    assert re.findall(r"^\d+$", theirs[0], re.M) == ["300", "7", "2000000"], theirs
    for name, got in (("pyvirsh", ours), ("virsh via pyvirtd", wire)):
        assert got[0].splitlines() == theirs[0].splitlines(), (name, got, theirs)
        assert got[1].splitlines() == theirs[1].splitlines(), (name, got, theirs)
        assert got[2] == theirs[2], (name, got, theirs)
