"""``virsh qemu-monitor-event`` through pyvirtd: a real guest's QMP events, filtered by name, as libvirtd sends them.

A user watches a guest's QEMU events with Debian's virsh or pyvirsh connected
to libvirtd 9.0 (the reference) or to pyvirtd (libvirt-qemu's RPC program: virConnectDomainQemuMonitorEventRegister,
the QEMU_PROC_DOMAIN_MONITOR_EVENT messages). ``suspend`` and ``resume``
make QEMU send STOP and RESUME; a listener for ``--event STOP`` prints the
first one with QEMU's own timestamp and ends, a caseless regular expression
listener with ``--loop`` sees both kinds and nothing else, a listener on
another domain sees nothing. A read-only connection is refused in
libvirt's words, and so is a regular expression that does not compile.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt.errors import ErrorCode
from pyvirt.qemu_monitor_events import REGISTER_NOCASE

GUEST = """<domain type='{virt}'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices/></domain>"""
_ENV = dict(os.environ, LC_ALL="C")
# virsh's line for an event without --timestamp: QEMU's seconds and microseconds, the data as compact JSON
_LINE = re.compile(r"event (\w+) at (\d+)\.(\d{6}) for domain '(\w+)': (.*)")


# the listening client: Debian's virsh, or pyvirsh (pyvirt's remote client, its own filter)
TOOLS = {"virsh": ["virsh"], "pyvirsh": [sys.executable, "-m", "pyvirt.cli.main"]}


def _virsh(uri: str, line: str, tool: str = "virsh") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TOOLS[tool], "-c", uri, line], capture_output=True, text=True, timeout=120, env=_ENV,
                          check=False)  # fmt: skip


def _story(uri: str, tmp_path: Path, virt_type: str, tool: str) -> None:
    """The same story on either daemon, listened to by ``tool``; the assertions are libvirtd 9.0's and virsh's
    behaviour."""

    def _listen(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([*TOOLS[tool], "-c", uri, "qemu-monitor-event", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=_ENV)  # fmt: skip

    for name in ("mev", "quiet"):
        (tmp_path / f"{name}.xml").write_text(GUEST.format(virt=virt_type, name=name))
    done = _virsh(uri, f"define {tmp_path / 'mev.xml'}; define {tmp_path / 'quiet.xml'}; start mev")
    assert done.returncode == 0, done.stderr
    began = time.time()
    first = _listen("--domain", "mev", "--event", "STOP", "--timeout", "60")
    pretty = _listen("--domain", "mev", "--event", "reset", "--no-case", "--pretty", "--timeout", "60")
    looping = _listen("--event", "^(stop|reset)$", "--regex", "--no-case", "--loop", "--timeout", "8")
    other = _listen("--domain", "quiet", "--timeout", "8")
    try:
        # the listeners register in their own time: pause, resume, reset until the one-shot listeners have theirs
        deadline = time.monotonic() + 20
        while (first.poll() is None or pretty.poll() is None) and time.monotonic() < deadline:
            assert _virsh(uri, "suspend mev; resume mev; reset mev").returncode == 0
            time.sleep(0.5)
        out, err = first.communicate(timeout=30)
        assert first.returncode == 0, err
        lines = out.rstrip("\n").splitlines()
        assert lines[1:] == ["events received: 1"], out
        match = _LINE.fullmatch(lines[0])
        assert match is not None, out
        assert match[1] == "STOP" and match[4] == "mev" and match[5] == "<null>", out  # (STOP carries no data)
        assert began - 5 <= int(match[2]) <= time.time() + 5, out  # QEMU's clock: this run's seconds
        out, err = pretty.communicate(timeout=30)  # (libvirt's pretty JSON ends in a newline of its own)
        assert re.fullmatch(r"event RESET at \d+\.\d{6} for domain 'mev': \{\n  \"guest\": (false|true),\n"
                            r"  \"reason\": \"(host-qmp-system-reset|guest-reset)\"\n\}\n\nevents received: 1\n\n", out), out  # fmt: skip
        _virsh(uri, "suspend mev; resume mev; reset mev")
        out, err = looping.communicate(timeout=60)
        lines = out.rstrip("\n").splitlines()
        assert lines[-2:] == ["event loop timed out", f"events received: {len(lines) - 2}"], out
        found = {(m[1], m[5]) if (m := _LINE.fullmatch(line)) else line for line in lines[:-2]}
        # no RESUME (the expression is anchored), the details compact as libvirt's virJSONValueToString
        # (the firmware may reset itself after a reset: RESET {"guest":true,"reason":"guest-reset"} too)
        assert {("STOP", "<null>"), ("RESET", '{"guest":false,"reason":"host-qmp-system-reset"}')} <= found, out
        assert {item[0] for item in found} == {"STOP", "RESET"}, out
        out, err = other.communicate(timeout=60)
        assert out.rstrip("\n").splitlines() == ["event loop timed out", "events received: 0"], out
    finally:
        for proc in (first, pretty, looping, other):
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    bad = _virsh(uri, "qemu-monitor-event --event '(' --regex --timeout 1", tool)
    assert bad.returncode == 1 and "error: invalid argument: failed to compile regex '('" in bad.stderr, bad
    assert _virsh(uri, "destroy mev; undefine mev; undefine quiet").returncode == 0


@pytest.mark.parametrize("tool", TOOLS)
def test_watching_a_guests_qmp_events_through_libvirtd(
    tmp_path: Path, virt_type: str, shared_libvirtd: str, tool: str
) -> None:
    """The reference: the story against libvirtd 9.0's QEMU driver (pyvirsh: pyvirt's client against it)."""
    _story(shared_libvirtd, tmp_path, virt_type, tool)


@pytest.mark.parametrize("tool", TOOLS)
def test_watching_a_guests_qmp_events_through_pyvirtd(
    qemu_root: Path, tmp_path: Path, virt_type: str, tool: str
) -> None:
    from pyvirt.daemon.instance import PrivateDaemon

    with PrivateDaemon(qemu_root / "daemon") as daemon:
        _story(daemon.uri("qemu:///system"), tmp_path, virt_type, tool)
        ro = subprocess.run([*TOOLS[tool], "-r", "-c", daemon.uri("qemu:///system", read_only=True),
                             "qemu-monitor-event --timeout 1"], capture_output=True, text=True, timeout=60,
                            env=_ENV, check=False)  # fmt: skip
        assert ro.returncode == 1 and "read only access prevents virConnectDomainQemuMonitorEventRegister" in ro.stderr
        # the test driver has no monitor events, through pyvirtd as in libvirt
        other = _virsh(daemon.uri("test:///default"), "qemu-monitor-event --timeout 1", tool)
        assert other.returncode == 1, other
        assert other.stderr.startswith(
            "error: this function is not supported by the connection driver: virConnectDomainQemuMonitorEventRegister"
        ), other.stderr


def test_an_in_process_connection_gets_the_events_of_its_filter(conn: pyvirt.Connection, virt_type: str) -> None:
    """``qemu:///embed``: the driver's own events, filtered by the connection (caseless name here)."""
    import threading

    dom = conn.define_domain(GUEST.format(virt=virt_type, name="inproc"))
    dom.create()
    got: list[Any] = []
    came = threading.Event()

    def on(ev: Any) -> None:
        got.append(ev)
        came.set()

    cid = conn.register_qemu_monitor_event(on, dom, "stop", REGISTER_NOCASE)
    try:
        dom.suspend()
        assert came.wait(10), "no STOP event"
        dom.resume()
    finally:
        conn.deregister_qemu_monitor_event(cid)
    assert [(ev.domain.name, ev.event, ev.details) for ev in got] == [("inproc", "STOP", None)]
    assert got[0].seconds > 0 and 0 <= got[0].micros < 1_000_000
    with pytest.raises(pyvirt.Error) as info:
        conn.register_qemu_monitor_event(on, None, "x", 4)
    assert info.value.code == ErrorCode.INVALID_ARG
    assert "unsupported flags (0x4) in function virDomainQemuMonitorEventStateRegisterID" in info.value.message
    dom.destroy()
    dom.undefine()
