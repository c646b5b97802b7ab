"""An RNG fed by an entropy daemon (``<backend model='egd'>``): QEMU connects to the daemon's socket itself."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pyvirt


def test_egd_backend_connects_to_the_daemon(
    conn: pyvirt.Connection, virt_type: str, guest_monitor: Callable[[pyvirt.Domain], Any]
) -> None:
    with socket.socket() as daemon:
        daemon.bind(("127.0.0.1", 0))
        daemon.listen(1)
        daemon.settimeout(30)
        port = daemon.getsockname()[1]
        dom = conn.create_domain(f"""<domain type='{virt_type}'><name>egd</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices>
<rng model='virtio'><backend model='egd' type='tcp'><source mode='connect' host='127.0.0.1' service='{port}'/>
<protocol type='raw'/></backend></rng><memballoon model='none'/></devices></domain>""")
        try:
            peer, _ = daemon.accept()  # QEMU, as the guest's entropy source
            peer.close()
            mon = guest_monitor(dom)
            peripherals = {p["name"]: p["type"] for p in mon.execute("qom-list", {"path": "/machine/peripheral"})}
            assert peripherals["rng0"] == "child<virtio-rng-pci>"
            objects = {p["name"]: p["type"] for p in mon.execute("qom-list", {"path": "/objects"})}
            assert objects["objrng0"] == "child<rng-egd>"
            chardevs = {c["label"]: c["filename"] for c in mon.execute("query-chardev")}
            assert chardevs["charrng0"].startswith("tcp:127.0.0.1:")
        finally:
            dom.destroy()
