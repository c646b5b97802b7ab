"""``<smm state='on'><tseg>48</tseg></smm>`` and ``<tcg><tb-cache>``: q35's SMRAM size and TCG's code cache.

Both were refused by name among "the requested <features>". libvirt writes the TSEG size as a property of
q35's MCH (``-global mch.extended-tseg-mbytes=48``) and the cache as an accelerator property
(``-accel tcg,tb-size=128``). A started TCG guest shows both, and libvirt's refusals come in its words.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt.errors import Error, ErrorCode

GUEST = """<domain type='{virt}'><name>tseg</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='{machine}'>hvm</type></os>
<features><smm state='on'><tseg unit='MiB'>48</tseg></smm>{tcg}</features>
<devices><memballoon model='none'/></devices></domain>"""
TCG = "<tcg><tb-cache unit='MiB'>128</tb-cache></tcg>"


def _process(dom: pyvirt.Domain) -> Any:
    from pyvirt_qemu import driver as qemu_driver

    for state in qemu_driver._states.values():
        obj = state.by_name.get(dom.name)
        if obj is not None and obj.process is not None:
            return obj.process
    raise AssertionError(f"{dom.name} is not running")


def test_a_tcg_q35_guest_gets_its_tseg_and_code_cache(conn: pyvirt.Connection) -> None:
    dom = conn.define_domain(GUEST.format(virt="qemu", machine="q35", tcg=TCG))
    dom.create()
    try:
        process = _process(dom)
        argv = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
        assert argv[argv.index(b"-accel") + 1] == b"tcg,tb-size=128"
        mch = process.monitor.execute("qom-get", {"path": "/machine/q35/mch", "property": "extended-tseg-mbytes"})
        assert mch == 48
    finally:
        dom.destroy()


@pytest.mark.parametrize(("virt", "machine", "tcg", "message"), [
    ("qemu", "pc", "", "SMM TSEG is only supported with q35 machine type"),
    ("kvm", "q35", TCG, "TCG features are incompatible with domain type 'kvm'"),
])  # fmt: skip
def test_refusals_are_libvirts(conn: pyvirt.Connection, virt: str, machine: str, tcg: str, message: str) -> None:
    with pytest.raises(Error) as err:
        conn.define_domain(GUEST.format(virt=virt, machine=machine, tcg=tcg)).create()
    assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED and str(err.value).endswith(message)
