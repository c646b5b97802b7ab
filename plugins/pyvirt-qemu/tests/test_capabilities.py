"""Capabilities come from probing the real emulator over QMP, cached by the binary's identity."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree
from pyvirt_qemu.emulator_caps import emulator_caps

import pyvirt
from pyvirt import ErrorCode
from pyvirt.conf.schema import validate
from pyvirt.daemon.instance import PrivateDaemon


def test_capabilities_describe_this_host_and_emulator(conn: pyvirt.Connection, qemu_root: Path) -> None:
    xml = conn.get_capabilities()
    # libvirt 9.0's capability.rng allows no '.' in a host CPU feature name, yet libvirtd itself prints the CPU
    # map's sse4.1 and sse4.2 there: the schema judges everything else
    validate(re.sub(r"(<feature name='[^']*)\.", r"\1_", xml), "capabilities")
    doc = etree.fromstring(xml.encode())
    emulator = doc.findtext("guest/arch/emulator")
    assert emulator and os.path.realpath(emulator) == os.path.realpath("/usr/bin/qemu-system-x86_64")
    types = doc.xpath("guest[arch/@name='x86_64']/arch/domain/@type")
    assert types == (["qemu", "kvm"] if os.access("/dev/kvm", os.R_OK | os.W_OK) else ["qemu"])
    # QEMU's default machine alias points at its canonical versioned name
    assert str(doc.xpath("string(guest[arch/@name='x86_64']/arch/machine[.='pc']/@canonical)")).startswith("pc-i440fx-")
    assert doc.xpath("guest/arch/machine[.='q35']")
    cpus = doc.findall("host/topology/cells/cell/cpus/cpu")
    assert len(cpus) == os.cpu_count()
    assert [m.text for m in doc.findall("host/secmodel/model")] == [conn.get_security_model().model, "dac"]
    text = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True, text=True, check=True).stdout
    major, minor, micro = (int(x) for x in text.split("version ", 1)[1].split()[0].split("."))
    assert conn.get_version() == major * 1_000_000 + minor * 1000 + micro


def test_nodeinfo_matches_the_kernel(conn: pyvirt.Connection) -> None:
    info = conn.get_node_info()
    meminfo = Path("/proc/meminfo").read_text()
    assert info.memory_kib == int(meminfo.split("MemTotal:", 1)[1].split()[0])
    assert info.cpus == os.cpu_count() == info.nodes * info.sockets * info.cores * info.threads
    assert info.model == os.uname().machine


def test_probe_is_cached_until_the_binary_changes(tmp_path: Path, qemu_root: Path) -> None:
    first = emulator_caps("/usr/bin/qemu-system-x86_64", str(tmp_path))
    (cache,) = (tmp_path / "capabilities").iterdir()
    stamp = cache.stat().st_mtime_ns
    again = emulator_caps("/usr/bin/qemu-system-x86_64", str(tmp_path))
    assert again == first and cache.stat().st_mtime_ns == stamp  # served from disk, no QEMU started
    assert "query-machines" in first.commands and first.has_device("virtio-blk-pci")
    assert "qemu64" in first.cpu_models and first.default_machine() is not None
    # a different binary identity (as after a package upgrade) forces a new probe
    data = json.loads(cache.read_text())
    data["identity"] = "0:0:0:0:0:kvm=False"
    data["machines"] = []
    cache.write_text(json.dumps(data))
    fresh = emulator_caps("/usr/bin/qemu-system-x86_64", str(tmp_path))
    assert fresh.machines == first.machines and fresh.identity == first.identity


def test_domain_capabilities_follow_emulator_and_driver(conn: pyvirt.Connection, qemu_root: Path) -> None:
    xml = conn.get_domain_capabilities()
    validate(xml, "domaincapabilities")
    doc = etree.fromstring(xml.encode())
    kvm = os.access("/dev/kvm", os.R_OK | os.W_OK)
    assert doc.findtext("domain") == ("kvm" if kvm else "qemu")
    assert str(doc.findtext("machine")).startswith("pc-i440fx-")  # 'pc' resolved to its canonical name
    assert doc.xpath("devices/disk/enum[@name='bus']/value/text()") == ["virtio", "sata", "ide", "scsi", "fdc", "usb"]
    assert doc.xpath("devices/hostdev/@supported") == ["no"]  # refused at start today, so not offered
    assert doc.xpath("cpu/mode[@name='custom']/model[.='qemu64']")
    q35 = etree.fromstring(conn.get_domain_capabilities(machine="q35", virttype="qemu").encode())
    assert str(q35.findtext("machine")).startswith("pc-q35-") and q35.findtext("domain") == "qemu"
    assert q35.xpath("cpu/mode[@name='host-passthrough']/@supported") == ["no"]  # needs KVM
    for kwargs, words, code in (
        ({"machine": "nope"}, "the machine 'nope' is not supported", ErrorCode.INVALID_ARG),
        # libvirt 9.0's virQEMUCapsCacheLookupDefault: "unsupported configuration: unable to find any emulator ..."
        (
            {"arch": "aarch64"},
            "unable to find any emulator to serve 'aarch64' architecture",
            ErrorCode.CONFIG_UNSUPPORTED,
        ),
        ({"virttype": "xen"}, "unknown virttype", ErrorCode.INVALID_ARG),
    ):
        with pytest.raises(pyvirt.Error) as err:
            conn.get_domain_capabilities(**kwargs)  # type: ignore[arg-type]
        assert err.value.code == code and words in err.value.message


CAPABILITIES_AT_ONCE = """
import sys, threading, libvirt
conns = [libvirt.open(sys.argv[1]) for _ in range(6)]
ready = threading.Barrier(len(conns))
def ask(conn):
    ready.wait()
    conn.getCapabilities()
threads = [threading.Thread(target=ask, args=(c,)) for c in conns]
for t in threads:
    t.start()
for t in threads:
    t.join()
"""


def _probes_of(daemon_pid: int) -> dict[int, str]:
    """The daemon's child processes that are capability probes (QEMU with ``-machine none``): pid -> binary."""
    found: dict[int, str] = {}
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{daemon_pid}/task"):
            with contextlib.suppress(OSError):
                for child in Path(f"/proc/{daemon_pid}/task/{tid}/children").read_text().split():
                    with contextlib.suppress(OSError):
                        argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
                        if b"-machine" in argv and argv[argv.index(b"-machine") + 1 :][:1] == [b"none"]:
                            found[int(child)] = argv[0].decode()
    return found


@pytest.mark.cold_qemu_caps
@pytest.mark.skipif(not os.path.exists("/usr/lib/python3/dist-packages/libvirt.py"), reason="needs python3-libvirt")
def test_clients_asking_at_once_on_a_cold_cache_wait_for_one_probe_per_emulator(qemu_root: Path) -> None:
    """Six clients of pyvirtd ask for the capabilities at the same moment, before any emulator was probed: each
    emulator binary is probed by one QEMU at a time, and the others wait for its answer instead of starting
    their own."""
    with PrivateDaemon(qemu_root) as daemon:
        assert daemon.proc is not None
        assert not list((qemu_root / "cache").rglob("capabilities/*.json")), "the cache is not cold"
        seen: dict[int, str] = {}
        most_at_once: Counter[str] = Counter()
        done = threading.Event()

        def watch() -> None:
            assert daemon.proc is not None
            while not done.is_set():
                now = _probes_of(daemon.proc.pid)
                seen.update(now)
                for binary, count in Counter(now.values()).items():
                    most_at_once[binary] = max(most_at_once[binary], count)
                time.sleep(0.002)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            run = subprocess.run(["/usr/bin/python3", "-c", CAPABILITIES_AT_ONCE, daemon.uri("qemu:///system")],
                                 capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
        finally:
            done.set()
            watcher.join()
        assert run.returncode == 0, run.stderr + daemon.log()
        assert seen, "no probe was seen: the test watched nothing"
        assert max(most_at_once.values()) == 1, f"probes of one binary at the same time: {dict(most_at_once)}"
        assert sorted(Counter(seen.values()).values()) == [1] * len(set(seen.values())), f"probes: {seen}"
