"""Containers through pyvirtd, driven by Debian's libvirt-python: lifecycle, events and the console stream.

The client is libvirt's own C library (python3-libvirt, run by the system
Python), so this checks pyvirtd's wire protocol, its stream relay and the LXC
driver hosted in the daemon together, against a client nobody here wrote.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from pyvirt.daemon.instance import PrivateDaemon

pytestmark = pytest.mark.skipif(
    not os.path.exists("/usr/lib/python3/dist-packages/libvirt.py"), reason="Debian's python3-libvirt is not installed"
)

CLIENT = textwrap.dedent(
    """
    import sys, threading, time, libvirt
    libvirt.virEventRegisterDefaultImpl()
    events = []
    conn = libvirt.open(sys.argv[1])
    conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                lambda c, d, ev, det, o: events.append((d.name(), ev, det)), None)
    stop = False
    def loop():
        while not stop:
            libvirt.virEventRunDefaultImpl()
    threading.Thread(target=loop, daemon=True).start()
    dom = conn.createXML(open(sys.argv[2]).read(), 0)
    st = conn.newStream(0)
    dom.openConsole(None, st, 0)
    st.send(b"hello\\n")
    seen = b""
    deadline = time.monotonic() + 15
    while b"container says: hello" not in seen and time.monotonic() < deadline:
        seen += st.recv(4096)
    print("console:", seen.decode(errors="replace").strip().splitlines()[-1])
    st.abort()
    print("state:", dom.state())
    dom.destroy()
    deadline = time.monotonic() + 10
    while len(events) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    print("events:", events)
    stop = True
    """
)


def test_libvirt_python_container_console_and_events(
    lxc_root: Path, make_rootfs: Callable[..., Path], tmp_path: Path
) -> None:
    rootfs = make_rootfs(
        """\
        stty -echo 2>/dev/null
        while read line; do echo "container says: $line"; done
        """
    )
    xml = tmp_path / "c.xml"
    xml.write_text(
        f"""<domain type='lxc'><name>viad</name><memory unit='MiB'>64</memory>
<os><type>exe</type><init>/sbin/init</init></os><devices>
<filesystem type='mount'><source dir='{rootfs}'/><target dir='/'/></filesystem><console type='pty'/></devices></domain>"""
    )
    with PrivateDaemon(lxc_root) as daemon:
        run = subprocess.run(
            ["/usr/bin/python3", "-c", CLIENT, daemon.uri("lxc:///system"), str(xml)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr + daemon.log()
    lines = dict(line.split(": ", 1) for line in run.stdout.splitlines())
    assert lines["console"] == "container says: hello"
    assert lines["state"] == "[1, 1]"  # running, booted
    # started (booted), then stopped (destroyed): VIR_DOMAIN_EVENT_STARTED 2 / BOOTED 0, STOPPED 5 / DESTROYED 1
    assert lines["events"] == "[('viad', 2, 0), ('viad', 5, 1)]"
