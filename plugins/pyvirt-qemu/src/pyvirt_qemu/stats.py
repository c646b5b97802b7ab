"""``domstats`` for QEMU guests: state, cpu, balloon, vcpus, interfaces, disks and the dirty-page rate, in libvirt's
field names.

CPU time comes from the QEMU process (/proc), block statistics and sizes
from QMP (query-blockstats, query-named-block-nodes), interface counters
from the tap devices' sysfs statistics, turned round to the guest's point
of view as libvirt does (what the tap transmits, the guest receives).
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from pyvirt.conf.domain import Domain
from pyvirt.errors import Error
from pyvirt_qemu.block_nodes import node_id
from pyvirt_qemu.device_aliases import disk_alias
from pyvirt_qemu.hotplug import top_nodes

__all__ = ["STATS_BALLOON", "STATS_BLOCK", "STATS_CPU", "STATS_DIRTYRATE", "STATS_INTERFACE", "STATS_STATE", "STATS_VCPU",
           "collect"]  # fmt: skip

STATS_STATE, STATS_CPU, STATS_BALLOON, STATS_VCPU, STATS_INTERFACE, STATS_BLOCK = 1, 2, 4, 8, 16, 32
STATS_DIRTYRATE = 512  # VIR_DOMAIN_STATS_DIRTYRATE
Field = tuple[str, int | str]


def _cpu(pid: int) -> list[Field]:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return []
    tick = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    user, system = int(fields[11]) * tick, int(fields[12]) * tick
    return [("cpu.time", user + system), ("cpu.user", user), ("cpu.system", system)]


def _balloon(dom: Domain, monitor: Any | None) -> list[Field]:
    maximum = dom.memory.kib if dom.memory is not None else 0
    current = dom.current_memory.kib if dom.current_memory is not None else maximum
    has_balloon = dom.devices is not None and dom.devices.memballoon is not None and \
        dom.devices.memballoon.model not in (None, "none")  # fmt: skip
    if monitor is not None and has_balloon:
        with contextlib.suppress(Exception):
            current = int(monitor.execute("query-balloon")["actual"]) // 1024
    return [("balloon.current", current), ("balloon.maximum", maximum)]


def _vcpu(dom: Domain) -> list[Field]:
    count = dom.vcpu.count or 1 if dom.vcpu is not None else 1
    current = dom.vcpu.current or count if dom.vcpu is not None else count
    return [("vcpu.current", current), ("vcpu.maximum", count)]


def _interfaces(dom: Domain) -> list[Field]:
    nics = [n for n in (dom.devices.interfaces if dom.devices is not None else []) if n.target_dev]
    out: list[Field] = [("net.count", len(nics))]
    for i, nic in enumerate(nics):
        base = f"/sys/class/net/{nic.target_dev}/statistics"

        def counter(name: str, base: str = base) -> int:
            try:
                with open(f"{base}/{name}", encoding="ascii") as f:
                    return int(f.read())
            except (OSError, ValueError):
                return 0

        out.append((f"net.{i}.name", nic.target_dev or ""))
        for guest, host in (("rx", "tx"), ("tx", "rx")):  # the tap's tx is the guest's rx
            out += [(f"net.{i}.{guest}.bytes", counter(f"{host}_bytes")),
                    (f"net.{i}.{guest}.pkts", counter(f"{host}_packets")),
                    (f"net.{i}.{guest}.errs", counter(f"{host}_errors")),
                    (f"net.{i}.{guest}.drop", counter(f"{host}_dropped"))]  # fmt: skip
    return out


def _capacity(path: str, size: int) -> int:
    """The guest-visible size of a stopped guest's image: a qcow2 header's virtual size, else the file's."""
    with contextlib.suppress(OSError), open(path, "rb") as f:
        header = f.read(32)
        if len(header) == 32 and header[:4] == b"QFI\xfb":
            return int.from_bytes(header[24:32], "big")
    return size


def _blocks(dom: Domain, monitor: Any | None) -> list[Field]:
    disks = [(node_id(i, d), d) for i, d in enumerate(dom.devices.disks if dom.devices is not None else [])]
    stats: dict[str, dict[str, Any]] = {}
    nodes: dict[str, dict[str, Any]] = {}
    tops: dict[str, str] = {}
    thresholds: dict[str, int] = {}  # each node's write threshold (domblkthreshold), 0 when none is set
    if monitor is not None:
        with contextlib.suppress(Exception):
            tops = top_nodes(monitor)
        with contextlib.suppress(Exception):
            stats = {s.get("node-name", ""): s.get("stats", {}) for s in monitor.execute("query-blockstats")}
        with contextlib.suppress(Exception):
            named = monitor.execute("query-named-block-nodes")
            nodes = {n["node-name"]: n.get("image", {}) for n in named}
            thresholds = {n["node-name"]: int(n.get("write_threshold") or 0) for n in named}
    out: list[Field] = [("block.count", len(disks))]
    for n, (i, disk) in enumerate(disks):
        path = disk.source_file or disk.source_dev
        out.append((f"block.{n}.name", disk.target_dev or ""))
        if path:
            out.append((f"block.{n}.path", path))
        top = tops.get(disk.alias.name if disk.alias is not None and disk.alias.name else disk_alias(disk),
                       f"libvirt-{i}-format")  # fmt: skip
        st = stats.get(top)
        if st is not None:
            out += [(f"block.{n}.rd.reqs", st.get("rd_operations", 0)), (f"block.{n}.rd.bytes", st.get("rd_bytes", 0)),
                    (f"block.{n}.rd.times", st.get("rd_total_time_ns", 0)),
                    (f"block.{n}.wr.reqs", st.get("wr_operations", 0)), (f"block.{n}.wr.bytes", st.get("wr_bytes", 0)),
                    (f"block.{n}.wr.times", st.get("wr_total_time_ns", 0)),
                    (f"block.{n}.fl.reqs", st.get("flush_operations", 0)),
                    (f"block.{n}.fl.times", st.get("flush_total_time_ns", 0))]  # fmt: skip
        image = nodes.get(top)
        if image:
            physical = int(image.get("actual-size", 0))
            out += [(f"block.{n}.allocation", physical), (f"block.{n}.capacity", int(image.get("virtual-size", 0))),
                    (f"block.{n}.physical", physical)]  # fmt: skip
        elif path and os.path.exists(path):
            st_ = os.stat(path)
            out += [(f"block.{n}.allocation", st_.st_blocks * 512), (f"block.{n}.capacity", _capacity(path, st_.st_size)),
                    (f"block.{n}.physical", st_.st_blocks * 512)]  # fmt: skip
        # qemuDomainGetStatsBlockExportBackendStorage: the image's storage node's threshold, when one is set
        threshold = thresholds.get(top.removesuffix("-format") + "-storage", 0)
        if threshold:
            out.append((f"block.{n}.threshold", threshold))
    return out


def collect(dom: Domain, state: int, reason: int, pid: int | None, monitor: Any | None, mask: int) -> list[Field]:
    """The requested groups (0: all) in libvirt's order; running-only groups are left out for a stopped guest."""
    want = mask or (STATS_STATE | STATS_CPU | STATS_BALLOON | STATS_VCPU | STATS_INTERFACE | STATS_BLOCK
                    | STATS_DIRTYRATE)  # fmt: skip
    out: list[Field] = []
    if want & STATS_STATE:
        out += [("state.state", state), ("state.reason", reason)]
    if want & STATS_CPU and pid is not None:
        out += _cpu(pid)
    if want & STATS_BALLOON:
        out += _balloon(dom, monitor)
    if want & STATS_VCPU:
        out += _vcpu(dom)
    if want & STATS_INTERFACE and pid is not None:
        out += _interfaces(dom)
    if want & STATS_BLOCK:
        out += _blocks(dom, monitor)
    if want & STATS_DIRTYRATE and monitor is not None:  # qemuDomainGetStatsDirtyRate: running guests only
        from pyvirt_qemu.migration_compression import dirty_rate_fields

        # A failure here is QEMU going away under the call (a save or destroy ending the guest beside this query;
        # every QEMU this driver runs has query-dirty-rate): libvirt's qemuProcessStop waits for the query job,
        # which then finds the guest inactive and skips the group, so libvirt never reports it. Skipped too, as the
        # other monitor groups are.
        with contextlib.suppress(Error):
            out += dirty_rate_fields(monitor)
    return out
