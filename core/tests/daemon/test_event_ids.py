"""Every domain event id libvirt 9.0 knows can be registered through pyvirtd, as through libvirtd.

pyvirtd's bound said 26 where libvirt 9.0's VIR_DOMAIN_EVENT_ID_LAST is 27, so
a client asking for MEMORY_DEVICE_SIZE_CHANGE (26) was refused with
"unsupported event ID 26". The check runs in libvirt-python (Debian's
python3-libvirt), a client pyvirt did not write.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pyvirt.daemon.instance import PrivateDaemon

SYSTEM_PYTHON = Path("/usr/bin/python3")

PROBE = """
import sys
import libvirt

libvirt.virEventRegisterDefaultImpl()
conn = libvirt.open(sys.argv[1])
for event_id in (libvirt.VIR_DOMAIN_EVENT_ID_MEMORY_FAILURE, libvirt.VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE):
    callback = conn.domainEventRegisterAny(None, event_id, lambda *args: None, None)
    conn.domainEventDeregisterAny(callback)
    print(event_id, "registered")
conn.close()
"""


def _has_libvirt_python() -> bool:
    if not SYSTEM_PYTHON.exists():
        return False
    return (
        subprocess.run([str(SYSTEM_PYTHON), "-c", "import libvirt"], check=False, capture_output=True).returncode == 0
    )


@pytest.mark.skipif(not _has_libvirt_python(), reason="libvirt-python (python3-libvirt) is not installed")
def test_libvirt_python_registers_the_last_domain_event_id(pyvirtd: PrivateDaemon) -> None:
    out = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", PROBE, pyvirtd.uri()], check=False, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["25 registered", "26 registered"]
