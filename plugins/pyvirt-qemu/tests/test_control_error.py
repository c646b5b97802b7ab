"""control-error: the QEMU monitor of a running guest breaks, and the driver says it lost control.

libvirt fires VIR_DOMAIN_EVENT_ID_CONTROL_ERROR from qemuProcessHandleMonitorError,
when its monitor connection fails while QEMU still runs: an I/O error, a message
that is not JSON, or a reply over its 10 MiB buffer ("QEMU monitor reply exceeds
buffer size"). The last is one QEMU itself produces: HMP's ``xp`` dumps as much
guest memory as asked, about five characters a byte. pyvirt's QMP client has the
same 10 MiB limit, so the same reply breaks its monitor. Nothing here fakes the
failure: QEMU sends the reply on the real socket.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import pyvirt
from pyvirt.domain_state import DomainState
from pyvirt.errors import Error


def test_a_broken_monitor_of_a_running_guest_fires_control_error(
    conn: pyvirt.Connection, virt_type: str, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    dom = conn.create_domain(f"""<domain type='{virt_type}'><name>ctl</name><memory unit='MiB'>64</memory>
<vcpu>1</vcpu><os><type>hvm</type></os></domain>""")
    seen: list[str] = []
    lifecycle: list[tuple[int, int]] = []
    fired = threading.Event()

    def on_error(ev: Any) -> None:
        seen.append(ev.domain.name)
        fired.set()

    conn.register_event("control-error", on_error)
    conn.register_domain_event(lambda ev: lifecycle.append((int(ev.event), int(ev.detail))))
    monitor = guest_monitor(dom)
    monitor.execute("query-status")  # the monitor answers: no event for a healthy one
    with pytest.raises(Error):  # 4 MB of guest memory, dumped as text: a reply of some 20 MB
        monitor.execute("human-monitor-command", {"command-line": "xp /4000000xb 0"}, timeout=120)
    assert fired.wait(30), "no control-error event after the monitor broke"
    time.sleep(0.5)  # (a second event would come now)
    assert seen == ["ctl"] and lifecycle == []  # the guest did not stop: no lifecycle event
    assert dom.is_active() and dom.state()[0] == DomainState.RUNNING
    assert dom.control_info() == (3, 2, 0)  # domcontrol: "error: monitor failure" (qemuDomainGetControlInfo)
    dom.destroy()  # the guest is still ours to stop, without its monitor: the transient guest is gone
    assert [d.name for d in conn.list_all_domains()] == []
