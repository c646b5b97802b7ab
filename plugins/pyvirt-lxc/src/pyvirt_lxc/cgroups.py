"""A container's cgroups on v1, v2 and hybrid hosts: limits, device access, freezer, kill-all.

Every controller the host binds gets ``machine/<name>.libvirt-lxc`` under its
mount (v1: one directory per controller hierarchy; v2: one directory in the
unified tree). On a hybrid host a controller lives where the kernel bound
it, which is the v1 mount: an empty cgroup2 at /sys/fs/cgroup/unified (the
layout real libvirt 9.0's LXC driver trips over) is simply not used.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass, field

from pyvirt.errors import ErrorCode, NotSupportedError, OperationFailedError
from pyvirt.util.cgroup_layout import CgroupLayout, detect_cgroup_layout
from pyvirt_lxc.device_filter import attach_device_filter

__all__ = ["ALLOWED_DEVICES", "ContainerCgroup", "Limits"]

CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids")
# (type, major, minor) a container may use: the basic nodes, the consoles and ptys
ALLOWED_DEVICES = (("c", 1, 3), ("c", 1, 5), ("c", 1, 7), ("c", 1, 8), ("c", 1, 9), ("c", 5, 0), ("c", 5, 1),
                   ("c", 5, 2), ("c", 136, -1))  # fmt: skip


@dataclass
class Limits:
    memory_kib: int = 0
    cpu_shares: int = 0
    cpu_quota: int = 0
    cpu_period: int = 0
    cpuset: str = ""
    mems: str = ""
    memory_soft_kib: int = 0
    memory_swap_kib: int = 0
    blkio_weight: int = 0
    # (major, minor, weight, read_iops, write_iops, read_bytes, write_bytes); 0 = not set
    blkio_devices: list[tuple[int, int, int, int, int, int, int]] = field(default_factory=list)
    extra_devices: list[tuple[str, int, int]] = field(default_factory=list)


def _write(path: str, value: str) -> None:
    try:
        with open(path, "w", encoding="ascii") as f:
            f.write(value)
    except OSError as exc:
        raise OperationFailedError(
            ErrorCode.SYSTEM_ERROR, f"Unable to write to '{path}': {exc.strerror}", verbatim=False
        ) from exc


def _read(path: str) -> str:
    with open(path, encoding="ascii") as f:
        return f.read().strip()


class ContainerCgroup:
    def __init__(self, name: str, layout: CgroupLayout | None = None) -> None:
        self.layout = layout or detect_cgroup_layout()
        self.leaf = f"machine/{name}.libvirt-lxc"
        self.dirs: dict[str, str] = {}
        for ctrl in CONTROLLERS:
            base = self.layout.v1_mounts.get(ctrl)
            if base is not None:
                self.dirs[ctrl] = f"{base}/{self.leaf}"
        if self.layout.v2_root and (self.layout.v2_controllers or self.layout.kind == "v2"):
            for ctrl in CONTROLLERS:
                if ctrl not in self.dirs and self.layout.has_controller(ctrl):
                    self.dirs[ctrl] = f"{self.layout.v2_root}/{self.leaf}"
        self.v2_dir = f"{self.layout.v2_root}/{self.leaf}" if self.layout.kind == "v2" else None

    def is_v2(self, ctrl: str) -> bool:
        return ctrl in self.dirs and ctrl not in self.layout.v1_mounts

    def unique_dirs(self) -> list[str]:
        return sorted(set(self.dirs.values()))

    def procs_files(self) -> list[str]:
        return [f"{d}/cgroup.procs" for d in self.unique_dirs()]

    def memory_procs_file(self) -> str | None:
        """The procs file of a v1 memory hierarchy of its own, which the container's init joins but not its
        controller; None where memory shares a directory with other controllers (v2, co-mounted v1).

        Why: libvirt_lxc (a few hundred KiB of C) sits in all of the container's cgroups. pyvirt's controller
        is a Python interpreter of about 11 MB: in the memory cgroup it would take a third of a 32 MiB
        container's ``<memory>``, and the kernel's OOM killer could pick it, ending the whole container,
        instead of the process that overran the limit. (Lowering its OOM score instead needs
        CAP_SYS_RESOURCE, which a root without it, in some sandboxes, cannot do.)
        """
        d = self.dirs.get("memory")
        if d is None or self.is_v2("memory") or any(c != "memory" and p == d for c, p in self.dirs.items()):
            return None
        return f"{d}/cgroup.procs"

    def controller_procs_files(self) -> list[str]:
        """Where the controller joins: every hierarchy but the memory one (see :meth:`memory_procs_file`)."""
        memory = self.memory_procs_file()
        return [p for p in self.procs_files() if p != memory]

    def create(self, limits: Limits) -> None:
        """Make the directories and apply the limits; on failure nothing is left behind.

        A directory left by a container that was never cleaned up (its
        manager killed with it) is emptied and made again: joining it could
        mean joining a frozen cgroup with stale limits.
        """
        if self.exists():
            self.kill_all()
            self.remove()
        try:
            for d in self.unique_dirs():
                parent = os.path.dirname(d)
                if not os.path.isdir(parent):
                    os.makedirs(parent, exist_ok=True)
                    self._inherit_cpuset(parent)
                    self._enable_v2_controllers(parent)
                os.makedirs(d, exist_ok=True)
                self._inherit_cpuset(d)
            self._apply(limits)
        except BaseException:
            self.remove()
            raise

    def _enable_v2_controllers(self, parent: str) -> None:
        if self.v2_dir is None:
            return
        root = self.layout.v2_root or ""
        wanted = " ".join(
            f"+{c}" for c in sorted(self.layout.v2_controllers & {"cpu", "cpuset", "memory", "io", "pids"})
        )
        for d in (root, parent):
            with contextlib.suppress(OSError):
                _write(f"{d}/cgroup.subtree_control", wanted)

    def _inherit_cpuset(self, d: str) -> None:
        """v1 cpuset directories start empty, and a task cannot join an empty one."""
        if not d.startswith(self.layout.v1_mounts.get("cpuset", "\0")):
            return
        for knob in ("cpuset.cpus", "cpuset.mems"):
            if not _read(f"{d}/{knob}"):
                _write(f"{d}/{knob}", _read(f"{os.path.dirname(d)}/{knob}"))

    def _apply(self, lim: Limits) -> None:
        mem = self.dirs.get("memory")
        if mem and lim.memory_kib:
            knob = "memory.max" if self.is_v2("memory") else "memory.limit_in_bytes"
            _write(f"{mem}/{knob}", str(lim.memory_kib * 1024))
        cpu = self.dirs.get("cpu")
        if cpu and lim.cpu_shares:
            if self.is_v2("cpu"):  # systemd's mapping of shares (2..262144) to weight (1..10000)
                _write(f"{cpu}/cpu.weight", str(max(1, min(10000, lim.cpu_shares * 100 // 1024))))
            else:
                _write(f"{cpu}/cpu.shares", str(lim.cpu_shares))
        if cpu and (lim.cpu_quota or lim.cpu_period):
            if self.is_v2("cpu"):
                quota = str(lim.cpu_quota) if lim.cpu_quota > 0 else "max"
                _write(f"{cpu}/cpu.max", f"{quota} {lim.cpu_period or 100000}")
            else:
                if lim.cpu_period:
                    _write(f"{cpu}/cpu.cfs_period_us", str(lim.cpu_period))
                if lim.cpu_quota:
                    _write(f"{cpu}/cpu.cfs_quota_us", str(lim.cpu_quota))
        if mem and lim.memory_soft_kib:
            knob = "memory.high" if self.is_v2("memory") else "memory.soft_limit_in_bytes"
            _write(f"{mem}/{knob}", str(lim.memory_soft_kib * 1024))
        if mem and lim.memory_swap_kib:
            if self.is_v2("memory"):  # v2 limits swap alone; libvirt's swap_hard_limit is memory + swap
                _write(f"{mem}/memory.swap.max", str(max(0, lim.memory_swap_kib - lim.memory_kib) * 1024))
            else:
                _write(f"{mem}/memory.memsw.limit_in_bytes", str(lim.memory_swap_kib * 1024))
        cpuset = self.dirs.get("cpuset")
        if cpuset and lim.cpuset:
            _write(f"{cpuset}/cpuset.cpus", lim.cpuset)
        if cpuset and lim.mems:
            _write(f"{cpuset}/cpuset.mems", lim.mems)
        self._apply_blkio(lim)
        devices = self.dirs.get("devices")
        if devices and not self.is_v2("devices"):
            _write(f"{devices}/devices.deny", "a")
            for kind, major, minor in (*ALLOWED_DEVICES, *lim.extra_devices):
                _write(f"{devices}/devices.allow", f"{kind} {major}:{'*' if minor < 0 else minor} rwm")
        elif devices:  # cgroup v2: an eBPF device program on the container's cgroup
            try:
                attach_device_filter(devices, [*ALLOWED_DEVICES, *lim.extra_devices])
            except OSError as exc:
                raise OperationFailedError(
                    ErrorCode.SYSTEM_ERROR, f"Unable to attach the device filter to '{devices}': {exc.strerror}",
                    verbatim=False,
                ) from exc  # fmt: skip

    def _apply_blkio(self, lim: Limits) -> None:
        if not (lim.blkio_weight or lim.blkio_devices):
            return
        d = self.dirs.get("blkio") or self.dirs.get("io")
        if d is None:
            raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED, "the blkio cgroup controller is not available")
        if self.is_v2("blkio"):
            if lim.blkio_weight:
                _write(f"{d}/io.weight", f"default {lim.blkio_weight}")
            for major, minor, weight, riops, wiops, rbps, wbps in lim.blkio_devices:
                if weight:
                    _write(f"{d}/io.weight", f"{major}:{minor} {weight}")
                limits = {"riops": riops, "wiops": wiops, "rbps": rbps, "wbps": wbps}
                if any(limits.values()):
                    _write(f"{d}/io.max", f"{major}:{minor} " + " ".join(f"{k}={v}" for k, v in limits.items() if v))
            return
        weight_knob = next((k for k in ("blkio.bfq.weight", "blkio.weight") if os.path.exists(f"{d}/{k}")), None)
        if lim.blkio_weight or any(dev[2] for dev in lim.blkio_devices):
            if weight_knob is None:
                raise NotSupportedError(
                    ErrorCode.OPERATION_UNSUPPORTED,
                    "blkio weight is valid only with the bfq or cfq I/O scheduler, which this host does not use",
                )
            if lim.blkio_weight:
                _write(f"{d}/{weight_knob}", str(lim.blkio_weight))
        for major, minor, weight, riops, wiops, rbps, wbps in lim.blkio_devices:
            if weight and weight_knob is not None:
                _write(f"{d}/{weight_knob}_device", f"{major}:{minor} {weight}")
            for knob, value in (("read_iops_device", riops), ("write_iops_device", wiops),
                                ("read_bps_device", rbps), ("write_bps_device", wbps)):  # fmt: skip
                if value:
                    _write(f"{d}/blkio.throttle.{knob}", f"{major}:{minor} {value}")

    # ------------------------------------------------------------------ runtime
    def pids(self) -> set[int]:
        out: set[int] = set()
        for procs in self.procs_files():
            with contextlib.suppress(OSError):
                out.update(int(p) for p in _read(procs).split())
        return out

    def freeze(self, frozen: bool) -> None:
        d = self.dirs.get("freezer")
        if d is None:
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, "the freezer cgroup controller is not available")
        if self.is_v2("freezer"):
            _write(f"{d}/cgroup.freeze", "1" if frozen else "0")
            want, knob = ("frozen 1" if frozen else "frozen 0"), f"{d}/cgroup.events"
        else:
            _write(f"{d}/freezer.state", "FROZEN" if frozen else "THAWED")
            want, knob = ("FROZEN" if frozen else "THAWED"), f"{d}/freezer.state"
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if want in _read(knob).splitlines() or _read(knob) == want:
                return
            time.sleep(0.002)
        raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"the container did not reach {want} in {knob}")

    def kill_all(self, timeout: float = 5.0) -> None:
        """SIGKILL every task, thawing first (a frozen task cannot die), until the cgroup is empty."""
        with contextlib.suppress(OperationFailedError, OSError):
            if "freezer" in self.dirs:
                self.freeze(False)
        deadline = time.monotonic() + timeout
        while pids := self.pids():
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if time.monotonic() > deadline:
                raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"tasks {sorted(pids)} survived SIGKILL")
            time.sleep(0.001)

    def remove(self) -> None:
        """Remove the directories (empty ones only; a cgroup with tasks is left and reported by rmdir)."""
        for d in self.unique_dirs():
            for _ in range(200):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:  # EBUSY while the last task is being reaped
                    time.sleep(0.005)

    def exists(self) -> bool:
        return any(os.path.isdir(d) for d in self.unique_dirs())

    def memory_usage_kib(self) -> int:
        mem = self.dirs.get("memory")
        if not mem:
            return 0
        knob = "memory.current" if self.is_v2("memory") else "memory.usage_in_bytes"
        with contextlib.suppress(OSError, ValueError):
            return int(_read(f"{mem}/{knob}")) // 1024
        return 0

    def cpu_time_ns(self) -> int:
        acct = self.dirs.get("cpuacct")
        with contextlib.suppress(OSError, ValueError):
            if acct and not self.is_v2("cpuacct"):
                return int(_read(f"{acct}/cpuacct.usage"))
            cpu = self.dirs.get("cpu")
            if cpu:
                for line in _read(f"{cpu}/cpu.stat").splitlines():
                    key, _, val = line.partition(" ")
                    if key == "usage_usec":
                        return int(val) * 1000
        return 0
