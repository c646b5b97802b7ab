"""Real QEMU guests (firmware only: no OS needed) through pyvirt's public API."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from lxml import etree

import pyvirt
from pyvirt import DomainEvent, DomainState, ErrorCode
from pyvirt.conf.schema import validate
from pyvirt.events import Defined, Resumed, Started, Stopped, Suspended
from pyvirt.util.caps import read_process_caps


def guest(virt_type: str, name: str = "fw", extra: str = "") -> str:
    return f"""<domain type='{virt_type}'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type>hvm</type></os><devices><serial type='pty'/><memballoon model='virtio'/>{extra}</devices></domain>"""


def qemu_pid(root: Path, name: str) -> int:
    return int((root / "run" / "qemu" / f"{name}.pid").read_text())


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def guest_files(root: Path) -> list[str]:
    """What the guests' runs left in the run directory (``driver.pid`` is the open driver's own, as libvirt's)."""
    return sorted(f for f in os.listdir(root / "run" / "qemu") if f != "driver.pid")


def test_lifecycle_states_events_and_nothing_left(conn: pyvirt.Connection, qemu_root: Path, virt_type: str) -> None:
    events: list[tuple[int, int]] = []
    conn.register_domain_event(lambda ev: events.append((ev.event, ev.detail)))
    dom = conn.define_domain(guest(virt_type))
    assert (qemu_root / "etc" / "qemu" / "fw.xml").exists()
    dom.create()
    pid = qemu_pid(qemu_root, "fw")
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert b"guest=fw,debug-threads=on" in cmdline and (b"kvm" if virt_type == "kvm" else b"tcg") in cmdline
    assert dom.state() == (DomainState.RUNNING, 1) and dom.id >= 1
    caps = read_process_caps(pid)
    assert caps.effective == caps.permitted == caps.bounding == frozenset()  # QEMU keeps no capability
    assert os.getppid() != pid and Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1] != str(
        os.getpid()
    )
    # the pty QEMU allocated for the serial port is in the live XML, as libvirt shows it
    validate(dom.xml_desc(), "domain")
    live = etree.fromstring(dom.xml_desc().encode())
    pty = str(live.xpath("string(devices/serial/source/@path)"))
    assert pty.startswith("/dev/pts/") and os.path.exists(pty)
    assert live.xpath("string(devices/console/@tty)") == pty
    dom.suspend()
    assert dom.state() == (DomainState.PAUSED, 1)
    dom.resume()
    assert dom.state() == (DomainState.RUNNING, 5)
    assert dom.info().max_memory_kib == 65536
    dom.destroy()
    assert dom.state() == (DomainState.SHUTOFF, 2)
    assert gone(pid)
    assert guest_files(qemu_root) == []
    time.sleep(0.1)
    assert events == [
        (DomainEvent.DEFINED, Defined.ADDED), (DomainEvent.STARTED, Started.BOOTED),
        (DomainEvent.SUSPENDED, Suspended.PAUSED), (DomainEvent.RESUMED, Resumed.UNPAUSED),
        (DomainEvent.STOPPED, Stopped.DESTROYED),
    ]  # fmt: skip
    dom.undefine()
    assert not (qemu_root / "etc" / "qemu" / "fw.xml").exists()


def test_a_guest_killed_behind_our_back_is_reported_failed(
    conn: pyvirt.Connection, qemu_root: Path, virt_type: str
) -> None:
    seen: list[tuple[int, int]] = []
    conn.register_domain_event(lambda ev: seen.append((ev.event, ev.detail)))
    dom = conn.create_domain(guest(virt_type, "victim"))
    pid = qemu_pid(qemu_root, "victim")
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while (DomainEvent.STOPPED, Stopped.FAILED) not in seen and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (DomainEvent.STOPPED, Stopped.FAILED) in seen
    with pytest.raises(pyvirt.NotFoundError):  # transient: gone with its process
        conn.lookup_domain_by_name("victim")
    assert guest_files(qemu_root) == []
    del dom


def _open_and_start(root: Path, xml: str) -> None:
    code = textwrap.dedent(f"""
        import pyvirt
        with pyvirt.open("qemu:///embed?root={root}") as c:
            c.define_domain({xml!r}).create()
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_guests_outlive_the_process_and_are_found_again(qemu_root: Path, virt_type: str) -> None:
    _open_and_start(qemu_root, guest(virt_type, "survivor"))
    pid = qemu_pid(qemu_root, "survivor")
    assert not gone(pid)
    with pyvirt.open(f"qemu:///embed?root={qemu_root}") as conn:
        dom = conn.lookup_domain_by_name("survivor")
        assert dom.id >= 1 and dom.state()[0] == DomainState.RUNNING
        dom.suspend()  # the monitor is really reconnected
        assert dom.state()[0] == DomainState.PAUSED
        dom.destroy()
        assert gone(pid)


def test_a_second_process_works_through_the_shared_monitor(conn: pyvirt.Connection, qemu_root: Path,
                                                            virt_type: str) -> None:  # fmt: skip
    """QEMU serves one client per QMP monitor: while this process holds the main one, another process sees the
    guest from its status file and drives it through the guest's second monitor, one command at a time."""
    dom = conn.define_domain(guest(virt_type, "shared"))
    dom.create()
    pyvirsh = [os.path.join(os.path.dirname(sys.executable), "pyvirsh"), "-c", f"qemu:///embed?root={qemu_root}"]
    listed = subprocess.run([*pyvirsh, "list"], capture_output=True, text=True, check=True).stdout
    assert "shared" in listed and "running" in listed
    subprocess.run([*pyvirsh, "suspend", "shared"], capture_output=True, text=True, check=True)
    deadline = time.monotonic() + 10
    while dom.state()[0] != DomainState.PAUSED and time.monotonic() < deadline:  # QEMU's STOP reaches us too
        time.sleep(0.02)
    assert dom.state()[0] == DomainState.PAUSED
    subprocess.run([*pyvirsh, "resume", "shared"], capture_output=True, text=True, check=True)
    while dom.state()[0] != DomainState.RUNNING and time.monotonic() < deadline:
        time.sleep(0.02)
    assert dom.state()[0] == DomainState.RUNNING
    stats = subprocess.run([*pyvirsh, "domstats", "shared", "--balloon"], capture_output=True, text=True, check=True)
    assert "balloon.current=65536" in stats.stdout
    dom.destroy()
    assert not list((qemu_root / "run" / "qemu").glob("shared.shared.monitor*"))
    dom.undefine()


def test_guests_that_died_meanwhile_are_reconciled(qemu_root: Path, virt_type: str) -> None:
    _open_and_start(qemu_root, guest(virt_type, "ghost"))
    pid = qemu_pid(qemu_root, "ghost")
    os.kill(pid, signal.SIGKILL)
    for _ in range(200):
        if gone(pid):
            break
        time.sleep(0.01)
    with pyvirt.open(f"qemu:///embed?root={qemu_root}") as conn:
        dom = conn.lookup_domain_by_name("ghost")
        assert dom.state() == (DomainState.SHUTOFF, 3)  # crashed
        assert not (qemu_root / "run" / "qemu" / "ghost.xml").exists()


def test_failed_starts_leave_nothing_behind(
    conn: pyvirt.Connection, qemu_root: Path, virt_type: str, tmp_path: Path
) -> None:
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * 1024)
    os.chown(disk, 1234, 1234)
    bad_emulator = guest(virt_type, "bad", f"<emulator>/nonexistent/qemu</emulator><disk type='file' device='disk'>"
                                        f"<source file='{disk}'/><target dev='vda' bus='virtio'/></disk>")  # fmt: skip
    dom = conn.define_domain(bad_emulator)
    with pytest.raises(pyvirt.Error):
        dom.create()
    assert dom.state()[0] == DomainState.SHUTOFF
    assert guest_files(qemu_root) == []
    assert (disk.stat().st_uid, disk.stat().st_gid) == (1234, 1234)
    assert not [n for n in os.listxattr(disk) if n.startswith("trusted.libvirt")]
    qemu_refuses = conn.define_domain(guest(virt_type, "notqcow", f"<disk type='file' device='disk'>"
        f"<driver name='qemu' type='qcow2'/><source file='{disk}'/><target dev='vda' bus='virtio'/></disk>"))  # fmt: skip
    began = time.monotonic()
    with pytest.raises(pyvirt.Error) as failed:
        qemu_refuses.create()
    # QEMU's own complaint reaches the caller, and its early exit ends the wait for the monitor
    assert "qcow2" in failed.value.message and time.monotonic() - began < 10
    assert guest_files(qemu_root) == [] and qemu_refuses.state()[0] == DomainState.SHUTOFF
    assert (disk.stat().st_uid, disk.stat().st_gid) == (1234, 1234)
    unsupported = conn.define_domain(guest(virt_type, "odd", "<shmem name='s'><model type='ivshmem-plain'/></shmem>"))
    with pytest.raises(pyvirt.NotSupportedError) as e:
        unsupported.create()
    assert e.value.code == ErrorCode.CONFIG_UNSUPPORTED and "shmem" in e.value.message


def test_tcg_for_type_qemu_and_uri_rules(qemu_root: Path) -> None:
    from pyvirt_qemu.command_line import build_command_line

    from pyvirt.conf.domain import parse_domain

    cmd = build_command_line(parse_domain(guest("qemu")), "/run/x.monitor")
    text = " ".join(cmd.argv)
    assert "-accel tcg" in text and "-cpu qemu64" in text and "-display none" in text
    with pytest.raises(pyvirt.Error) as e:
        pyvirt.open("qemu:///bogus")
    assert "unexpected QEMU URI path '/bogus', try qemu:///system" in e.value.message


def test_domxml_to_native_prints_the_command_line(qemu_root: Path, tmp_path: Path) -> None:
    xml = tmp_path / "g.xml"
    xml.write_text(guest("qemu", "native"))
    out = subprocess.run(
        [sys.executable, "-m", "pyvirt.cli.main", "-c", f"qemu:///embed?root={qemu_root}", "domxml-to-native",
         "qemu-argv", str(xml)], capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert out.startswith("LC_ALL=C ") and " -name guest=native,debug-threads=on -S " in out and "-accel tcg" in out
    # taps the driver would open are named for QEMU instead; UEFI shows its pflash drives
    xml.write_text(guest("qemu", "native", "<interface type='bridge'><source bridge='br9'/></interface>")
                   .replace("<os>", "<os firmware='efi'>").replace("</os>", "</os><features><acpi/></features>"))  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-m", "pyvirt.cli.main", "-c", f"qemu:///embed?root={qemu_root}", "domxml-to-native",
         "qemu-argv", str(xml)], capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert '"type":"tap","ifname":"vnet0","script":"no","downscript":"no"' in out
    assert ",pflash0=libvirt-pflash0-format,pflash1=libvirt-pflash1-format" in out
    assert not (qemu_root / "lib" / "qemu" / "nvram" / "native_VARS.fd").exists()  # showing a command creates nothing
    bad = subprocess.run(
        [sys.executable, "-m", "pyvirt.cli.main", "-c", f"qemu:///embed?root={qemu_root}", "domxml-to-native",
         "xen-xl", str(xml)], capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert bad.returncode == 1 and "unsupported config type xen-xl" in bad.stderr


def test_qemu_runs_as_the_configured_user_without_capabilities(qemu_root: Path) -> None:
    """qemu.conf's user/group: QEMU drops to them with empty capability sets; its files are lent and given back."""
    # pytest's temporary directories are root's alone; an unprivileged QEMU needs a path it can walk
    base = Path(tempfile.mkdtemp(prefix="pyvirt-nonroot-", dir="/var/tmp"))
    base.chmod(0o755)
    root = base / "embed"
    try:
        (root / "etc").mkdir(parents=True)
        (root / "etc" / "qemu.conf").write_text('user = "+4242"\ngroup = "+4343"  # no such account: numeric ids\n')
        disk = base / "disk.img"
        disk.write_bytes(b"\0" * 65536)
        os.chown(disk, 1234, 1234)
        # this host's /dev/kvm is root's alone, so the unprivileged guest runs under TCG
        with pyvirt.open(f"qemu:///embed?root={root}") as conn:
            dom = conn.create_domain(guest("qemu", "plain", f"<disk type='file' device='disk'><driver name='qemu' "
                                           f"type='raw'/><source file='{disk}'/><target dev='vda'/></disk>"))  # fmt: skip
            pid = qemu_pid(root, "plain")
            status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
            assert status["Uid"].split() == ["4242"] * 4 and status["Gid"].split() == ["4343"] * 4
            for caps in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
                assert int(status[caps], 16) == 0, caps
            assert (disk.stat().st_uid, disk.stat().st_gid) == (4242, 4343)  # lent to QEMU for the run
            key = next(root.rglob("master-key.aes"))
            assert (key.stat().st_uid, key.stat().st_mode & 0o777) == (4242, 0o600)
            assert dom.state()[0] == DomainState.RUNNING
            dom.destroy()
        assert (disk.stat().st_uid, disk.stat().st_gid) == (1234, 1234)  # and given back
    finally:
        for pid_file in root.glob("run/*.pid"):
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text()), 9)
        shutil.rmtree(base, ignore_errors=True)


def test_guest_agent_modes_without_an_agent(conn: pyvirt.Connection, virt_type: str) -> None:
    """Agent shutdown needs the channel and a guest that opened it; the default falls back to ACPI."""
    plain = conn.create_domain(guest(virt_type, "noagent"))
    with pytest.raises(pyvirt.Error) as e:
        plain.shutdown(2)  # VIR_DOMAIN_SHUTDOWN_GUEST_AGENT
    assert e.value.code == ErrorCode.ARGUMENT_UNSUPPORTED
    assert str(e.value) == "argument unsupported: QEMU guest agent is not configured"
    channel = "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
    quiet = conn.create_domain(guest(virt_type, "quietagent", channel))  # firmware only: nobody opens the port
    live = etree.fromstring(quiet.xml_desc().encode())
    path = str(live.xpath("string(devices/channel/source/@path)"))
    assert path.endswith("/domain-quietagent/org.qemu.guest_agent.0") and os.path.exists(path)
    assert live.xpath("string(devices/channel/source/@mode)") == "bind"
    with pytest.raises(pyvirt.Error) as e:
        quiet.reboot(2)
    assert e.value.code == ErrorCode.AGENT_UNRESPONSIVE
    assert str(e.value) == "Guest agent is not responding: QEMU guest agent is not connected"
    with pytest.raises(pyvirt.Error) as e:
        quiet.shutdown(4)  # initctl: not a QEMU mode
    assert e.value.code == ErrorCode.INVALID_ARG
    quiet.shutdown()  # no agent listening: the ACPI power button instead, not an error
    # The firmware-only guest normally ignores the button; twice in CI (under load) it powered off a moment
    # later, which ends a transient guest: both are the button's outcome, and either leaves no QEMU behind.
    try:
        assert quiet.state()[0] in (DomainState.RUNNING, DomainState.SHUTDOWN)
        quiet.destroy()
    except pyvirt.Error as gone:
        assert gone.code == ErrorCode.NO_DOMAIN, gone
    plain.destroy()
    assert not os.path.exists(path)
