"""vCPU, memory, disk and NIC queries, send-key, guest-agent calls and rename on real QEMU guests (firmware only).

Each value is checked against what the host itself shows for the same guest:
the vCPU threads' affinity as the kernel has it, the tap's counters in sysfs,
the image files' sizes, QEMU's own balloon; and pyvirsh prints them in
virsh's layout.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import pyvirt
from pyvirt import ErrorCode
from pyvirt.cli.main import main as pyvirsh_main
from pyvirt.events import Defined, DomainEvent, LifecycleEvent, Undefined

NIC = "pvs3t0"


def guest(virt_type: str, tmp: Path, name: str = "statq", agent: bool = True, devices: bool = True) -> str:
    channel = f"<channel type='unix'><source mode='bind' path='{tmp}/{name}.agent'/>" \
              "<target type='virtio' name='org.qemu.guest_agent.0'/></channel>" if agent else ""  # fmt: skip
    disks = f"""<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{tmp}/raw.img'/>
<target dev='vda' bus='virtio'/></disk>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{tmp}/disk.qcow2'/>
<target dev='vdb' bus='virtio'/></disk>
<interface type='ethernet'><mac address='52:54:00:5e:03:03'/><target dev='{NIC}'/><model type='virtio'/></interface>"""
    return f"""<domain type='{virt_type}'><name>{name}</name><memory unit='MiB'>64</memory>
<vcpu placement='static' cpuset='0'>2</vcpu><cputune><vcpupin vcpu='1' cpuset='0'/></cputune>
<os><type>hvm</type></os><devices>{disks if devices else ""}
{channel}<memballoon model='virtio'/><serial type='pty'/></devices></domain>"""


@pytest.fixture
def images(tmp_path: Path) -> Path:
    with open(tmp_path / "raw.img", "wb") as f:
        f.truncate(16 << 20)  # sparse: nothing allocated yet
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(tmp_path / "disk.qcow2"), "32M"], check=True)
    return tmp_path


@pytest.fixture
def running(conn: pyvirt.Connection, virt_type: str, images: Path) -> Iterator[pyvirt.Domain]:
    dom = conn.define_domain(guest(virt_type, images))
    dom.create()
    try:
        yield dom
    finally:
        with contextlib.suppress(pyvirt.Error):
            dom.destroy()
        dom.undefine()


def _pyvirsh(root: Path, line: str) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = pyvirsh_main(["-c", f"qemu:///embed?root={root}", line])
    return out.getvalue(), err.getvalue(), rc


def _threads(pid: int) -> list[int]:
    return sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))


def test_vcpu_counts_threads_and_pinning(running: pyvirt.Domain, conn: pyvirt.Connection) -> None:
    assert running.vcpus_count() == 2 and running.vcpus_count(4) == 2 and running.vcpus_count(2) == 2
    count, online, _n = conn.get_cpu_map()
    maplen = (count + 7) // 8
    infos = running.vcpus(8, maplen)
    assert [i.number for i in infos] == [0, 1]
    pid = _qemu_pid(running)
    for info in infos:
        assert info.state == 1 and info.cpu >= 0
        assert info.cpumap[0] & 1 and not any(b for b in info.cpumap[1:]), "both vCPUs are pinned to CPU 0"
    # the kernel's own view of the vCPU threads: one of QEMU's threads per vCPU, each pinned to CPU 0
    pinned = [t for t in _threads(pid) if os.sched_getaffinity(t) == {0} and t != pid]
    assert len(pinned) >= 2
    assert running.vcpu_pin_info(8, maplen) == [bytes([1]) + bytes(maplen - 1)] * 2
    assert running.vcpus(0, maplen) == []
    with pytest.raises(pyvirt.Error) as info:
        running.vcpus_count(8)  # --guest: the channel is there, no agent answers in a firmware-only guest
    assert info.value.code == ErrorCode.AGENT_UNRESPONSIVE
    assert info.value.message.endswith("QEMU guest agent is not connected")
    with pytest.raises(pyvirt.Error) as info:
        running.vcpus_count(3)
    assert info.value.code == ErrorCode.INVALID_ARG and "mutually exclusive" in info.value.message
    running.destroy()
    with pytest.raises(pyvirt.Error) as info:
        running.vcpus(2, maplen)
    assert info.value.message.endswith("cannot retrieve vcpu information for inactive domain")
    with pytest.raises(pyvirt.Error) as info:
        running.vcpus_count(8)
    assert info.value.code == ErrorCode.INVALID_ARG and "only be requested for live domains" in info.value.message
    assert running.vcpus_count(2) == 2 and len(running.vcpu_pin_info(8, maplen, 2)) == 2
    assert bin(online[0]).count("1") >= 1


def _qemu_pid(dom: pyvirt.Domain) -> int:
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            with contextlib.suppress(OSError):
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                if cmd[0].endswith(b"qemu-system-x86_64") and f"guest={dom.name}".encode() in b",".join(cmd):
                    return int(pid)
    raise AssertionError(f"no QEMU runs {dom.name}")


def test_memory_block_and_interface_statistics(running: pyvirt.Domain, images: Path) -> None:
    stats = dict(running.memory_stats())
    assert stats[6] == 65536, "the balloon's actual size, from query-balloon"
    pid = _qemu_pid(running)
    rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    assert 0 < stats[7] <= rss * 2 and stats[7] * 2 >= rss, "QEMU's RSS"
    assert running.memory_stats(1) == [(6, 65536)]
    blk = running.block_stats("vda")
    assert blk.rd_req >= 0 and blk.wr_bytes >= 0 and blk.errs == -1
    assert running.block_stats(str(images / "raw.img")) == running.block_stats("vda")
    with pytest.raises(pyvirt.Error) as info:
        running.block_stats("vdz")
    assert info.value.code == ErrorCode.INVALID_ARG and info.value.message.endswith("invalid path: vdz")
    subprocess.run(["ip", "link", "set", NIC, "up"], check=True)
    host = {k: int(Path(f"/sys/class/net/{NIC}/statistics/{k}").read_text()) for k in ("rx_bytes", "tx_bytes")}
    nic = running.interface_stats(NIC)
    assert nic.tx_bytes >= host["rx_bytes"] and nic.rx_bytes >= host["tx_bytes"], (
        "what the tap receives, the guest sent"
    )
    assert running.interface_stats("52:54:00:5E:03:03").tx_bytes >= nic.tx_bytes  # by MAC, any case
    with pytest.raises(pyvirt.Error) as info:
        running.interface_stats("nope0")
    assert info.value.code == ErrorCode.INVALID_ARG and info.value.message.endswith("'nope0' is not a known interface")


def test_block_info_running_and_stopped(running: pyvirt.Domain, images: Path) -> None:
    raw, qcow2 = images / "raw.img", images / "disk.qcow2"
    info = running.block_info("vda")
    assert info.capacity == 16 << 20 and info.physical == 16 << 20  # sparse: the file's size as physical
    assert info.allocation <= 16 << 20
    q = running.block_info(str(qcow2))
    assert q.capacity == 32 << 20 and q.physical == qcow2.stat().st_size
    assert q.allocation == qcow2.stat().st_blocks * 512
    with pytest.raises(pyvirt.Error) as err:
        running.block_info("vdz")
    assert err.value.message.endswith("invalid path vdz not assigned to domain")
    running.destroy()
    stopped = running.block_info("vda")
    assert stopped == (16 << 20, raw.stat().st_blocks * 512, 16 << 20)
    assert running.block_info("vdb").capacity == 32 << 20
    for call in (
        running.memory_stats,
        lambda: running.block_stats("vda"),
        lambda: running.interface_stats(NIC),
    ):
        with pytest.raises(pyvirt.Error) as err:
            call()
        assert err.value.code == ErrorCode.OPERATION_INVALID and err.value.message.endswith("domain is not running")


def test_send_key_and_agent_calls(
    running: pyvirt.Domain, conn: pyvirt.Connection, virt_type: str, images: Path
) -> None:
    running.send_key(0, 50, [29, 56, 111])  # linux KEY_LEFTCTRL, KEY_LEFTALT, KEY_DELETE, as QNUM to QEMU
    running.send_key(9, 0, [0x1D])  # QNUM as it is
    with pytest.raises(pyvirt.Error) as info:
        running.send_key(0, 0, [0x2FF])
    assert info.value.code == ErrorCode.INTERNAL_ERROR
    assert info.value.message.endswith("cannot translate keycode 767 of linux codeset to qnum keycode")
    for call in (running.get_time, running.hostname, lambda: running.set_time(1, 0)):
        with pytest.raises(pyvirt.Error) as info:
            call()
        assert info.value.code == ErrorCode.AGENT_UNRESPONSIVE
        assert info.value.message.endswith("QEMU guest agent is not connected")
    other = conn.define_domain(guest(virt_type, images, "noagent", agent=False, devices=False))
    other.create()
    try:
        for call in (other.get_time, other.hostname, lambda: other.vcpus_count(8)):
            with pytest.raises(pyvirt.Error) as info:
                call()
            assert info.value.code == ErrorCode.ARGUMENT_UNSUPPORTED
            assert info.value.message.endswith("QEMU guest agent is not configured")
        with pytest.raises(pyvirt.Error) as info:
            other.hostname(1)  # from the leases of its networks: it has none
        assert info.value.code == ErrorCode.NO_HOSTNAME and info.value.message.endswith(
            "no hostname found for domain noagent"
        )
    finally:
        other.destroy()
        other.undefine()


def test_rename_keeps_uuid_and_moves_files(conn: pyvirt.Connection, qemu_root: Path, virt_type: str,
                                           images: Path) -> None:  # fmt: skip
    dom = conn.define_domain(guest(virt_type, images, "before"))
    uuid = dom.uuid
    dom.autostart = True
    events: list[tuple[str, int, int]] = []
    seen = threading.Event()

    def on_event(ev: LifecycleEvent) -> None:
        events.append((ev.domain.name, ev.event, ev.detail))
        if ev.event == DomainEvent.DEFINED:
            seen.set()

    conn.register_domain_event(on_event)
    dom.rename("after")
    assert seen.wait(10)
    assert events == [
        ("before", DomainEvent.UNDEFINED, Undefined.RENAMED),
        ("after", DomainEvent.DEFINED, Defined.RENAMED),
    ]
    etc = qemu_root / "etc" / "qemu"
    assert not (etc / "before.xml").exists() and "<name>after</name>" in (etc / "after.xml").read_text()
    assert os.readlink(etc / "autostart" / "after.xml") == str(etc / "after.xml")
    assert not (etc / "autostart" / "before.xml").exists()
    renamed = conn.lookup_domain_by_name("after")
    assert renamed.uuid == uuid
    with pytest.raises(pyvirt.Error) as info:
        conn.lookup_domain_by_name("before")
    assert info.value.code == ErrorCode.NO_DOMAIN
    with pytest.raises(pyvirt.Error) as info:
        renamed.rename("after")
    assert info.value.message.endswith("Can't rename domain to itself")
    with pytest.raises(pyvirt.Error) as info:
        renamed.rename("a/b")
    assert info.value.code == ErrorCode.XML_ERROR
    renamed.create()
    try:
        with pytest.raises(pyvirt.Error) as info:
            renamed.rename("again")
        assert info.value.code == ErrorCode.OPERATION_INVALID and info.value.message.endswith(
            "cannot rename active domain"
        )
    finally:
        renamed.destroy()
    renamed.undefine()


def test_pyvirsh_prints_them_as_virsh(running: pyvirt.Domain, qemu_root: Path) -> None:
    out, err, rc = _pyvirsh(qemu_root, "vcpucount statq")
    assert (rc, err) == (0, "") and out == (
        "maximum      config         2\nmaximum      live           2\n"
        "current      config         2\ncurrent      live           2\n\n"
    )
    out, _err, rc = _pyvirsh(qemu_root, "vcpuinfo statq")
    assert rc == 0 and out.count("VCPU:") == 2 and "CPU Affinity:   y" in out
    out, _err, rc = _pyvirsh(qemu_root, "dommemstat statq")
    assert rc == 0 and out.startswith("actual 65536\n") and "\nrss " in out
    out, _err, rc = _pyvirsh(qemu_root, "domblkstat statq vda")
    assert rc == 0 and [line.split()[:2] for line in out.splitlines() if line] == [
        ["vda", "rd_req"], ["vda", "rd_bytes"], ["vda", "wr_req"], ["vda", "wr_bytes"], ["vda", "flush_operations"],
        ["vda", "rd_total_times"], ["vda", "wr_total_times"], ["vda", "flush_total_times"]
    ]  # fmt: skip
    out, _err, rc = _pyvirsh(qemu_root, f"domifstat statq {NIC}")
    assert rc == 0 and out.splitlines()[0].startswith(f"{NIC} rx_bytes ")
    out, _err, rc = _pyvirsh(qemu_root, "domblkinfo statq vda")
    assert rc == 0 and out.splitlines()[0] == "Capacity:       16777216"
    out, err, rc = _pyvirsh(qemu_root, "domtime statq")
    assert rc == 1 and err == "error: Guest agent is not responding: QEMU guest agent is not connected\n"
    out, err, rc = _pyvirsh(qemu_root, "send-key statq KEY_A")
    assert (out, err, rc) == ("\n", "", 0)


# The same command line on Debian's libvirt 9.0 (a private libvirtd, as test_libvirt_interop runs it) and on
# pyvirsh; numbers are the guests' own, so they are compared as "N". domblkstat shows virDomainBlockStatsFlags'
# counters (flush_operations, the total times) in virsh's order, one disk or all of them summed.
_SAME_LINE = ("define {xml}; start statq; vcpucount statq; vcpuinfo statq; dommemstat statq; domblkinfo statq vda; "
              "domblkinfo statq vdb; domblkinfo statq vdz; domtime statq; domhostname statq; send-key statq KEY_A; "
              "vcpucount statq --guest; vcpucount statq --guest --config; domifstat statq nope0; "
              "domblkstat statq vda; domblkstat statq vdb --human; domblkstat statq; domblkstat statq vdz; "
              "blockjob statq vda; blockjob statq vda --raw; blockjob statq vdb --bytes; blockjob statq vdz; "
              "emulatorpin statq; emulatorpin statq 0; emulatorpin statq --live; emulatorpin statq 0 --config; "
              "emulatorpin statq --config; emulatorpin statq --live --config; destroy statq; emulatorpin statq; "
              "emulatorpin statq 0; domblkstat statq vda; blockjob statq vda; "
              "domblkinfo statq vda; dommemstat statq; vcpuinfo statq; domrename statq other; domrename other other; "
              "domtime other; undefine other")  # fmt: skip


def _normalized(text: str, work: Path) -> str:
    import re

    text = text.replace(str(work), "WORK")
    lines = [line for line in text.splitlines() if not line.startswith("CPU time:")]  # only when the vCPU ran
    return re.sub(r"\d+", "N", "\n".join(lines))


def test_pyvirsh_and_libvirt_print_the_same(
    qemu_root: Path, tmp_path: Path, virt_type: str, shared_libvirtd: str
) -> None:
    outputs = []
    for side in ("libvirt", "pyvirt"):
        work = tmp_path / side
        work.mkdir()
        with open(work / "raw.img", "wb") as f:
            f.truncate(16 << 20)
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(work / "disk.qcow2"), "32M"], check=True)
        xml = work / "guest.xml"
        xml.write_text(
            guest(virt_type, work).replace(
                f"<interface type='ethernet'><mac address='52:54:00:5e:03:03'/>"
                f"<target dev='{NIC}'/><model type='virtio'/></interface>",
                "",
            )
        )
        line = _SAME_LINE.format(xml=xml)
        if side == "libvirt":
            done = subprocess.run(
                ["virsh", "-c", shared_libvirtd, line],
                capture_output=True,
                text=True,
                timeout=180,
                env=dict(os.environ, LC_ALL="C"),
                check=False,
            )
            outputs.append((_normalized(done.stdout, work), _normalized(done.stderr, work), done.returncode))
        else:
            out, err, rc = _pyvirsh(qemu_root, line)
            outputs.append((_normalized(out, work), _normalized(err, work), rc))
    assert "QEMU guest agent is not connected" in outputs[0][1] and "Domain successfully renamed" in outputs[0][0]
    for ours, theirs in zip(outputs[1], outputs[0], strict=True):
        assert str(ours).splitlines() == str(theirs).splitlines()


def _vcpu_thread(pid: int, vcpu: int) -> int:
    """The thread QEMU names after the vCPU ("CPU 1/KVM", "CPU 1/TCG"), found without asking QEMU."""
    for tid in _threads(pid):
        if Path(f"/proc/{pid}/task/{tid}/comm").read_text().startswith(f"CPU {vcpu}/"):
            return tid
    raise AssertionError(f"QEMU {pid} has no thread of vCPU {vcpu}")


def test_vcpupin_live_and_config(running: pyvirt.Domain, qemu_root: Path) -> None:
    host = sorted(os.sched_getaffinity(0))
    target = host[-1]  # pinned to CPU 0 by the definition: move vCPU 1 to the last CPU we may use
    cpumap = bytes(target // 8) + bytes([1 << (target % 8)])
    pid = _qemu_pid(running)
    running.pin_vcpu(1, cpumap)  # the running guest only: the thread and the live definition
    assert os.sched_getaffinity(_vcpu_thread(pid, 1)) == {target}
    assert os.sched_getaffinity(_vcpu_thread(pid, 0)) == {0}
    maplen = len(cpumap)
    assert running.vcpu_pin_info(2, maplen)[1] == cpumap and running.vcpu_pin_info(2, maplen, 2)[1][0] & 1
    status = (qemu_root / "run" / "qemu" / "statq.xml").read_text()  # (written with double quotes)
    assert f'<vcpupin vcpu="1" cpuset="{target}"/>' in status.replace("'", '"')
    running.pin_vcpu(0, cpumap, 2)  # --config: the next start, the running thread stays where it was
    assert os.sched_getaffinity(_vcpu_thread(pid, 0)) == {0}
    config = (qemu_root / "etc" / "qemu" / "statq.xml").read_text()
    assert f'<vcpupin vcpu="0" cpuset="{target}"/>' in config.replace("'", '"')
    for vcpu, cpus, flags, code, words in (
        (0, b"\0", 0, ErrorCode.INVALID_ARG, "Empty cpu list for pinning"),
        (7, cpumap, 2, ErrorCode.INVALID_ARG, "vcpu 7 is out of range of persistent cpu count 2"),
        (7, cpumap, 1, ErrorCode.INVALID_ARG, "vcpu 7 is out of range of live cpu count 2"),
    ):
        with pytest.raises(pyvirt.Error) as info:
            running.pin_vcpu(vcpu, cpus, flags)
        assert info.value.code == code and info.value.message.endswith(words)
    out, err, rc = _pyvirsh(qemu_root, "vcpupin statq")
    assert (err, rc) == ("", 0) and out.splitlines()[2:4] == [" 0      0", f" 1      {target}"]
    running.destroy()
    running.create()  # the persistent pinning now applies
    assert os.sched_getaffinity(_vcpu_thread(_qemu_pid(running), 0)) == {target}


def test_balloon_collection_period(running: pyvirt.Domain, conn: pyvirt.Connection, qemu_root: Path,
                                   virt_type: str, images: Path) -> None:  # fmt: skip
    running.set_memory_stats_period(2)  # QEMU takes it (qom-set on the balloon: a wrong path would be refused)
    status = (qemu_root / "run" / "qemu" / "statq.xml").read_text().replace("'", '"')
    assert '<stats period="2"/>' in status
    out, err, rc = _pyvirsh(qemu_root, "dommemstat statq --period 3 --config")
    assert (out, err, rc) == ("\n", "", 0)
    assert "<stats period='3'/>" in (qemu_root / "etc" / "qemu" / "statq.xml").read_text()
    out, err, rc = _pyvirsh(qemu_root, "dommemstat statq --period -1")
    assert (err, rc) == ("error: Invalid collection period value '-1'\n", 1)
    bare = conn.define_domain(guest(virt_type, images, "bare", agent=False, devices=False).replace(
        "<memballoon model='virtio'/>", "<memballoon model='none'/>"))  # fmt: skip
    with pytest.raises(pyvirt.Error) as info:
        bare.set_memory_stats_period(5, 2)
    assert info.value.code == ErrorCode.INTERNAL_ERROR
    assert info.value.message.endswith("No memory balloon device configured, can not set the collection period")
    bare.undefine()


def _emulator_threads(pid: int) -> list[int]:
    """QEMU's threads that are not vCPUs (the main loop, I/O workers, RCU...), by the kernel's thread names."""
    return [t for t in _threads(pid) if not Path(f"/proc/{pid}/task/{t}/comm").read_text().startswith("CPU ")]


def test_emulatorpin_live_and_config(running: pyvirt.Domain, qemu_root: Path, conn: pyvirt.Connection) -> None:
    host = sorted(os.sched_getaffinity(0))
    target = host[-1]
    count = conn.get_cpu_map()[0]
    maplen = (count + 7) // 8
    cpumap = bytearray(maplen)
    cpumap[target // 8] |= 1 << (target % 8)
    # no <emulatorpin>: the <vcpu cpuset='0'> QEMU was started with
    assert running.emulator_pin_info(maplen) == bytes([1]) + bytes(maplen - 1)
    pid = _qemu_pid(running)
    running.pin_emulator(bytes(cpumap))  # the running guest: every thread but the vCPUs', and the live definition
    emulator = _emulator_threads(pid)
    assert len(emulator) >= 2 and all(os.sched_getaffinity(t) == {target} for t in emulator), "main loop and workers"
    assert os.sched_getaffinity(_vcpu_thread(pid, 0)) == {0} and os.sched_getaffinity(_vcpu_thread(pid, 1)) == {0}
    assert running.emulator_pin_info(maplen) == bytes(cpumap)
    assert running.emulator_pin_info(maplen, 2)[0] == 1, "the persistent definition still says <vcpu cpuset='0'>"
    status = (qemu_root / "run" / "qemu" / "statq.xml").read_text().replace("'", '"')
    assert f'<emulatorpin cpuset="{target}"/>' in status
    running.pin_emulator(bytes([1]), 2)  # --config: the next start; the running threads stay where they are
    assert os.sched_getaffinity(pid) == {target}
    assert "<emulatorpin cpuset='0'/>" in (qemu_root / "etc" / "qemu" / "statq.xml").read_text().replace('"', "'")
    with pytest.raises(pyvirt.Error) as info:
        running.pin_emulator(bytes(maplen))
    assert info.value.code == ErrorCode.INVALID_ARG and info.value.message.endswith("Empty cpu list for pinning")
    with pytest.raises(pyvirt.Error) as info:
        running.emulator_pin_info(maplen, 3)
    assert info.value.code == ErrorCode.INVALID_ARG and "mutually exclusive" in info.value.message
    out, err, rc = _pyvirsh(qemu_root, "emulatorpin statq")
    assert (out, err, rc) == (f"emulator: CPU Affinity\n{'-' * 34}\n       *: {target}\n\n", "", 0)
    running.destroy()
    with pytest.raises(pyvirt.Error) as info:
        running.pin_emulator(bytes(cpumap), 1)
    assert info.value.code == ErrorCode.OPERATION_INVALID and info.value.message.endswith("domain is not running")
    running.create()  # the persistent pinning now applies to QEMU from its first instruction
    assert os.sched_getaffinity(_qemu_pid(running)) == {0}


def test_unpinned_vcpus_beside_emulatorpin_get_the_whole_host(conn: pyvirt.Connection, virt_type: str,
                                                               images: Path) -> None:  # fmt: skip
    """qemuProcessSetupVcpu: a vCPU with no <vcpupin> nor <vcpu cpuset> runs anywhere, not on the emulator's set."""
    allowed = os.sched_getaffinity(0)
    if len(allowed) < 2:
        pytest.skip("needs two host CPUs to tell the emulator's set from the whole host")
    xml = guest(virt_type, images, "emupin", agent=False, devices=False).replace(
        "<vcpu placement='static' cpuset='0'>2</vcpu><cputune><vcpupin vcpu='1' cpuset='0'/></cputune>",
        "<vcpu placement='static'>2</vcpu><cputune><emulatorpin cpuset='0'/></cputune>",
    )
    dom = conn.define_domain(xml)
    dom.create()
    try:
        pid = _qemu_pid(dom)
        assert os.sched_getaffinity(pid) == {0}
        assert os.sched_getaffinity(_vcpu_thread(pid, 0)) >= allowed
        assert os.sched_getaffinity(_vcpu_thread(pid, 1)) >= allowed
    finally:
        dom.destroy()
        dom.undefine()


def test_every_block_counter_by_libvirts_names(running: pyvirt.Domain) -> None:
    """virDomainBlockStatsFlags: QEMU's eight counters in qemuDomainBlockStatsFlags' order; "" sums the disks."""
    vda = running.block_stats_flags("vda")
    assert [p.field for p in vda] == ["wr_bytes", "wr_operations", "rd_bytes", "rd_operations", "flush_operations",
                                      "wr_total_times", "rd_total_times", "flush_total_times"]  # fmt: skip
    assert all(p.type == 3 and p.value >= 0 for p in vda)  # VIR_TYPED_PARAM_LLONG
    values = {p.field: p.value for p in vda}
    legacy = running.block_stats("vda")  # counters only grow: what was read first is never more
    assert values["rd_operations"] <= legacy.rd_req and values["wr_bytes"] <= legacy.wr_bytes
    vdb = {p.field: p.value for p in running.block_stats_flags("vdb")}
    total = {p.field: p.value for p in running.block_stats_flags("")}
    assert list(total) == list(values) and all(total[f] >= values[f] + vdb[f] for f in total)
    with pytest.raises(pyvirt.Error) as info:
        running.block_stats_flags("vdz")
    assert info.value.code == ErrorCode.INVALID_ARG and info.value.message.endswith("invalid path: vdz")


def test_block_job_info_follows_a_running_mirror(running: pyvirt.Domain, qemu_root: Path) -> None:
    """virDomainGetBlockJobInfo on a real QEMU mirror, named as a storage migration names it (drive-<alias>).

    The disk is filled first (a sparse image would be copied at once) and the
    mirror runs at one byte a second into a null target, so it is still
    copying while it is asked about; virsh's line reads "Block Copy".
    """
    import re

    from pyvirt_qemu import driver as qemu_driver
    from pyvirt_qemu.block_nodes import format_node
    from pyvirt_qemu.migration_storage import export_name

    assert running.block_job_info("vda") == (0, 0, 0, 0)
    out, err, rc = _pyvirsh(qemu_root, "blockjob statq vda")
    assert (out, err, rc) == ("No current block job for vda\n", "", 0)
    obj = next(s.by_name["statq"] for s in qemu_driver._states.values() if "statq" in s.by_name)
    disk = next(d for d in obj.live.devices.disks if d.target_dev == "vda")
    monitor, job = obj.process.monitor, export_name(disk)
    with open(disk.source_file, "r+b") as f:
        f.write(os.urandom(16 << 20))
    monitor.execute("blockdev-add", {"driver": "null-co", "node-name": "pyvirt-test-target", "size": 16 << 20})
    monitor.execute("blockdev-mirror", {"job-id": job, "device": format_node(disk), "target": "pyvirt-test-target",
                                        "sync": "full", "speed": 1})  # fmt: skip
    try:
        kind, bandwidth, cur, end = running.block_job_info("vda", 1)  # BANDWIDTH_BYTES
        assert (kind, bandwidth, end) == (2, 1, 16 << 20) and 0 <= cur < end
        assert running.block_job_info("vda")[1] == 1, "1 byte/s is 1 MiB/s rounded up"
        assert running.block_job_info("vdb") == (0, 0, 0, 0)
        out, err, rc = _pyvirsh(qemu_root, "blockjob statq vda --info")
        assert (out, rc) == ("    Bandwidth limit: 1 bytes/s (1.000 B/s)\n\n", 0)
        shown = re.fullmatch(r"\rBlock Copy: \[ *(\d+) %\]", err)
        assert shown is not None and int(shown[1]) < 100, err
        out, err, rc = _pyvirsh(qemu_root, "blockjob statq vda --raw")
        assert (
            rc == 0 and out.startswith(" type=Block Copy\n bandwidth=1\n cur=") and out.endswith(f" end={16 << 20}\n\n")
        )
    finally:
        monitor.execute("block-job-cancel", {"device": job, "force": True})
    with pytest.raises(pyvirt.Error) as info:
        running.block_job_info("vdz")
    assert info.value.code == ErrorCode.INVALID_ARG and info.value.message.endswith("disk 'vdz' not found in domain")
