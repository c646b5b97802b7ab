"""The guest's RTC: which host clock it follows, catching up on lost ticks, and a named timezone.

``<timer name='rtc' track='realtime' tickpolicy='catchup'/>`` and ``<clock offset='timezone'
timezone='Europe/Paris'>`` were refused by name; libvirt writes them as ``-rtc base=localtime,clock=rt,
driftfix=slew`` and starts QEMU with ``TZ`` set to the timezone. A started guest shows both.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import pyvirt
from pyvirt.errors import Error, ErrorCode

GUEST = """<domain type='{virt}'><name>rtc</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os>
<clock offset='timezone' timezone='Europe/Paris'><timer name='rtc' track='{track}' tickpolicy='catchup'/></clock>
<devices><memballoon model='none'/></devices></domain>"""


def _qemu_pid(dom: pyvirt.Domain) -> int:
    from pyvirt_qemu import driver as qemu_driver

    for state in qemu_driver._states.values():
        obj = state.by_name.get(dom.name)
        if obj is not None and obj.process is not None:
            return obj.process.pid
    raise AssertionError(f"{dom.name} is not running")


def test_rtc_follows_the_clock_asked_for_in_the_guests_timezone(conn: pyvirt.Connection, virt_type: str) -> None:
    dom = conn.define_domain(GUEST.format(virt=virt_type, track="realtime"))
    dom.create()
    try:
        pid = _qemu_pid(dom)
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert argv[argv.index(b"-rtc") + 1] == b"base=localtime,clock=rt,driftfix=slew"
        assert b"TZ=Europe/Paris" in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    finally:
        dom.destroy()


def test_an_rtc_tracking_the_boot_clock_is_refused_in_libvirts_words(conn: pyvirt.Connection, virt_type: str) -> None:
    with pytest.raises(Error) as err:  # (libvirt refuses it when the domain is defined, before any start)
        conn.define_domain(GUEST.format(virt=virt_type, track="boot")).create()
    assert err.value.code == ErrorCode.CONFIG_UNSUPPORTED and "unsupported rtc timer track 'boot'" in str(err.value)
