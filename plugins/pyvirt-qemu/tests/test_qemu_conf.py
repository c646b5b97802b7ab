"""qemu.conf selects and orders the security stack; an out-of-tree driver is picked by configuration alone.

The out-of-tree driver is pyvirt.testing's recording double, registered the
way any third-party distribution registers one: a ``*.dist-info`` with an
``entry_points.txt`` on the interpreter's path (here a directory put on
PYTHONPATH of a child process, so this test's own interpreter is untouched).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pyvirt.testing.doubles import RecordingSecurityDriver

GUEST = """<domain type='{virt}'><name>sec</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type></os><devices><serial type='pty'/></devices></domain>"""

SCRIPT = """
import sys, pyvirt
conn = pyvirt.open(sys.argv[1])
from lxml import etree
caps = etree.fromstring(conn.get_capabilities().encode())
print("models", [f"<model>{m.text}</model>" for m in caps.findall("host/secmodel/model")])
dom = conn.define_domain(sys.argv[2])
try:
    dom.create()
except pyvirt.Error as e:
    print("start failed", int(e.code), e.message)
else:
    print("running", dom.is_active())
    dom.destroy()
print("after", dom.is_active())
dom.undefine()
conn.close()
"""


def _out_of_tree(site: Path) -> None:
    info = site / "pyvirt_recording_security-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pyvirt-recording-security\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[pyvirt.security]\nrecording = pyvirt.testing.doubles:RecordingSecurityDriver\n"
    )


def _run(qemu_root: Path, tmp_path: Path, virt: str, fail_at: str | None) -> tuple[str, list[str]]:
    site = tmp_path / "site"
    if not site.exists():
        _out_of_tree(site)
    (qemu_root / "etc").mkdir(parents=True, exist_ok=True)
    (qemu_root / "etc" / "qemu.conf").write_text('security_driver = [ "recording" ]\n')
    journal = tmp_path / f"journal-{fail_at}"
    env = {**os.environ, "PYTHONPATH": str(site), "PYVIRT_RECORDING_JOURNAL": str(journal)}
    env.pop("PYVIRT_RECORDING_FAIL_AT", None)
    if fail_at:
        env["PYVIRT_RECORDING_FAIL_AT"] = fail_at
    p = subprocess.run(
        [sys.executable, "-c", SCRIPT, f"qemu:///embed?root={qemu_root}", GUEST.format(virt=virt)],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    return p.stdout, [c.hook for c in RecordingSecurityDriver.read_journal(str(journal))]


def test_an_out_of_tree_security_driver_named_in_qemu_conf(qemu_root: Path, tmp_path: Path, virt_type: str) -> None:
    out, hooks = _run(qemu_root, tmp_path, virt_type, None)
    assert "models ['<model>recording</model>', '<model>dac</model>']" in out
    assert "running True" in out and "after False" in out
    # libvirt's order: a label before any file is labelled, files before the process, undone in reverse.
    assert [h.removeprefix("security_") for h in hooks if "path_label" not in h] == [
        "gen_label", "set_all_label", "set_process_label", "restore_all_label", "release_label"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("fail_at", "expected"),
    [
        # the failing step changed nothing (a driver's own step is atomic): only the label is released
        ("security_set_all_label", ["gen_label", "set_all_label", "release_label"]),
        # files were labelled: restored, then the label released
        ("security_set_process_label",
         ["gen_label", "set_all_label", "set_process_label", "restore_all_label", "release_label"]),
    ],
)  # fmt: skip
def test_a_failing_out_of_tree_driver_rolls_the_start_back(
    qemu_root: Path, tmp_path: Path, virt_type: str, fail_at: str, expected: list[str]
) -> None:
    out, hooks = _run(qemu_root, tmp_path, virt_type, fail_at)
    assert f"start failed 9 operation failed: recording: {fail_at} failed as the test asked" in out
    assert "after False" in out
    assert [h.removeprefix("security_") for h in hooks if "path_label" not in h] == expected
    assert not (qemu_root / "run" / "qemu" / "sec.pid").exists()


def test_a_typo_in_qemu_conf_is_refused_with_its_line(qemu_root: Path) -> None:
    import pyvirt
    from pyvirt.errors import ErrorCode

    (qemu_root / "etc").mkdir(parents=True)
    (qemu_root / "etc" / "qemu.conf").write_text('user = "root"\nvnc_listen = 5\n')
    with pytest.raises(pyvirt.Error) as info:
        pyvirt.open(f"qemu:///embed?root={qemu_root}")
    assert info.value.code == ErrorCode.CONF_SYNTAX
    assert info.value.message.endswith("qemu.conf:2: vnc_listen: Input should be a valid string")
