"""dompmsuspend, dompmwakeup, guest-agent-timeout, the agent commands' refusals and detach-device-alias on
firmware-only guests (KVM where it works), beside libvirt 9.0's QEMU driver.

A firmware-only guest never opens its agent port: every agent command ends at
libvirt's "QEMU guest agent is not connected" (ARGUMENT_UNSUPPORTED "not
configured" without the channel), after the checks libvirt makes before it
looks (flags, duration, target, the state). detach-device-alias finds the
device by its alias in the persistent definition, then the running one. The
same line through Debian's virsh on a private libvirtd must print the same.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import pyvirt
from pyvirt import ErrorCode
from pyvirt.cli.main import main as pyvirsh_main


def _hosts() -> ModuleType:
    """migration_hosts beside this file (the suite imports test files by path, not from sys.path)."""
    spec = importlib.util.spec_from_file_location("pyvirt_qemu_tests_migration_hosts_pm",
                                                  Path(__file__).parent / "migration_hosts.py")  # fmt: skip
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def guest(virt_type: str, tmp: Path, agent: bool = True) -> str:
    """A firmware-only guest with a user-aliased disk, with or without the guest agent's channel."""
    channel = f"<channel type='unix'><source mode='bind' path='{tmp}/pmq.agent'/>" \
              "<target type='virtio' name='org.qemu.guest_agent.0'/></channel>" if agent else ""  # fmt: skip
    disk = tmp / "extra.img"
    disk.write_bytes(b"\0" * (1 << 20))
    return f"""<domain type='{virt_type}'><name>pmq</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type></os><features><acpi/></features><devices>{channel}<disk type='file' device='disk'><driver name='qemu' type='raw'/>
<source file='{disk}'/><target dev='vdb' bus='virtio'/><alias name='ua-extra'/></disk>
<memballoon model='none'/><serial type='pty'/></devices></domain>"""


def _pyvirsh(root: Path, line: str) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = pyvirsh_main(["-c", f"qemu:///embed?root={root}", line])
    return out.getvalue(), err.getvalue(), rc


def _normalized(text: str, work: Path) -> str:
    return re.sub(r"\d+", "N", text.replace(str(work), "WORK"))


# Each refusal in libvirt's order: virsh's own checks, the API's argument checks, the state, the agent.
_LINE = ("define {xml}; dompmsuspend pmq mem; dompmwakeup pmq; guest-agent-timeout pmq --timeout -3; "
         "guestinfo pmq; start pmq; dompmsuspend pmq mem --duration 5; dompmsuspend pmq bogus; "
         "dompmsuspend pmq disk; dompmsuspend pmq hybrid; guestvcpus pmq; guestvcpus pmq --cpulist 0 --enable; "
         "guestvcpus pmq --cpulist x --enable; guestinfo pmq --os; get-user-sshkeys pmq root; "
         "set-user-sshkeys pmq root --reset; guest-agent-timeout pmq --timeout 7; guest-agent-timeout pmq; "
         "detach-device-alias pmq ua-nosuch; detach-device-alias pmq ua-extra --config; "
         "detach-device-alias pmq ua-extra --config; detach-device-alias pmq ua-nosuch --live; "
         "domblklist pmq --inactive; suspend pmq; guestinfo pmq; dompmsuspend pmq mem; destroy pmq; "
         "guestvcpus pmq; dompmwakeup pmq; detach-device-alias pmq ua-extra --live; undefine pmq")  # fmt: skip


def _virsh(uri: str, line: str) -> tuple[str, str, int]:
    done = subprocess.run(["virsh", "-c", uri, line], capture_output=True, text=True, timeout=180,
                          env=dict(os.environ, LC_ALL="C"), check=False)  # fmt: skip
    return done.stdout, done.stderr, done.returncode


def test_pyvirsh_and_virsh_through_pyvirtd_answer_as_libvirt(
    qemu_root: Path, tmp_path: Path, virt_type: str, shared_libvirtd: str
) -> None:
    host = _hosts().Host(tmp_path / "pyvirtd")
    outputs = []
    try:
        for side in ("libvirt", "pyvirt", "wire"):
            work = tmp_path / side
            work.mkdir()
            xml = work / "guest.xml"
            xml.write_text(guest(virt_type, work))
            line = _LINE.format(xml=xml)
            if side == "libvirt":
                out, err, rc = _virsh(shared_libvirtd, line)
            elif side == "pyvirt":
                out, err, rc = _pyvirsh(qemu_root, line)
            else:  # Debian's virsh through pyvirtd's RPC procedures
                out, err, rc = _virsh(host.start().uri, line)
            outputs.append((_normalized(out, work), _normalized(err, work), rc))
        # a restarted daemon keeps a guest's agent timeout: read back from the status file, written again
        xml = tmp_path / "wire" / "guest.xml"
        assert _virsh(host.uri, f"create {xml}; guest-agent-timeout pmq --timeout 9")[2] == 0
        host.daemon.stop()
        host.restart()
        assert _virsh(host.uri, "suspend pmq; resume pmq")[2] == 0  # each rewrites the status file
        assert "<agentTimeout>9</agentTimeout>" in (host.run_dir / "pmq.xml").read_text()
    finally:
        _virsh(host.uri, "destroy pmq")
        host.close()
    theirs = outputs[0][1]
    assert theirs.count("QEMU guest agent is not connected") == 7, theirs
    assert "Duration not supported. Use N for now" in theirs and "no device found with alias ua-nosuch" in theirs
    for name, got in (("pyvirsh", outputs[1]), ("virsh via pyvirtd", outputs[2])):
        for ours, expected in zip(got, outputs[0], strict=True):
            assert str(ours).splitlines() == str(expected).splitlines(), name


def test_without_an_agent_channel_and_the_timeout_kept(
    conn: pyvirt.Connection,
    qemu_root: Path,
    tmp_path: Path,
    virt_type: str,
    guest_monitor: Callable[[pyvirt.Domain], Any],
) -> None:
    dom = conn.define_domain(guest(virt_type, tmp_path, agent=False))
    dom.create()
    try:
        for call in (dom.guest_info, dom.guest_vcpus, lambda: dom.authorized_ssh_keys_get("root"),
                     lambda: dom.pm_suspend_for_duration(0)):  # fmt: skip
            with pytest.raises(pyvirt.Error) as info:
                call()
            assert (info.value.code, info.value.message) == (
                ErrorCode.ARGUMENT_UNSUPPORTED,
                "argument unsupported: QEMU guest agent is not configured",
            )
        # kept with no agent at all, and in the status file as libvirt's <agentTimeout>
        dom.agent_set_response_timeout(12)
        status = (qemu_root / "run" / "qemu" / "pmq.xml").read_text()
        assert "<agentTimeout>12</agentTimeout>" in status
        # a NIC attached with a user alias keeps it, in the definition and as QEMU's device id (libvirt's rule),
        # so detach-device-alias finds it
        dom.attach_device("<interface type='user'><mac address='52:54:00:aa:bb:cc'/><alias name='ua-nic'/>"
                          "</interface>")  # fmt: skip
        assert "<alias name='ua-nic'/>" in dom.xml_desc()
        peripherals = guest_monitor(dom).execute("qom-list", {"path": "/machine/peripheral"})
        assert "ua-nic" in [p["name"] for p in peripherals]
        with pytest.raises(pyvirt.Error) as info:
            dom.agent_set_response_timeout(-3)
        assert info.value.message == "invalid argument: guest agent timeout '-3' is less than the minimum '-2'"
    finally:
        dom.destroy()
