"""Containers through pyvirtd, driven by Debian's libvirt-python: lifecycle, events and the console stream.

The client is libvirt's own C library (python3-libvirt, run by the system
Python), so this checks pyvirtd's wire protocol, its stream relay and the LXC
driver hosted in the daemon together, against a client nobody here wrote.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.local_driver.status_file import read_status

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


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for a late reaper does not count)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize(
    ("persistent", "reconnected"), [(False, False), (True, False), (True, True)],
    ids=["transient", "persistent", "found-again-by-a-restarted-daemon"],
)  # fmt: skip
def test_a_controller_killed_under_pyvirtd_takes_its_container_along(
    lxc_root: Path, make_rootfs: Callable[..., Path], tmp_path: Path, persistent: bool, reconnected: bool
) -> None:
    """kill -9 of a container's controller while pyvirtd watches it (from the start, or since a restarted daemon
    found it again): the daemon's watcher, not a later load, reports the container shut off (crashed) and
    kills its init, which would otherwise run on re-parented to PID 1 with nobody to stop it."""
    rootfs = make_rootfs("exec sleep 1000\n")
    xml = tmp_path / "c.xml"
    xml.write_text(
        f"""<domain type='lxc'><name>orphan</name><memory unit='MiB'>64</memory>
<os><type>exe</type><init>/sbin/init</init></os><devices>
<filesystem type='mount'><source dir='{rootfs}'/><target dir='/'/></filesystem><console type='pty'/></devices></domain>"""
    )
    if reconnected:
        with PrivateDaemon(lxc_root) as first:
            for step in (["define", str(xml)], ["start", "orphan"]):
                run = subprocess.run(["virsh", "-c", first.uri("lxc:///system"), *step], capture_output=True,
                                     text=True, timeout=60, check=False)  # fmt: skip
                assert run.returncode == 0, run.stderr + first.log()
    with PrivateDaemon(lxc_root) as daemon:
        uri = daemon.uri("lxc:///system")

        def virsh(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(["virsh", "-c", uri, *args], capture_output=True, text=True, timeout=60, check=False)

        if reconnected:
            assert virsh("domstate", "orphan").stdout.strip() == "running", daemon.log()
        else:
            for step in (["define", str(xml)], ["start", "orphan"]) if persistent else (["create", str(xml)],):
                assert virsh(*step).returncode == 0, daemon.log()
        status = read_status(str(lxc_root / "run" / "lxc" / "orphan.xml"))
        controller, init = status.pid, int(status.runtime["init"]["pid"])
        assert _alive(controller) and _alive(init)
        os.kill(controller, 9)
        deadline = time.monotonic() + 10
        while _alive(init) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _alive(init), f"the container's init ({init}) outlived its killed controller"
        state = virsh("domstate", "orphan", "--reason")
        if persistent:
            assert state.stdout.strip() == "shut off (crashed)", state
        else:  # a transient container that ended is gone, as in libvirt
            assert "failed to get domain 'orphan'" in state.stderr, state
