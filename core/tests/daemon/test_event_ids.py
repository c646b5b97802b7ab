"""Every domain event id libvirt 9.0 knows can be registered through pyvirtd, as through libvirtd.

pyvirtd's bound said 26 where libvirt 9.0's VIR_DOMAIN_EVENT_ID_LAST is 27, so
a client asking for MEMORY_DEVICE_SIZE_CHANGE (26) was refused with
"unsupported event ID 26". The check runs in libvirt-python (Debian's
python3-libvirt), a client pyvirt did not write.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.errors import Error, ErrorCode
from pyvirt.remote import _remote
from pyvirt.remote.client import RemoteClient, connect_unix

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


def test_out_of_range_ids_and_unknown_callbacks_get_libvirtds_internal_errors(pyvirtd: PrivateDaemon) -> None:
    """libvirt-python checks the id itself, so these go on the wire raw: libvirtd answers both as internal errors.

    pyvirtd answered them as invalid arguments and named no event kind.
    """
    procs = {p.name.removeprefix("REMOTE_PROC_"): p for p in _remote.PROCEDURES.values()}

    def call(name: str, args: Any) -> Any:
        proc = procs[name]
        return client.call(proc.number, proc.pack_args, args, proc.unpack_ret)

    client = RemoteClient(connect_unix(pyvirtd.socket))
    try:
        call("CONNECT_OPEN", ("test:///default", 0))
        cases = (
            ("CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY", (27, None), "internal error: unsupported event ID 27"),
            ("CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY", (99,), "internal error: domain event callback 99 not registered"),
            ("CONNECT_NETWORK_EVENT_DEREGISTER_ANY", (99,), "internal error: network event callback 99 not registered"),
        )  # fmt: skip
        for name, args, message in cases:
            with pytest.raises(Error) as info:
                call(name, args)
            assert (info.value.code, info.value.message) == (ErrorCode.INTERNAL_ERROR, message)
    finally:
        client.close()
