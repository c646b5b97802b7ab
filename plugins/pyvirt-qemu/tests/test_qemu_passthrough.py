"""``qemu-monitor-command`` and ``qemu-agent-command`` (libvirt-qemu) against libvirt 9.0's QEMU driver.

A user talks to a running guest's QEMU past libvirt: QMP by name and by a
whole JSON object, with arguments as an object or as ``"key":value`` words,
printed raw, ``--pretty`` (libvirt's yajl indentation, empty containers
included), ``--return-value``; QEMU's own errors come back as its reply; a
human monitor line with ``--hmp``; and virsh's refusals (``--hmp`` with
``--pretty``, a reply without ``return``). The agent command of a guest
without an agent channel is refused in libvirt's words, and virsh's timeout
checks come first. The same line runs with Debian's virsh against a private
libvirtd 9.0, with pyvirsh in-process (``qemu:///embed``), and with Debian's
virsh and pyvirsh against pyvirtd (libvirt-qemu's RPC program, 0x20008087);
the outputs match byte for byte once the message ids (``libvirt-N``, a
counter of each daemon) are set aside.
The guest's log records the taint once, as libvirt's does.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import pyvirt
from pyvirt.errors import ErrorCode


def _hosts() -> ModuleType:
    """migration_hosts beside this file (the suite imports test files by path, not from sys.path)."""
    spec = importlib.util.spec_from_file_location("pyvirt_qemu_tests_migration_hosts_passthrough",
                                                  Path(__file__).parent / "migration_hosts.py")  # fmt: skip
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


Host = _hosts().Host
GUEST = """<domain type='{virt}'><name>mon</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices/></domain>"""

LINE = ("define {xml}; start mon; qemu-monitor-command mon query-status; "
        "qemu-monitor-command mon --pretty query-status; qemu-monitor-command mon --return-value query-status; "
        "qemu-monitor-command mon --pretty --return-value query-kvm; qemu-monitor-command mon --pretty query-block; "
        "qemu-monitor-command mon --pretty --return-value cont; qemu-monitor-command mon --return-value cont; "
        "qemu-monitor-command mon '{{\"execute\":\"query-name\"}}'; qemu-monitor-command mon query-kvm '{{}}'; "
        "qemu-monitor-command mon query-name '\"a\":1'; qemu-monitor-command mon nosuch-cmd; "
        "qemu-monitor-command mon --return-value nosuch-cmd; qemu-monitor-command mon --hmp info status; "
        "qemu-monitor-command mon --hmp nosuchhmp; qemu-monitor-command mon --hmp --pretty info status; "
        "qemu-monitor-command nosuch query-status; qemu-agent-command mon '{{\"execute\":\"guest-ping\"}}'; "
        "qemu-agent-command mon --timeout 0 x; qemu-agent-command mon --timeout 5 --block x; "
        "destroy mon; qemu-monitor-command mon query-status; undefine mon")  # fmt: skip
_IDS = re.compile(r'"id":( ?)"libvirt-\d+"')


def _run(argv: list[str]) -> tuple[str, str, int]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=180, env=dict(os.environ, LC_ALL="C"),
                          check=False)  # fmt: skip
    return _IDS.sub(r'"id":\1"ID"', done.stdout), done.stderr, done.returncode


def test_monitor_and_agent_commands_as_libvirt(
    qemu_root: Path, tmp_path: Path, virt_type: str, request: pytest.FixtureRequest
) -> None:
    uri = request.getfixturevalue("shared_libvirtd")
    xml = tmp_path / "mon.xml"
    xml.write_text(GUEST.format(virt=virt_type))
    line = LINE.format(xml=xml)
    theirs = _run(["virsh", "-c", uri, line])
    ours = _run([sys.executable, "-m", "pyvirt.cli.main", "-c", f"qemu:///embed?root={qemu_root}", line])
    host = Host(tmp_path / "pyvirt").start()
    try:  # through pyvirtd: libvirt-qemu's RPC program, from Debian's virsh and from pyvirt's client
        wire = _run(["virsh", "-c", host.uri, line])
        remote = _run([sys.executable, "-m", "pyvirt.cli.main", "-c", host.uri, line])
    finally:
        _run(["virsh", "-c", host.uri, "destroy mon; undefine mon"])
        host.close()
    # what libvirt 9.0 answered: QEMU's reply with its id, QEMU's own error as a reply, the HMP text
    assert '{"return":{"status":"running","singlestep":false,"running":true},"id":"ID"}' in theirs[0], theirs
    assert '"desc":"The command nosuch-cmd has not been found"' in theirs[0], theirs
    assert "VM status: running" in theirs[0], theirs
    assert "error: argument unsupported: QEMU guest agent is not configured" in theirs[1], theirs
    for name, got in (("pyvirsh in-process", ours), ("virsh via pyvirtd", wire), ("pyvirsh via pyvirtd", remote)):
        assert got == theirs, (name, got, theirs)


def test_the_domain_is_tainted_once_per_run(conn: pyvirt.Connection, qemu_root: Path, virt_type: str) -> None:
    dom = conn.define_domain(GUEST.format(virt=virt_type))
    dom.create()
    try:
        assert '"return"' in dom.qemu_monitor_command('{"execute":"query-status"}')
        dom.qemu_monitor_command("info status", 1)
        log = (qemu_root / "log" / "qemu" / "mon.log").read_text()
        assert len(re.findall(rf"^\S+ \S+: Domain id={dom.id} is tainted: custom-monitor$", log, re.M)) == 1, log
        with pytest.raises(pyvirt.Error) as err:
            dom.qemu_monitor_command("{not json")
        assert err.value.code == ErrorCode.INTERNAL_ERROR
        with pytest.raises(pyvirt.Error) as err:
            dom.qemu_agent_command('{"execute":"guest-ping"}')
        assert err.value.code == ErrorCode.ARGUMENT_UNSUPPORTED
        assert "QEMU guest agent is not configured" in str(err.value)
    finally:
        dom.destroy()
