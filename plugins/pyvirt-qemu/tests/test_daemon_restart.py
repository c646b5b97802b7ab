"""pyvirtd killed with SIGKILL under running guests and containers, and clients killed in the middle of a start.

What a user must see after the daemon comes back on the same root: every
guest that was running still runs (the same QEMU or container, the same id,
state and labels) and can be destroyed; a guest that died while nobody was
watching is reported "shut off (crashed)" and its runtime files are gone. A
client killed while its start was in flight leaves at most one QEMU, and
``list`` says what /proc says. The clients are Debian's virsh, speaking
libvirt's own protocol to the daemon.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.local_driver.paths import paths_for_uri
from pyvirt.testing.sources import require
from pyvirt.uri import parse_uri

pytestmark = pytest.mark.skipif(not shutil.which("virsh"), reason="Debian's virsh (libvirt-clients) is not installed")


def run_dir(root: Path, driver: str) -> Path:
    return Path(paths_for_uri(parse_uri(f"{driver}:///embed?root={root}"), driver).run)


def guest(virt_type: str, name: str) -> str:
    return f"""<domain type='{virt_type}'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type></os><devices><serial type='pty'/></devices></domain>"""


def container(name: str, rootfs: Path) -> str:
    return f"""<domain type='lxc'><name>{name}</name><memory unit='MiB'>64</memory>
<os><type>exe</type><init>/sbin/init</init></os><devices>
<filesystem type='mount'><source dir='{rootfs}'/><target dir='/'/></filesystem><console type='pty'/></devices></domain>"""


def cmdlines() -> Iterator[tuple[int, list[bytes]]]:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                raw = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if raw:  # a zombie has no command line: it is gone
                yield int(entry), raw.split(b"\0")


def qemus(root: Path) -> dict[str, list[int]]:
    """Live QEMU processes under ``root`` by guest name."""
    found: dict[str, list[int]] = {}
    for pid, args in cmdlines():
        if any(b"qemu-system" in a for a in args[:1]) and any(str(root).encode() in a for a in args):
            name = next((a.split(b",")[0][6:].decode() for a in args if a.startswith(b"guest=")), "?")
            found.setdefault(name, []).append(pid)
    return found


def children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def kill_and_reap(pid: int) -> None:
    """SIGKILL and wait until the process is gone (PID 1 here reaps late; a zombie has no command line)."""
    fd = os.pidfd_open(pid)
    try:
        signal.pidfd_send_signal(fd, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}/cmdline").exists() and Path(f"/proc/{pid}/cmdline").read_bytes():
            assert time.monotonic() < deadline, f"process {pid} survived SIGKILL"
            time.sleep(0.01)
    finally:
        os.close(fd)


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

    def labels(self, name: str) -> list[str]:
        return re.findall(r"<seclabel.*?</seclabel>|<seclabel[^>]*/>", self("dumpxml", name), re.S)


def process_label(pid: int) -> tuple[str, str, str]:
    """What a security driver sets on a process: its uid and gid lines and its LSM context."""
    status = Path(f"/proc/{pid}/status").read_text()
    uid = next(line for line in status.splitlines() if line.startswith("Uid:"))
    gid = next(line for line in status.splitlines() if line.startswith("Gid:"))
    try:
        context = Path(f"/proc/{pid}/attr/current").read_text()
    except OSError:
        context = ""
    return uid, gid, context


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
    for pid, args in cmdlines():
        if any(str(qemu_root).encode() in a for a in args) and any(b"pyvirt_lxc.controller" in a for a in args):
            for child in children(pid):
                os.kill(child, signal.SIGKILL)
            os.kill(pid, signal.SIGKILL)


def test_sigkill_pyvirtd_under_three_guests_and_two_containers(
    daemon_root: Path, virt_type: str, busybox_rootfs: Path, tmp_path: Path
) -> None:
    daemon = PrivateDaemon(daemon_root).start()
    try:
        qemu, lxc = Virsh(daemon, "qemu"), Virsh(daemon, "lxc")
        for name in ("g1", "g2", "g3"):
            (tmp_path / f"{name}.xml").write_text(guest(virt_type, name))
            qemu("define", str(tmp_path / f"{name}.xml"))
            qemu("start", name)
        for name in ("c1", "c2"):
            (tmp_path / f"{name}.xml").write_text(container(name, busybox_rootfs))
            lxc("define", str(tmp_path / f"{name}.xml"))
            lxc("start", name)
        before_qemu, before_lxc = qemu.listing(), lxc.listing()
        assert {s for _i, s in before_qemu.values()} == {"running"} and len(before_qemu) == 3
        assert {s for _i, s in before_lxc.values()} == {"running"} and len(before_lxc) == 2
        labels = {name: qemu.labels(name) for name in before_qemu} | {name: lxc.labels(name) for name in before_lxc}
        pids = qemus(daemon_root)
        assert sorted(pids) == ["g1", "g2", "g3"] and all(len(p) == 1 for p in pids.values()), pids
        proc_labels = {name: process_label(p[0]) for name, p in pids.items()}
        controllers = {
            name: pid for pid, args in cmdlines() for name in ("c1", "c2")
            if any(str(daemon_root).encode() in a for a in args) and any(b"pyvirt_lxc.controller" in a for a in args)
            and any(f"/{name}.".encode() in a or a == name.encode() for a in args)
        }  # fmt: skip
        assert sorted(controllers) == ["c1", "c2"], controllers
        assert (run_dir(daemon_root, "qemu") / "g3.xml").exists() and (run_dir(daemon_root, "lxc") / "c2.xml").exists()

        daemon.kill()
        # while nobody watches: one guest and one container die
        kill_and_reap(pids["g3"][0])
        for child in children(controllers["c2"]):
            kill_and_reap(child)
        daemon = PrivateDaemon(daemon_root).start()
        qemu, lxc = Virsh(daemon, "qemu"), Virsh(daemon, "lxc")

        after_qemu, after_lxc = qemu.listing(), lxc.listing()
        for name in ("g1", "g2"):
            assert after_qemu[name] == before_qemu[name], f"{name}: {before_qemu[name]} -> {after_qemu[name]}"
            assert qemu.labels(name) == labels[name]
            assert qemus(daemon_root)[name] == pids[name], "the guest's QEMU was replaced"
            assert process_label(pids[name][0]) == proc_labels[name]
            assert qemu("domstate", name, "--reason") == "running (booted)"
        assert after_lxc["c1"] == before_lxc["c1"]
        assert lxc.labels("c1") == labels["c1"]
        assert after_qemu["g3"] == ("-", "shut off")
        assert qemu("domstate", "g3", "--reason") == "shut off (crashed)"
        assert after_lxc["c2"] == ("-", "shut off")
        assert lxc("domstate", "c2", "--reason") == "shut off (crashed)"
        assert sorted(p.name for p in run_dir(daemon_root, "qemu").iterdir() if p.name.startswith("g3.")) == []
        assert sorted(p.name for p in run_dir(daemon_root, "lxc").iterdir() if p.name.startswith("c2.")) == []

        # the survivors are still fully usable through the new daemon
        for name in ("g1", "g2"):
            qemu("destroy", name)
        lxc("destroy", "c1")
        assert qemus(daemon_root) == {}
        assert {s for _i, s in qemu.listing().values()} == {"shut off"}
        assert {s for _i, s in lxc.listing().values()} == {"shut off"}
        qemu("start", "g3")  # and the crashed one starts again
        assert qemu.listing()["g3"][1] == "running"
        qemu("destroy", "g3")
        assert not daemon.tracebacks(), daemon.tracebacks()
    finally:
        daemon.kill()


START_CLIENT = """
import sys, libvirt
conn = libvirt.open(sys.argv[1])
conn.lookupByName(sys.argv[2]).create()
"""


def test_a_client_killed_in_the_middle_of_a_start_leaves_a_consistent_state(
    qemu_root: Path, virt_type: str, tmp_path: Path
) -> None:
    if not os.path.exists("/usr/lib/python3/dist-packages/libvirt.py"):
        pytest.skip("Debian's python3-libvirt is not installed")
    with PrivateDaemon(qemu_root) as daemon:
        qemu = Virsh(daemon, "qemu")
        (tmp_path / "mid.xml").write_text(guest(virt_type, "mid"))
        qemu("define", str(tmp_path / "mid.xml"))
        # kill the client at different points of its start: before, during and after the daemon's work
        # (None: the moment the daemon has spawned the QEMU, while the start is still being finished)
        outcomes = []
        for delay in (0.0, 0.02, 0.05, 0.08, 0.12, 0.2, 0.3, 0.5, 1.5, None, None, None):
            client = subprocess.Popen(["/usr/bin/python3", "-c", START_CLIENT, qemu.uri, "mid"])
            if delay is None:
                deadline = time.monotonic() + 30
                while not qemus(qemu_root).get("mid") and client.poll() is None:
                    assert time.monotonic() < deadline
                    time.sleep(0.002)
            else:
                time.sleep(delay)
            client.kill()
            client.wait()
            deadline = time.monotonic() + 30
            while True:  # the start the daemon took on finishes (or never began); then everything agrees
                running = qemus(qemu_root).get("mid", [])
                assert len(running) <= 1, f"{len(running)} QEMUs for one guest: {running}"
                ident, state = qemu.listing()["mid"]
                if (state == "running") == bool(running) and (ident == "-") != bool(running):
                    break
                assert time.monotonic() < deadline, f"list says {ident} {state}, /proc shows QEMUs {running}"
                time.sleep(0.1)
            outcomes.append(bool(running))
            if running:
                qemu("destroy", "mid")
                assert qemus(qemu_root).get("mid", []) == []
        assert True in outcomes and False in outcomes, f"the kills missed the start: {outcomes}"
        qemu("start", "mid")
        assert len(qemus(qemu_root)["mid"]) == 1
        qemu("destroy", "mid")
        assert not daemon.tracebacks(), daemon.tracebacks()


def test_pyvirtd_killed_in_the_middle_of_a_start_recovers_a_consistent_state(
    qemu_root: Path, virt_type: str, tmp_path: Path
) -> None:
    """SIGKILL the daemon at points of a start (the QEMU just spawned, or a little later), then restart it.

    Whatever the point, the new daemon must agree with /proc: at most one QEMU, and a guest that is listed
    running exactly when its QEMU runs; the guest can then be destroyed and started again.
    """
    (tmp_path / "half.xml").write_text(guest(virt_type, "half"))
    daemon = PrivateDaemon(qemu_root).start()
    try:
        Virsh(daemon, "qemu")("define", str(tmp_path / "half.xml"))
        outcomes = []
        for delay in (0.0, 0.0, 0.01, 0.03, 0.06, 0.1):
            qemu = Virsh(daemon, "qemu")
            starter = subprocess.Popen(["virsh", "-c", qemu.uri, "start", "half"], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)  # fmt: skip
            deadline = time.monotonic() + 30
            while not qemus(qemu_root).get("half") and starter.poll() is None:
                assert time.monotonic() < deadline
                time.sleep(0.001)
            time.sleep(delay)
            daemon.kill()
            starter.wait(30)
            daemon = PrivateDaemon(qemu_root).start()
            qemu = Virsh(daemon, "qemu")
            # the daemon answers once its drivers have reconnected (clients queue meanwhile): ask it first
            ident, state = qemu.listing()["half"]
            running = qemus(qemu_root).get("half", [])
            assert len(running) <= 1, f"{len(running)} QEMUs for one guest: {running}"
            assert (state in ("running", "paused")) == bool(running), f"list says {state}, QEMUs: {running}"
            assert (ident != "-") == bool(running)
            outcomes.append(state)
            if running:
                qemu("destroy", "half")
                assert qemus(qemu_root).get("half", []) == []
            assert qemu.listing()["half"] == ("-", "shut off")
        print("states after each kill:", outcomes)
        qemu("start", "half")
        assert len(qemus(qemu_root)["half"]) == 1
        assert qemu("domstate", "half", "--reason") == "running (booted)"
        qemu("destroy", "half")
        assert not daemon.tracebacks(), daemon.tracebacks()
    finally:
        daemon.kill()
