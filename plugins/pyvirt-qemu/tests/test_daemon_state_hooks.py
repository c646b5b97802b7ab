"""pyvirtd's state hooks with real guests: autostart once per host boot, reload on SIGHUP, guests outlive SIGTERM.

The story of an operator on one host: guests and a container are marked
autostart; the host reboots (its /run is emptied, so the drivers'
``autostarted`` markers are gone) and the daemon that comes up starts them,
reporting the one that cannot start without giving up on the others. The
daemon is restarted (``systemctl restart``: SIGTERM) and the guests keep
running, found again by the next daemon, which does not start anything a
second time in the same boot. The clients are Debian's virsh.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.testing.sources import require

pytestmark = pytest.mark.skipif(not shutil.which("virsh"), reason="Debian's virsh (libvirt-clients) is not installed")


def guest(virt_type: str, name: str, extra: str = "") -> str:
    return f"""<domain type='{virt_type}'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type></os><devices><serial type='pty'/>{extra}</devices></domain>"""


def container(name: str, rootfs: Path) -> str:
    return f"""<domain type='lxc'><name>{name}</name><memory unit='MiB'>64</memory>
<os><type>exe</type><init>/sbin/init</init></os><devices>
<filesystem type='mount'><source dir='{rootfs}'/><target dir='/'/></filesystem><console type='pty'/></devices></domain>"""


class Virsh:
    def __init__(self, daemon: PrivateDaemon, driver: str) -> None:
        self.uri = daemon.uri(f"{driver}:///system")

    def __call__(self, *args: str, check: bool = True) -> str:
        run = subprocess.run(["virsh", "-c", self.uri, *args], capture_output=True, text=True, timeout=120,
                             check=False)  # fmt: skip
        assert not check or run.returncode == 0, f"virsh {' '.join(args)}: {run.stderr}"
        return run.stdout.strip()

    def listing(self) -> dict[str, tuple[str, str]]:
        """``list --all`` as name -> (id, state)."""
        rows = [line.split(None, 2) for line in self("list", "--all").splitlines()[2:] if line.strip()]
        return {name: (ident, state) for ident, name, state in rows}


def processes(root: Path, marker: bytes) -> dict[str, list[int]]:
    """Live processes under ``root`` whose command line has ``marker`` (QEMU, LXC controllers), by guest name."""
    found: dict[str, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            args = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not any(marker in a for a in args) or not any(str(root).encode() in a for a in args):
            continue
        if marker == b"qemu-system":
            name = next((a.split(b",")[0][6:].decode() for a in args if a.startswith(b"guest=")), "?")
        else:  # the controller is given its container's spec file, RUN/NAME.spec
            name = next((Path(a.decode()).stem for a in args if a.endswith(b".spec")), "?")
        found.setdefault(name, []).append(int(entry))
    return found


def daemon_log(daemon: PrivateDaemon, since: int) -> str:
    return daemon.log()[since:]


@pytest.fixture
def busybox_rootfs(tmp_path: Path) -> Path:
    if importlib.util.find_spec("pyvirt_lxc") is None:
        pytest.skip("pyvirt-lxc is not installed")
    busybox = require("guest-linux") / "busybox"
    rootfs = tmp_path / "rootfs"
    for d in ("bin", "sbin", "proc", "sys", "dev", "etc", "tmp"):
        (rootfs / d).mkdir(parents=True)
    (rootfs / "bin" / "busybox").write_bytes(busybox.read_bytes())
    (rootfs / "bin" / "busybox").chmod(0o755)
    for applet in ("sh", "sleep"):
        (rootfs / "bin" / applet).symlink_to("busybox")
    (rootfs / "sbin" / "init").write_text("#!/bin/sh\nexec sleep 1000000\n")
    (rootfs / "sbin" / "init").chmod(0o755)
    return rootfs


@pytest.fixture
def daemon_root(qemu_root: Path) -> Iterator[Path]:
    """The qemu root (its fixture kills any QEMU left), and any LXC controller or container left under it."""
    yield qemu_root
    for pids in processes(qemu_root, b"pyvirt_lxc.controller").values():
        for pid in pids:
            for task in Path(f"/proc/{pid}/task").iterdir():
                for child in (task / "children").read_text().split():
                    os.kill(int(child), signal.SIGKILL)
            os.kill(pid, signal.SIGKILL)


def reboot(root: Path) -> None:
    """What a host boot does to the drivers' autostart markers: /run is a tmpfs, emptied."""
    for driver in ("qemu", "lxc"):
        (root / "run" / driver / "autostarted").unlink()


def test_autostart_once_per_boot_and_guests_outlive_the_daemon(
    daemon_root: Path, virt_type: str, busybox_rootfs: Path, tmp_path: Path
) -> None:
    with PrivateDaemon(daemon_root) as daemon:
        qemu, lxc = Virsh(daemon, "qemu"), Virsh(daemon, "lxc")
        (tmp_path / "g.xml").write_text(guest(virt_type, "g"))
        # listed (by name) before g: its failure must not keep g from starting
        (tmp_path / "a-broken.xml").write_text(
            guest(virt_type, "a-broken", f"<disk type='file' device='disk'><source file='{tmp_path}/missing.img'/>"
                                         "<target dev='vda' bus='virtio'/></disk>"))  # fmt: skip
        (tmp_path / "c.xml").write_text(container("c", busybox_rootfs))
        for name in ("g", "a-broken"):
            qemu("define", str(tmp_path / f"{name}.xml"))
            qemu("autostart", name)
        lxc("define", str(tmp_path / "c.xml"))
        lxc("autostart", "c")
        assert qemu.listing()["g"] == ("-", "shut off")
    # this daemon's own start was the first after the root's "boot": nothing was defined then
    assert (daemon_root / "run" / "qemu" / "autostarted").exists()
    assert not processes(daemon_root, b"qemu-system")

    reboot(daemon_root)
    since = len(PrivateDaemon(daemon_root).log())
    daemon = PrivateDaemon(daemon_root).start()
    try:
        qemu, lxc = Virsh(daemon, "qemu"), Virsh(daemon, "lxc")
        listing, containers = qemu.listing(), lxc.listing()
        assert listing["g"][1] == "running" and listing["a-broken"] == ("-", "shut off"), listing
        assert containers["c"][1] == "running", containers
        assert qemu("domstate", "g", "--reason") == "running (booted)"
        log = daemon_log(daemon, since)
        assert "Failed to autostart VM 'a-broken'" in log and "missing.img" in log, log
        qemus, controllers = processes(daemon_root, b"qemu-system"), processes(daemon_root, b"pyvirt_lxc.controller")
        assert sorted(qemus) == ["g"] and len(qemus["g"]) == 1, qemus
        assert sorted(controllers) == ["c"] and len(controllers["c"]) == 1, controllers
    finally:
        assert daemon.stop() == 0  # SIGTERM: libvirtd's shutdown, guests keep running

    # the guests outlived the daemon
    assert processes(daemon_root, b"qemu-system") == qemus
    assert processes(daemon_root, b"pyvirt_lxc.controller") == controllers
    since = len(daemon.log())
    with PrivateDaemon(daemon_root) as daemon:
        qemu, lxc = Virsh(daemon, "qemu"), Virsh(daemon, "lxc")
        # found again, same ids, same processes: and nothing started a second time in this boot
        assert qemu.listing() == listing
        assert lxc.listing() == containers
        assert processes(daemon_root, b"qemu-system") == qemus
        assert processes(daemon_root, b"pyvirt_lxc.controller") == controllers
        assert "a-broken" not in daemon_log(daemon, since)  # (a second autostart would have tried it again)
        qemu("destroy", "g")
        lxc("destroy", "c")
    with PrivateDaemon(daemon_root) as daemon:
        qemu, lxc = Virsh(daemon, "qemu"), Virsh(daemon, "lxc")
        assert qemu.listing()["g"] == ("-", "shut off") and lxc.listing()["c"] == ("-", "shut off")
        assert not processes(daemon_root, b"qemu-system")


def state_calls(log: str) -> list[tuple[str, str]]:
    """The daemon's state-hook calls, in the order its log shows them."""
    return re.findall(r"pyvirt\.daemon\.state: (\w+): (state_\w+)$", log, re.M)


def wait_for(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_state_hooks_in_order_and_sighup_reloads(daemon_root: Path, virt_type: str, tmp_path: Path) -> None:
    daemon = PrivateDaemon(daemon_root, "-v").start()
    try:
        qemu, storage = Virsh(daemon, "qemu"), Virsh(daemon, "qemu")
        assert "late" not in qemu.listing()  # (answered once the drivers are initialised: the sockets listen before)
        started = state_calls(daemon.log())
        drivers = [d for d in ("network", "nwfilter", "storage", "qemu", "lxc")
                   if importlib.util.find_spec(f"pyvirt_{d}")]  # fmt: skip
        assert started == [(d, "state_initialize") for d in drivers], started

        # definitions placed on disk behind the daemon's back, as an operator restoring /etc would
        # (with its uuid, as every file the driver writes has: without one, each read would make up another)
        late_xml = guest(virt_type, "late").replace(
            "</name>", "</name><uuid>8a7c2d44-7f3e-4c43-9a6e-0b1f1c2d3e4f</uuid>"
        )
        (daemon_root / "etc" / "qemu" / "late.xml").write_text(late_xml)
        pool_dir = tmp_path / "pool"
        pool_dir.mkdir()
        storage("pool-define-as", "later", "dir", "--target", str(pool_dir))
        storage("pool-autostart", "later")
        assert "late" not in qemu.listing()
        assert re.search(r"later\s+inactive\s+yes", storage("pool-list", "--all")), storage("pool-list", "--all")

        assert daemon.proc is not None
        daemon.proc.send_signal(signal.SIGHUP)
        # libvirt's stateReload: the new definition appears, the autostart pool that is not running starts
        wait_for(lambda: "late" in qemu.listing(), "SIGHUP did not load the new definition")
        assert qemu.listing()["late"] == ("-", "shut off")
        assert re.search(r"later\s+active\s+yes", storage("pool-list", "--all")), storage("pool-list", "--all")
        wait_for(lambda: len(state_calls(daemon.log())) == 2 * len(drivers), "reload calls missing")
        assert state_calls(daemon.log())[len(drivers) :] == [(d, "state_reload") for d in drivers]
        # the definition changed on disk: the next SIGHUP takes the change, and defines nothing twice
        late = daemon_root / "etc" / "qemu" / "late.xml"
        late.write_text(late.read_text().replace("<memory unit='MiB'>64</memory>", "<memory unit='MiB'>96</memory>"))
        assert "<memory unit='KiB'>65536</memory>" in qemu("dumpxml", "late")
        daemon.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: len(state_calls(daemon.log())) == 3 * len(drivers), "second reload calls missing")
        wait_for(lambda: "<memory unit='KiB'>98304</memory>" in qemu("dumpxml", "late"), "changed definition not read")
        assert list(qemu.listing()).count("late") == 1
    finally:
        assert daemon.stop() == 0
    calls = state_calls(daemon.log())[3 * len(drivers) :]
    assert calls == (
        [(d, "state_shutdown_prepare") for d in drivers]
        + [(d, "state_shutdown_wait") for d in drivers]
        + [(d, "state_cleanup") for d in reversed(drivers)]
    ), calls
