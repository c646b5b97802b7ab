"""domfsfreeze / domfsthaw / domfstrim on real QEMU guests (firmware only), beside libvirt 9.0's QEMU driver.

libvirt's QEMU driver asks the guest agent (guest-fsfreeze-freeze[-list], guest-fsfreeze-thaw, guest-fstrim)
and refuses, before that, what the agent cannot do: thawing some mount points, trimming one. A firmware-only
guest never opens its agent port, so each call ends at libvirt's "not connected" (or "not configured"
without the channel), in libvirt's order of checks; the same line on a private libvirtd must print the same.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
from pathlib import Path

import pyvirt
from pyvirt import ErrorCode
from pyvirt.cli.main import main as pyvirsh_main


def guest(virt_type: str, tmp: Path, agent: bool = True) -> str:
    """A firmware-only guest, with or without the guest agent's channel."""
    channel = f"<channel type='unix'><source mode='bind' path='{tmp}/statq.agent'/>" \
              "<target type='virtio' name='org.qemu.guest_agent.0'/></channel>" if agent else ""  # fmt: skip
    return f"""<domain type='{virt_type}'><name>statq</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type></os><devices>{channel}<memballoon model='virtio'/><serial type='pty'/></devices></domain>"""


def _pyvirsh(root: Path, line: str) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = pyvirsh_main(["-c", f"qemu:///embed?root={root}", line])
    return out.getvalue(), err.getvalue(), rc


def _normalized(text: str, work: Path) -> str:
    return re.sub(r"\d+", "N", text.replace(str(work), "WORK"))


_LINE = ("define {xml}; domfsfreeze statq; start statq; domfsfreeze statq; domfsfreeze statq / /boot; "
         "domfsthaw statq; domfsthaw statq /; domfstrim statq; domfstrim statq --minimum 4096; "
         "domfstrim statq --mountpoint /; suspend statq; domfsfreeze statq; domfstrim statq; destroy statq; "
         "domfsthaw statq; domfstrim statq; undefine statq")  # fmt: skip


def test_pyvirsh_and_libvirt_refuse_alike(
    qemu_root: Path, tmp_path: Path, virt_type: str, shared_libvirtd: str
) -> None:
    outputs = []
    for side in ("libvirt", "pyvirt"):
        work = tmp_path / side
        work.mkdir()
        xml = work / "guest.xml"
        xml.write_text(guest(virt_type, work))
        line = _LINE.format(xml=xml)
        if side == "libvirt":
            done = subprocess.run(["virsh", "-c", shared_libvirtd, line], capture_output=True, text=True, timeout=180,
                                  env=dict(os.environ, LC_ALL="C"), check=False)  # fmt: skip
            outputs.append((_normalized(done.stdout, work), _normalized(done.stderr, work), done.returncode))
        else:
            out, err, rc = _pyvirsh(qemu_root, line)
            outputs.append((_normalized(out, work), _normalized(err, work), rc))
    assert "QEMU guest agent is not connected" in outputs[0][1]
    assert "specifying mountpoints is not supported" in outputs[0][1]
    assert "Specifying mount point is not supported for now" in outputs[0][1]
    assert outputs[0][1].count("domain is not running") == 5, outputs[0][1]  # inactive, paused, inactive again
    for ours, theirs in zip(outputs[1], outputs[0], strict=True):
        assert str(ours).splitlines() == str(theirs).splitlines()


def test_without_an_agent_channel(conn: pyvirt.Connection, tmp_path: Path, virt_type: str) -> None:
    dom = conn.define_domain(guest(virt_type, tmp_path, agent=False))
    dom.create()
    try:
        for call in (dom.fs_freeze, dom.fs_thaw, dom.fs_trim):
            try:
                call()
            except pyvirt.Error as exc:
                assert (exc.code, exc.message) == (
                    ErrorCode.ARGUMENT_UNSUPPORTED,
                    "argument unsupported: QEMU guest agent is not configured",
                )
            else:
                raise AssertionError(f"{call.__name__} passed without a guest agent")
    finally:
        dom.destroy()
        dom.undefine()
