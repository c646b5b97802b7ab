"""vCPU hot-plug on real QEMU guests, beside libvirt 9.0: setvcpus, setvcpu, vcpucount, vcpuinfo, domstats.

A guest defined with ``<vcpu current='1'>4</vcpu>`` starts with one vCPU;
``setvcpus 3 --live`` plugs two more (QEMU's ``device_add`` of the CPU
entities ``query-hotpluggable-cpus`` lists), and the running definition then
writes ``<vcpus>`` with each vCPU's state and order. The same virsh lines run
through Debian's virsh against a private libvirtd and through pyvirsh
(embedded and through pyvirtd) on a firmware-only guest: every answer,
refusal and XML must print the same. Unplugging needs the guest's consent
(ACPI eject): a Linux guest under TCG gives it, though this QEMU (7.2) never
reports the CPU deleted, so the unplug times out there exactly as libvirt's
does. Save/restore and migration carry the plugged vCPUs along.
"""

from __future__ import annotations

import importlib.util
import json
import os
import stat
import sys
import termios
import time
from pathlib import Path
from types import ModuleType

import pytest

import pyvirt
from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.flags import DomainModificationImpact, DomainVcpuFlags, DomainXMLFlags
from pyvirt.testing.sources import require

# the suite imports test modules in importlib mode: this directory's helper modules are found through sys.path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from beside_libvirtd import Output, assert_prints_as, run_every_way


def _load_hosts() -> ModuleType:
    """migration_hosts beside this file, by path (as the migration tests load it): two pyvirtd "hosts", and the
    Linux guest's helpers it loads from test_linux_guest."""
    spec = importlib.util.spec_from_file_location("pyvirt_qemu_tests_migration_hosts",
                                                  Path(__file__).parent / "migration_hosts.py")  # fmt: skip
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_hosts = _load_hosts()
TwoHosts, two_hosts, newc = _hosts.TwoHosts, _hosts.two_hosts, _hosts.newc  # (two_hosts: the fixture)
read_until, agent_open, wait_for = _hosts._linux.read_until, _hosts._linux.agent_open, _hosts._linux.wait_for


def guest(virt_type: str, name: str = "vcq", vcpus: str = "<vcpu current='1'>4</vcpu>") -> str:
    return f"""<domain type='{virt_type}'><name>{name}</name><memory unit='MiB'>64</memory>{vcpus}
<os><type>hvm</type></os><devices><memballoon model='none'/></devices></domain>"""


_XPATH = "dumpxml vcq {inactive} --xpath '/domain/vcpu|/domain/vcpus'"
_COMPARED = "; ".join([
    "define {xml}", "vcpucount vcq", "setvcpus vcq 5 --config", "setvcpus vcq 3 --config --maximum",
    "setvcpus vcq 4 --config --maximum", "setvcpus vcq 2 --config", "setvcpu vcq 0 --disable --config",
    "setvcpu vcq 3 --enable --config", "setvcpu vcq 7 --enable --config", "setvcpu vcq 1 --disable --config",
    _XPATH.format(inactive="--inactive"), "setvcpus vcq 1 --config",
    "start vcq", "vcpucount vcq", "setvcpus vcq 5 --live", "setvcpus vcq 3 --live --maximum",
    "setvcpus vcq 3 --live", "vcpucount vcq --live", "vcpucount vcq --active", _XPATH.format(inactive=""),
    "setvcpu vcq 0 --disable --live", "setvcpu vcq 1 --enable --live", "setvcpu vcq 3 --disable --enable --live",
    "setvcpu vcq 3 --enable", "setvcpu vcq 2-3 --disable", "setvcpu vcq 9 --enable", "setvcpu vcq x --enable",
    "setvcpu vcq 3 --enable", _XPATH.format(inactive=""), "vcpucount vcq --maximum --live", "vcpucount vcq",
    "setvcpus vcq 2 --guest", "setvcpus vcq 2 --live", "setvcpus vcq 0 --live", "setvcpus vcq 3 --maximum --config --live",
    "setvcpus vcq 2 --live --config", _XPATH.format(inactive=""), _XPATH.format(inactive="--inactive"),
    "setvcpus vcq 3 --config --hotpluggable", "setvcpus vcq 2 --maximum --config", _XPATH.format(inactive="--inactive"),
    "destroy vcq", "vcpucount vcq", "undefine vcq",
])  # fmt: skip


def test_pyvirsh_and_libvirt_print_the_same(
    qemu_root: Path, tmp_path: Path, virt_type: str, shared_libvirtd: str
) -> None:
    xml = tmp_path / "vcq.xml"
    xml.write_text(guest(virt_type))
    theirs, ours = run_every_way(_COMPARED.format(xml=xml), shared_libvirtd, qemu_root, tmp_path / "pyvirtd",
                                 "destroy vcq; undefine vcq")  # fmt: skip
    assert "Domain 'vcq' started" in theirs[0] and "<vcpus>" in theirs[0]
    assert_prints_as(theirs, **ours)


# libvirt's cpu-hotplug-startup case: vCPUs 4 and 5 online and hotpluggable, plugged once QEMU runs
STARTUP = """<vcpu current='3'>6</vcpu><vcpus><vcpu id='0' enabled='yes' hotpluggable='no' order='1'/>
<vcpu id='1' enabled='no' hotpluggable='yes'/><vcpu id='2' enabled='no' hotpluggable='yes'/>
<vcpu id='3' enabled='no' hotpluggable='yes'/><vcpu id='4' enabled='yes' hotpluggable='yes' order='2'/>
<vcpu id='5' enabled='yes' hotpluggable='yes' order='3'/></vcpus>
<cpu><topology sockets='3' dies='1' cores='2' threads='1'/></cpu>"""
_STARTUP_LINE = "; ".join([
    "define {xml}", "vcpucount vcs", "start vcs", "vcpucount vcs", "dumpxml vcs --xpath '/domain/vcpus'",
    "setvcpu vcs 1 --enable --live", "setvcpus vcs 5 --live", "dumpxml vcs --xpath '/domain/vcpus'",
    "setvcpu vcs 4 --enable --config", "setvcpus vcs 7 --maximum --config",
    "setvcpus vcs 6 --maximum --config --hotpluggable", "destroy vcs", "undefine vcs",
])  # fmt: skip


def test_startup_vcpus_are_plugged_as_libvirt_plugs_them(
    qemu_root: Path, tmp_path: Path, virt_type: str, shared_libvirtd: str
) -> None:
    xml = tmp_path / "vcs.xml"
    xml.write_text(guest(virt_type, "vcs", STARTUP))
    theirs, ours = run_every_way(_STARTUP_LINE.format(xml=xml), shared_libvirtd, qemu_root, tmp_path / "pyvirtd",
                                 "destroy vcs; undefine vcs")  # fmt: skip
    assert '<vcpu id="4" enabled="yes" hotpluggable="yes" order="2"/>' in theirs[0]
    assert_prints_as(theirs, **ours)


_RESTORE_LINE = "; ".join([
    "create {xml}", "setvcpus vcr 3 --live", "save vcr {image}", "restore {image}", "vcpucount vcr",
    "dumpxml vcr --xpath '/domain/vcpu|/domain/vcpus'", "save vcr {image} --bypass-cache",
    "restore {image} --bypass-cache", "vcpucount vcr --live", "destroy vcr",
])  # fmt: skip


def test_plugged_vcpus_come_back_with_a_restored_guest(
    qemu_root: Path, tmp_path: Path, virt_type: str, shared_libvirtd: str
) -> None:
    """The image's state has the plugged vCPUs: QEMU waits for it (-incoming defer) until they are plugged."""
    xml = tmp_path / "vcr.xml"
    xml.write_text(guest(virt_type, "vcr"))
    line = _RESTORE_LINE.format(xml=xml, image=tmp_path / "vcr.save")
    theirs, ours = run_every_way(line, shared_libvirtd, qemu_root, tmp_path / "pyvirtd", "destroy vcr")
    assert theirs[0].count("Domain restored from") == 2 and "current      live           3" in theirs[0]
    assert_prints_as(theirs, **ours)


def _without_times(out: Output) -> Output:
    """vcpuinfo's lines but the CPU time and the host CPU last used, which differ from run to run."""
    kept = [line for line in out[0].splitlines() if not line.startswith(("CPU time:", "CPU:"))]
    return "\n".join(kept), out[1], out[2]


def test_vcpuinfo_lists_the_plugged_vcpus(
    qemu_root: Path, tmp_path: Path, virt_type: str, shared_libvirtd: str
) -> None:
    """vcpuinfo after setvcpus: one entry per online vCPU, numbered and pinned as libvirt reports them."""
    xml = tmp_path / "vci.xml"
    pinned = "<vcpu current='1'>4</vcpu><cputune><vcpupin vcpu='2' cpuset='1'/></cputune>"
    xml.write_text(guest(virt_type, "vci", pinned))
    line = f"create {xml}; setvcpus vci 3 --live; vcpuinfo vci; vcpuinfo vci --pretty; destroy vci"
    theirs, ours = run_every_way(line, shared_libvirtd, qemu_root, tmp_path / "pyvirtd", "destroy vci")
    assert _without_times(theirs)[0].count("VCPU:") == 6
    assert_prints_as(_without_times(theirs), **{name: _without_times(got) for name, got in ours.items()})


_BAD_VCPUS = {  # what each <vcpus> breaks, and libvirt's parser or QEMU driver refuses
    "range": "<vcpu>2</vcpu><vcpus><vcpu id='2' enabled='yes'/></vcpus>",
    "enabled": "<vcpu>2</vcpu><vcpus><vcpu id='1'/></vcpus>",
    "offline": "<vcpu>2</vcpu><vcpus><vcpu id='0' enabled='yes'/><vcpu id='1' enabled='no' hotpluggable='no'/></vcpus>",
    "first": "<vcpu>2</vcpu><vcpus><vcpu id='0' enabled='no'/><vcpu id='1' enabled='yes'/></vcpus>",
    "zero": "<vcpu>2</vcpu><vcpus><vcpu id='0' enabled='yes' hotpluggable='yes'/></vcpus>",
    "orders": "<vcpu>3</vcpu><vcpus><vcpu id='0' enabled='yes' order='1'/><vcpu id='1' enabled='yes'/></vcpus>",
    "cluster": "<vcpu>3</vcpu><vcpus><vcpu id='0' enabled='yes'/><vcpu id='1' enabled='yes' hotpluggable='yes'/>"
    "<vcpu id='2' enabled='yes' hotpluggable='no'/></vcpus>",
    "current": "<vcpu current='3'>2</vcpu>",
    "duplicate": "<vcpu>3</vcpu><vcpus><vcpu id='0' enabled='yes' order='1'/>"
    "<vcpu id='1' enabled='yes' hotpluggable='yes' order='2'/><vcpu id='2' enabled='yes' hotpluggable='yes' order='2'/>"
    "</vcpus>",
}


def test_bad_vcpus_are_refused_as_libvirt_refuses_them(
    qemu_root: Path, tmp_path: Path, virt_type: str, shared_libvirtd: str
) -> None:
    """Each definition is refused with libvirt's words; the duplicate order is found when the guest starts."""
    steps = []
    for what, vcpus in _BAD_VCPUS.items():
        (tmp_path / f"{what}.xml").write_text(guest(virt_type, "vcb", vcpus))
        steps.append(f"define {tmp_path / what}.xml")
    line = "; ".join([*steps, "start vcb", "dumpxml vcb --inactive --xpath '/domain/vcpus'", "undefine vcb"])
    theirs, ours = run_every_way(line, shared_libvirtd, qemu_root, tmp_path / "pyvirtd", "destroy vcb; undefine vcb")
    assert theirs[1].count("error: Failed to ") == len(_BAD_VCPUS)  # (the last one defines, its start fails)
    assert_prints_as(theirs, **ours)


STATS_VCPU = 8  # VIR_DOMAIN_STATS_VCPU
LIVE = DomainVcpuFlags.LIVE


def running_vcpus(dom: pyvirt.Domain) -> list[str]:
    """What QEMU runs: each vCPU's QOM path (``-smp`` ones are unattached, plugged ones named ``vcpuN``)."""
    reply = json.loads(dom.qemu_monitor_command('{"execute": "query-cpus-fast"}'))
    return sorted(c["qom-path"].rsplit("/", 1)[-1] for c in reply["return"])


def vcpus_xml(dom: pyvirt.Domain, flags: int = 0) -> str:
    xml = dom.xml_desc(flags)
    return xml[xml.index("<vcpu ") : xml.index("</vcpus>") + 8] if "<vcpus>" in xml else xml


def test_grown_guest_survives_a_pyvirtd_restart(tmp_path: Path, virt_type: str) -> None:
    """setvcpus/setvcpu through pyvirtd: QEMU runs what vcpucount, vcpuinfo and domstats say; after pyvirtd is
    killed and started again on the same root, the running definition is the same and the vCPUs plugged
    before the restart are still known as libvirt's (``vcpuN``): they can be unplugged, and more plugged."""
    daemon = PrivateDaemon(tmp_path / "d").start()
    try:
        uri = daemon.uri("qemu:///system")
        with pyvirt.open(uri) as conn:
            pinned = "<vcpu current='1'>4</vcpu><cputune><vcpupin vcpu='2' cpuset='1'/></cputune>"
            dom = conn.define_domain(guest(virt_type, vcpus=pinned))
            dom.create()
            try:
                assert running_vcpus(dom) == ["device[0]"]
                dom.set_vcpus(3, LIVE)
                assert running_vcpus(dom) == ["device[0]", "vcpu1", "vcpu2"]
                assert dom.vcpus_count(LIVE) == 3 and dom.vcpus_count(LIVE | DomainVcpuFlags.MAXIMUM) == 4
                assert dom.vcpus_count(DomainVcpuFlags.CONFIG) == 1  # the persistent definition is untouched
                info = dom.vcpus(4, 1)
                assert [v.number for v in info] == [0, 1, 2] and dom.info().vcpus == 3
                assert info[2].cpumap == b"\x02"  # the plugged vCPU's thread runs where its <vcpupin> says
                stats = dict(dom.get_stats(STATS_VCPU))
                assert (stats["vcpu.current"], stats["vcpu.maximum"]) == (3, 4)
                before = vcpus_xml(dom)
                assert "<vcpu id='2' enabled='yes' hotpluggable='yes' order='3'/>" in before
                daemon.kill()
                daemon.start()
            except BaseException:
                dom.destroy()
                raise
        with pyvirt.open(uri) as conn:
            dom = conn.lookup_domain_by_name("vcq")
            try:
                assert vcpus_xml(dom) == before and dom.vcpus_count(LIVE) == 3
                # the guest has no ACPI: QEMU refuses to unplug, so libvirt's device_del reached vcpu2
                with pytest.raises(pyvirt.Error, match="CPU hot unplug not supported without ACPI"):
                    dom.set_vcpu("2", 0, DomainModificationImpact.LIVE)
                dom.set_vcpu("3", 1, DomainModificationImpact.LIVE)
                assert running_vcpus(dom) == ["device[0]", "vcpu1", "vcpu2", "vcpu3"]
                assert "<vcpu id='3' enabled='yes' hotpluggable='yes' order='4'/>" in vcpus_xml(dom)
                assert dom.vcpus_count(LIVE) == 4 and dict(dom.get_stats(STATS_VCPU))["vcpu.current"] == 4
                assert "<vcpus>" not in dom.xml_desc(DomainXMLFlags.INACTIVE)
            finally:
                dom.destroy()
                dom.undefine()
    finally:
        daemon.stop()


# A Linux guest (Debian's kernel, a busybox initramfs, under TCG): it onlines a plugged CPU when asked on its
# serial console, its kernel lets an unplugged one go (ACPI eject), and a stand-in for qemu-ga answers
# guest-get-vcpus and guest-set-vcpus from and into sysfs, as qemu-ga does
LINUX_INIT = rb"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_console; do
  insmod /lib/$m.ko
done
stty -F /dev/ttyS0 -echo raw 2>/dev/null
cpus() {
  sep=
  for d in /sys/devices/system/cpu/cpu[0-9]*; do
    n=${d##*cpu}; on=true; off=false
    if [ -f $d/online ]; then off=true; [ "$(cat $d/online)" = 1 ] || on=false; fi
    printf '%s{"logical-id": %s, "online": %s, "can-offline": %s}' "$sep" $n $on $off; sep=', '
  done
}
agent() {
  n=0
  until ls /dev/vport*p1 >/dev/null 2>&1 || [ $n -ge 100 ]; do usleep 100000; n=$((n+1)); done
  exec 3<>$(ls /dev/vport*p1 | head -1)
  echo PYVIRT-AGENT-READY > /dev/ttyS0
  while :; do
   while read -r line <&3; do
    case "$line" in
      *guest-sync*) echo '{"return": '"$(echo "$line" | sed 's/.*"id": *\([0-9]*\).*/\1/')"'}' >&3 ;;
      *guest-get-vcpus*) echo '{"return": ['"$(cpus)"']}' >&3 ;;
      *guest-set-vcpus*)
        done=0
        for pair in $(echo "$line" | grep -o '"logical-id": [0-9]*, "online": [a-z]*' | sed 's/[^0-9a-z]*logical-id[^0-9]*\([0-9]*\).*online": \([a-z]*\)/\1=\2/'); do
          v=1; [ "${pair#*=}" = true ] || v=0
          echo $v > /sys/devices/system/cpu/cpu${pair%=*}/online && done=$((done+1))
        done
        echo '{"return": '$done'}' >&3 ;;
    esac
   done
   usleep 100000
  done
}
echo PYVIRT-READY > /dev/ttyS0
agent &
while read -r line < /dev/ttyS0; do
  case "$line" in
    online) for c in /sys/devices/system/cpu/cpu[1-9]*/online; do echo 1 > $c; done
            echo "PYVIRT-ONLINE:$(cat /sys/devices/system/cpu/online)" > /dev/ttyS0 ;;
    present) echo "PYVIRT-PRESENT:$(cat /sys/devices/system/cpu/present)" > /dev/ttyS0 ;;
  esac
done
"""
_MODULES = ("virtio", "virtio_ring", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci", "virtio_console")


def test_a_linux_guest_grows_and_shrinks(conn: pyvirt.Connection, tmp_path: Path) -> None:
    """setvcpus 3 on a running Linux: the guest sees the CPUs come and runs on them; setvcpus --guest makes it
    offline one through its agent; setvcpus 1 asks it to let vCPU 2 go, which it does (QEMU no longer runs
    it), but QEMU 7.2 under TCG reports DEVICE_DELETED only for the CPU's APIC, never for the CPU: libvirt 9.0
    then times out and keeps vCPU 2 enabled in the running definition (measured against libvirtd on this
    host with this guest), and so does pyvirt."""
    linux = require("guest-linux")
    exe, folder = stat.S_IFREG | 0o755, stat.S_IFDIR | 0o755
    initrd = tmp_path / "initrd.cpio"
    files = [(d, folder, b"") for d in ("bin", "proc", "sys", "dev", "lib")]
    files += [("bin/busybox", exe, (linux / "busybox").read_bytes()), ("init", exe, LINUX_INIT)]
    files += [(f"lib/{m}.ko", exe, (linux / f"{m}.ko").read_bytes()) for m in _MODULES]
    initrd.write_bytes(newc(files))
    dom = conn.define_domain(f"""<domain type='qemu'><name>vcl</name><memory unit='MiB'>192</memory>
<vcpu current='1'>3</vcpu><os><type arch='x86_64' machine='pc'>hvm</type><kernel>{linux / "vmlinuz"}</kernel>
<initrd>{initrd}</initrd><cmdline>console=ttyS0 panic=-1 quiet</cmdline></os><features><acpi/></features>
<devices><serial type='pty'/><channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
<memballoon model='none'/></devices></domain>""")
    dom.create()
    try:
        pty = dom.xml_desc().split("<source path='", 1)[1].split("'", 1)[0]
        fd = os.open(pty, os.O_RDWR | os.O_NOCTTY)
        try:
            attrs = termios.tcgetattr(fd)
            attrs[3] &= ~(termios.ECHO | termios.ICANON)
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
            read_until(fd, b"PYVIRT-AGENT-READY", 180)
            wait_for(lambda: agent_open(dom), 60)
            dom.set_vcpus(3, LIVE)
            assert running_vcpus(dom) == ["device[0]", "vcpu1", "vcpu2"]
            # the guest runs on the plugged CPUs once its ACPI handler has added them: asked again until then
            # (on a loaded machine the first answer can come before the handler ran)
            deadline = time.monotonic() + 60
            while True:
                os.write(fd, b"online\n")
                seen = read_until(fd, b"PYVIRT-ONLINE:", 60)
                while b"\n" not in seen[seen.rindex(b"PYVIRT-ONLINE:") :]:  # the whole answer line
                    seen += read_until(fd, b"\n", 10)
                if b"PYVIRT-ONLINE:0-2" in seen:
                    break
                assert time.monotonic() < deadline, f"the guest did not online the plugged vCPUs: {seen[-200:]!r}"
                time.sleep(1)
            assert dom.vcpus_count(DomainVcpuFlags.GUEST) == 3
            with pytest.raises(pyvirt.Error, match="greater than the count of enabled vcpus in the domain: 4 > 3"):
                dom.set_vcpus(4, DomainVcpuFlags.GUEST)
            dom.set_vcpus(2, DomainVcpuFlags.GUEST)  # the agent offlines the first offlinable CPU (cpu1)
            assert dom.vcpus_count(DomainVcpuFlags.GUEST) == 2 and dom.vcpus_count(LIVE) == 3
            with pytest.raises(pyvirt.Error, match=r"^Timed out during operation: vcpu unplug request timed out"):
                dom.set_vcpus(1, LIVE)  # vcpu2 first (the highest); the timeout stops there, as in libvirt
            assert running_vcpus(dom) == ["device[0]", "vcpu1"]  # the guest did let it go
            assert dom.vcpus_count(LIVE) == 3
            assert "<vcpu id='2' enabled='yes' hotpluggable='yes' order='3'/>" in vcpus_xml(dom)
            os.write(fd, b"present\n")
            read_until(fd, b"PYVIRT-PRESENT:0-1\n", 30)
        finally:
            os.close(fd)
    finally:
        dom.destroy()
        dom.undefine()


def test_plugged_vcpus_migrate_with_the_guest(two_hosts: TwoHosts, virt_type: str) -> None:
    """The destination plugs the source's hot-plugged vCPUs before the guest's state arrives (libvirt's
    destination starts from the migratable XML, then its startup hot-plug), so the guest runs on as it was."""
    a, b = two_hosts.a, two_hosts.b
    with pyvirt.open(a.uri) as ca:
        dom = ca.define_domain(guest(virt_type, "vcm"))
        dom.create()
        dom.set_vcpus(3, LIVE)
        before = vcpus_xml(dom)
    run = a.pyvirsh("migrate", "--live", "--migrateuri", "tcp://127.0.0.1", "vcm", b.uri)
    assert run.returncode == 0, run.stderr + b.daemon.log()
    with pyvirt.open(b.uri) as cb:
        moved = cb.lookup_domain_by_name("vcm")
        try:
            assert running_vcpus(moved) == ["device[0]", "vcpu1", "vcpu2"] and vcpus_xml(moved) == before
            moved.set_vcpus(4, LIVE)  # and it goes on growing there
            assert running_vcpus(moved) == ["device[0]", "vcpu1", "vcpu2", "vcpu3"]
        finally:
            moved.destroy()
