"""guestinfo, guestvcpus, get-user-sshkeys / set-user-sshkeys and guest-agent-timeout against the real qemu-ga
inside a Linux guest (Debian's kernel, a busybox initramfs, the host's qemu-ga and its libraries), under TCG.

One guest per side: pyvirt's (module-scoped, shared by the tests here) and the
same initramfs booted by a private libvirtd 9.0, both at once; the same virsh
line run by pyvirsh and by Debian's virsh must print the same, byte for byte,
once the few values that differ between two guests (login times, free bytes)
are masked. qemu-ga comes from Debian's qemu-guest-agent package on the host:
without it the tests skip.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import struct
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import pyvirt
from pyvirt.cli.main import main as pyvirsh_main
from pyvirt.testing.sources import require

QEMU_GA = Path("/usr/sbin/qemu-ga")
LIB_DIRS = (Path("/lib/x86_64-linux-gnu"), Path("/usr/lib/x86_64-linux-gnu"))
MODULES = ("virtio", "virtio_ring", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci", "virtio_console")

INIT = b"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs run /run
mkdir -p /root/.ssh /var/run
hostname gaguest
ip link set lo up
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_console; do
  insmod /lib/$m.ko
done
n=0
until ls /dev/vport*p1 >/dev/null 2>&1 || [ $n -ge 100 ]; do usleep 100000; n=$((n+1)); done
/lib64/ld-linux-x86-64.so.2 --library-path /lib /sbin/qemu-ga -m virtio-serial -p $(ls /dev/vport*p1 | head -1) \
  -t /run -f /run/qga.pid -b guest-get-users &
while :; do sleep 3600; done
"""
OS_RELEASE = b'PRETTY_NAME="pyvirt test guest"\nNAME="pyvirt"\nID=pyvirt\nVERSION_ID="1"\nVERSION="1 (test)"\n'


def needed(path: Path) -> list[str]:
    """An ELF file's DT_NEEDED names (its .dynamic section's strings), read without running anything."""
    data = path.read_bytes()
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    out = []
    for _name, kind, _flags, _addr, offset, size, link, _info, _align, _entsize in sections:
        if kind != 6:  # SHT_DYNAMIC
            continue
        strtab = sections[link][4]
        for pos in range(offset, offset + size, 16):
            tag, value = struct.unpack_from("<qQ", data, pos)
            if tag == 1:  # DT_NEEDED
                out.append(data[strtab + value : data.index(b"\0", strtab + value)].decode())
    return out


def libraries(binary: Path) -> dict[str, Path]:
    """Every shared library ``binary`` loads, by soname, found in Debian's multiarch directories."""
    found: dict[str, Path] = {}
    todo = needed(binary)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        path = next((d / name for d in LIB_DIRS if (d / name).exists()), None)
        assert path is not None, f"{name} (needed by {binary}) is not on this host"
        found[name] = path.resolve()
        todo += needed(found[name])
    return found


def newc(entries: list[tuple[str, int, bytes]]) -> bytes:
    """An uncompressed initramfs (cpio newc): (path, mode, data) entries, then the trailer."""
    out = bytearray()
    for ino, (name, mode, data) in enumerate([*entries, ("TRAILER!!!", 0, b"")], start=1):
        raw = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(raw), 0]
        out += b"070701" + b"".join(b"%08X" % f for f in fields) + raw
        out += b"\0" * (-len(out) % 4) + data
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


def initramfs(guest_linux: Path, target: Path) -> None:
    exe, folder, plain = stat.S_IFREG | 0o755, stat.S_IFDIR | 0o755, stat.S_IFREG | 0o644
    dirs = [(d, folder, b"") for d in ("bin", "sbin", "proc", "sys", "dev", "run", "lib", "lib64", "etc", "root",
                                        "var", "tmp")]  # fmt: skip
    files = [("bin/busybox", exe, (guest_linux / "busybox").read_bytes()), ("init", exe, INIT),
             ("sbin/qemu-ga", exe, QEMU_GA.read_bytes()), ("etc/os-release", plain, OS_RELEASE),
             ("etc/passwd", plain, b"root:x:0:0:root:/root:/bin/sh\n"), ("etc/group", plain, b"root:x:0:\n"),
             ("lib64/ld-linux-x86-64.so.2", exe, Path("/lib64/ld-linux-x86-64.so.2").read_bytes())]  # fmt: skip
    files += [(f"lib/{name}", exe, path.read_bytes()) for name, path in libraries(QEMU_GA).items()]
    files += [(f"lib/{m}.ko", exe, (guest_linux / f"{m}.ko").read_bytes()) for m in MODULES]
    target.write_bytes(newc([*dirs, *files]))


def domain_xml(name: str, guest_linux: Path, initrd: Path) -> str:
    return f"""<domain type='qemu'><name>{name}</name><memory unit='MiB'>256</memory><vcpu>2</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type><kernel>{guest_linux / "vmlinuz"}</kernel><initrd>{initrd}</initrd>
<cmdline>console=ttyS0 panic=-1 quiet</cmdline></os><features><acpi/></features><devices><serial type='pty'/>
<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
<memballoon model='none'/></devices></domain>"""


def wait_for(cond: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.2)


def _pyvirsh(root: Path, line: str) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = pyvirsh_main(["-c", f"qemu:///embed?root={root}", line])
    return out.getvalue(), err.getvalue(), rc


def _virsh(uri: str, line: str) -> tuple[str, str, int]:
    done = subprocess.run(["virsh", "-c", uri, line], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, LC_ALL="C"), check=False)  # fmt: skip
    return done.stdout, done.stderr, done.returncode


def wait_for_agent(run: Callable[[str], tuple[str, str, int]], name: str, timeout: float) -> None:
    """Until the guest's agent answers; a timeout says what the last try printed (booting, or an agent error)."""
    deadline = time.monotonic() + timeout
    while (last := run(f"guestinfo {name} --hostname"))[2] != 0:
        state = run(f"domstate {name}")[0].strip() if "not running" in last[1] else "running"
        if state != "running":  # (an earlier test that failed half-way can leave it suspended: say so at once)
            raise AssertionError(f"the agent of {name} cannot answer: the guest is {state}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the agent of {name} did not answer in {timeout:.0f} s; last try: {last!r}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if not QEMU_GA.exists():
        pytest.skip("qemu-ga (Debian's qemu-guest-agent) is not installed: the guest gets the host's")
    guest_linux = require("guest-linux")
    initrd = tmp_path_factory.mktemp("ga-image") / "initrd.cpio"
    initramfs(guest_linux, initrd)
    return guest_linux, initrd


# the connection that keeps pyvirt's guest watched (its QMP events: device removals, suspends) while the tests run;
# the last test lets it go, to show that a daemon started afterwards finds the guest and its agent again
_WATCHING: dict[str, pyvirt.Connection] = {}


@pytest.fixture(scope="module")
def ga_root(tmp_path_factory: pytest.TempPathFactory, image: tuple[Path, Path]) -> Iterator[Path]:
    """pyvirt's guest, booted once for the module; the tests wait for its agent when they need it."""
    if os.geteuid() != 0:
        pytest.skip("needs root to spawn QEMU through the security stack")
    root = tmp_path_factory.mktemp("ga-root") / "embed"
    conn = _WATCHING["conn"] = pyvirt.open(f"qemu:///embed?root={root}")
    conn.define_domain(domain_xml("gaguest", *image)).create()
    try:
        yield root
    finally:
        if (held := _WATCHING.pop("conn", None)) is not None:
            held.close()
        with pyvirt.open(f"qemu:///embed?root={root}") as conn, contextlib.suppress(pyvirt.Error):
            conn.lookup_domain_by_name("gaguest").destroy()
        for pid in os.listdir("/proc"):  # nothing of this root may outlive the module
            with contextlib.suppress(OSError):
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes() if pid.isdigit() else b""
                if str(root).encode() in cmdline and b"qemu-system" in cmdline:
                    os.kill(int(pid), 9)


def _masked(text: str) -> str:
    """The values two guests booted apart cannot share: login times, bytes free."""
    import re

    return re.sub(r"(login-time|used-bytes|total-bytes)(\s*): \d+", r"\1\2: N", text)


_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHx5pyvirtTestKeyOnlyForTheAgentTests pyvirt@test"
_LINE = ("guestinfo {n}; guestinfo {n} --os --timezone --hostname; guestinfo {n} --user; guestinfo {n} --disk; guestvcpus {n}; "
         "guestvcpus {n} --cpulist 1 --disable; guestvcpus {n}; guestvcpus {n} --cpulist 0 --disable; "
         "guestvcpus {n} --cpulist 1-2 --enable; guestvcpus {n} --cpulist 1 --enable; guestvcpus {n}; "
         "get-user-sshkeys {n} root; set-user-sshkeys {n} root --file {keys}; get-user-sshkeys {n} root; "
         "set-user-sshkeys {n} root --file {keys}; get-user-sshkeys {n} root; "
         "set-user-sshkeys {n} root --remove --file {keys}; get-user-sshkeys {n} root; "
         "set-user-sshkeys {n} root --reset --file {keys}; get-user-sshkeys {n} root; "
         "set-user-sshkeys {n} root --reset; get-user-sshkeys {n} root; get-user-sshkeys {n} nosuchuser; "
         "guest-agent-timeout {n} --timeout 30; guestinfo {n} --hostname; guest-agent-timeout {n} --timeout -1; "
         "set-user-password {n} root secret; guestinfo {n} --timezone")  # fmt: skip


def test_agent_commands_print_what_virsh_prints_on_libvirtd(
    ga_root: Path, image: tuple[Path, Path], shared_libvirtd: str, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    keys.write_text(_KEY + "\n")
    xml = tmp_path / "gaguest.xml"
    xml.write_text(domain_xml("gaguest", *image))
    theirs_run: Callable[[str], tuple[str, str, int]] = lambda line: _virsh(shared_libvirtd, line)  # noqa: E731
    ours_run: Callable[[str], tuple[str, str, int]] = lambda line: _pyvirsh(ga_root, line)  # noqa: E731
    assert theirs_run(f"define {xml}; start gaguest")[2] == 0
    wait_for_agent(theirs_run, "gaguest", 180)
    wait_for_agent(ours_run, "gaguest", 60)
    line = _LINE.format(n="gaguest", keys=keys)
    theirs, ours = theirs_run(line), ours_run(line)
    # a kind the agent refuses (qemu-ga -b: CommandDisabled) is skipped when none is asked, an error when asked
    assert "user.count" not in theirs[0] and "Command guest-get-users has been disabled" in theirs[1], theirs
    assert "if.0.name           : lo" in theirs[0] and "if.0.addr.0.addr    : 127.0.0.1" in theirs[0], theirs[0]
    assert "os.id               : pyvirt" in theirs[0] and "hostname            : gaguest" in theirs[0]
    assert "offlinable     : 1" in theirs[0] and "online         : 0\n" in theirs[0], theirs[0]
    assert _KEY in theirs[0] and "vCPU '0' is not offlinable" in theirs[1], theirs[1]
    assert (_masked(ours[0]), ours[1], ours[2]) == (_masked(theirs[0]), theirs[1], theirs[2])
    # a disk unplugged by its user alias (the guest's ACPI hotplug lets it go), then the guest suspended to RAM
    # by its agent (qemu-ga writes /sys/power/state) and woken up by QEMU's system_wakeup
    lines = {}
    for side in ("libvirt", "pyvirt"):  # a disk each: QEMU locks the image it writes
        disk = tmp_path / f"hot-{side}.img"
        disk.write_bytes(b"\0" * (1 << 20))
        hot = tmp_path / f"hot-{side}.xml"
        hot.write_text(f"<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{disk}'/>"
                       "<target dev='vdb' bus='virtio'/><alias name='ua-hot'/></disk>")  # fmt: skip
        lines[side] = f"attach-device gaguest {hot}; detach-device-alias gaguest ua-hot"
    theirs, ours = theirs_run(lines["libvirt"]), ours_run(lines["pyvirt"])
    assert theirs[2] == 0 and "Device detach request sent successfully" in theirs[0], theirs
    assert (ours[0].replace("-pyvirt", "-libvirt"), *ours[1:]) == theirs, ours
    # the unplug finishes before the suspend: a guest suspended before its ACPI handler ran lets the disk go
    # only once woken up (a loaded machine made that race visible)
    for run in (ours_run, theirs_run):
        wait_for(lambda run=run: "vdb" not in run("domblklist gaguest")[0], 120)  # type: ignore[misc]
    theirs, ours = theirs_run("dompmsuspend gaguest mem"), ours_run("dompmsuspend gaguest mem")
    assert theirs[2] == 0 and ours == theirs, (ours, theirs)
    for run in (ours_run, theirs_run):
        wait_for(lambda run=run: run("domstate gaguest")[0].strip() == "pmsuspended", 120)  # type: ignore[misc]
    theirs, ours = (
        theirs_run("dompmwakeup gaguest; dompmwakeup nosuch"),
        ours_run("dompmwakeup gaguest; dompmwakeup nosuch"),
    )
    assert "Domain 'gaguest' successfully woken up" in theirs[0] and "failed to get domain 'nosuch'" in theirs[1], (
        theirs
    )
    assert ours == theirs, ours
    for run in (ours_run, theirs_run):
        wait_for(lambda run=run: run("domstate gaguest")[0].strip() == "running", 120)  # type: ignore[misc]


def test_agent_timeout_is_used_and_kept(ga_root: Path) -> None:
    """The timeout a later command waits with, kept in the status file (libvirt's <agentTimeout>)."""
    with pyvirt.open(f"qemu:///embed?root={ga_root}") as conn:
        dom = conn.lookup_domain_by_name("gaguest")
        wait_for_agent(lambda line: _pyvirsh(ga_root, line), "gaguest", 180)
        dom.agent_set_response_timeout(0)  # "nowait": libvirt's agent gives up at once
        with pytest.raises(pyvirt.Error) as info:
            dom.guest_vcpus()
        assert info.value.code == pyvirt.ErrorCode.AGENT_UNRESPONSIVE
        assert "<agentTimeout>0</agentTimeout>" in (ga_root / "run" / "qemu" / "gaguest.xml").read_text()
        dom.agent_set_response_timeout(-2)
        assert [p.field for p in dom.guest_vcpus()] == ["vcpus", "online", "offlinable"]
        assert "<agentTimeout>-2</agentTimeout>" in (ga_root / "run" / "qemu" / "gaguest.xml").read_text()


def test_agent_answers_reach_virsh_through_pyvirtd(ga_root: Path) -> None:
    """Debian's virsh as the client of a pyvirtd started on the root: it finds the running guest from its status
    file and asks QEMU whether the agent's port is open (libvirt's qemuProcessRefreshChannelVirtioState); the
    typed parameters and key lists travel in libvirt's wire format and print as pyvirsh prints them."""
    from pyvirt.daemon.instance import PrivateDaemon

    wait_for_agent(lambda line: _pyvirsh(ga_root, line), "gaguest", 180)
    line = "guestinfo gaguest --os --hostname --interface; guestvcpus gaguest; get-user-sshkeys gaguest root"
    ours = _pyvirsh(ga_root, line)
    _WATCHING.pop("conn").close()  # no process watches the guest now: pyvirtd will have to ask QEMU
    daemon = PrivateDaemon(ga_root).start()
    try:
        wire = _virsh(f"qemu+unix:///system?socket={daemon.socket}", line)
    finally:
        daemon.stop()
    assert "hostname            : gaguest" in wire[0] and "vcpus          : 0-1" in wire[0], wire
    assert wire == ours
