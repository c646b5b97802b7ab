"""pyvirtd's SIGHUP for networks: libvirt's networkStateReload starts the autostart networks that are not running.

An operator marks a network autostart (or restores its definition and
autostart link) while the daemon runs; ``systemctl reload`` (SIGHUP) brings
it up, with its real bridge, without a daemon restart. Debian's virsh is the
client.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from pyroute2 import IPRoute

from pyvirt.daemon.instance import PrivateDaemon

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="bridges need root"),
    pytest.mark.skipif(not shutil.which("virsh"), reason="Debian's virsh (libvirt-clients) is not installed"),
]

BRIDGE = "pvnt7"


def _link(name: str) -> int | None:
    with IPRoute() as ipr:
        found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def virsh(daemon: PrivateDaemon, *args: str) -> str:
    run = subprocess.run(["virsh", "-c", daemon.uri("network:///system"), *args], capture_output=True, text=True,
                         timeout=60, check=False)  # fmt: skip
    assert run.returncode == 0, f"virsh {' '.join(args)}: {run.stderr}"
    return run.stdout


def test_sighup_starts_autostart_networks_that_are_not_running(tmp_path: Path) -> None:
    xml = tmp_path / "isolated.xml"
    xml.write_text(f"<network><name>isolated</name><bridge name='{BRIDGE}'/></network>")
    daemon = PrivateDaemon(tmp_path / "root").start()
    try:
        virsh(daemon, "net-define", str(xml))
        virsh(daemon, "net-autostart", "isolated")
        assert re.search(r"isolated\s+inactive\s+yes", virsh(daemon, "net-list", "--all"))
        assert _link(BRIDGE) is None
        assert daemon.proc is not None
        daemon.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while not re.search(r"isolated\s+active\s+yes", virsh(daemon, "net-list", "--all")):
            assert time.monotonic() < deadline, "SIGHUP did not start the autostart network"
            time.sleep(0.1)
        assert _link(BRIDGE) is not None
        virsh(daemon, "net-destroy", "isolated")
        assert _link(BRIDGE) is None
    finally:
        daemon.stop()
        index = _link(BRIDGE)
        if index is not None:  # nothing may outlive a test
            with IPRoute() as ipr:
                ipr.link("del", index=index)
