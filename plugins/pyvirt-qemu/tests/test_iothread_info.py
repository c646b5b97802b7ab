"""iothreadinfo on real QEMU guests (firmware only), beside libvirt 9.0's QEMU driver.

A running guest's threads are QEMU's (query-iothreads) with the affinity the
kernel holds for each thread; an inactive or ``--config`` answer is the
definition's (``<iothreadpin>``, else ``<vcpu cpuset>``, else every online
host CPU). The same line on a private libvirtd must print the same, with and
without ``<vcpu cpuset>`` (``<iothreadpin>`` itself needs cgroups, which the
QEMU driver does not start guests with yet).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from pathlib import Path

import pytest

import pyvirt
from pyvirt.cli.main import main as pyvirsh_main


def guest(virt_type: str, cpuset: bool) -> str:
    vcpu = "<vcpu cpuset='0'>1</vcpu>" if cpuset else "<vcpu>1</vcpu>"
    return f"""<domain type='{virt_type}'><name>ioq</name><memory unit='MiB'>64</memory>{vcpu}
<iothreads>2</iothreads><iothreadids><iothread id='3'/></iothreadids>
<os><type>hvm</type></os><devices><memballoon model='none'/></devices></domain>"""


def _pyvirsh(root: Path, line: str) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = pyvirsh_main(["-c", f"qemu:///embed?root={root}", line])
    return out.getvalue(), err.getvalue(), rc


_LINE = ("define {xml}; iothreadinfo ioq; iothreadinfo ioq --live; start ioq; iothreadinfo ioq; "
         "iothreadinfo ioq --config; iothreadinfo ioq --live --config; iothreadinfo ioq --current; destroy ioq; "
         "iothreadinfo ioq; undefine ioq; iothreadinfo ioq")  # fmt: skip


@pytest.mark.parametrize("cpuset", [False, True])
def test_pyvirsh_and_libvirt_print_the_same(
    qemu_root: Path, tmp_path: Path, virt_type: str, shared_libvirtd: str, cpuset: bool
) -> None:
    outputs = []
    for side in ("libvirt", "pyvirt"):
        xml = tmp_path / f"{side}.xml"
        xml.write_text(guest(virt_type, cpuset))
        line = _LINE.format(xml=xml)
        if side == "libvirt":
            done = subprocess.run(["virsh", "-c", shared_libvirtd, line], capture_output=True, text=True, timeout=180,
                                  env=dict(os.environ, LC_ALL="C"), check=False)  # fmt: skip
            outputs.append((done.stdout.replace(str(xml), "XML"), done.stderr, done.returncode))
        else:
            out, err, rc = _pyvirsh(qemu_root, line)
            outputs.append((out.replace(str(xml), "XML"), err, rc))
    assert " 3             " in outputs[0][0] and "Domain 'ioq' started" in outputs[0][0]
    for ours, theirs in zip(outputs[1], outputs[0], strict=True):
        assert str(ours).splitlines() == str(theirs).splitlines()


def test_live_answer_is_the_kernels(conn: pyvirt.Connection, virt_type: str) -> None:
    """Each running thread's affinity as the kernel has it, with QEMU's ids."""
    dom = conn.define_domain(guest(virt_type, cpuset=False))
    dom.create()
    try:
        infos = dom.iothread_info()
        assert sorted(i.iothread_id for i in infos) == [1, 3]
        host = os.sched_getaffinity(0)
        for info in infos:
            cpus = {c for c in range(len(info.cpumap) * 8) if info.cpumap[c // 8] >> (c % 8) & 1}
            assert cpus and cpus <= set(range(os.cpu_count() or 1)) and cpus & host
    finally:
        dom.destroy()
        dom.undefine()
