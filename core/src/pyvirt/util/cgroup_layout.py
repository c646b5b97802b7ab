"""Which cgroup hierarchies this host mounts, read from /proc/self/mountinfo.

Hosts come in three shapes: pure v1 (one mount per controller), pure v2 (one
unified mount listing its controllers in ``cgroup.controllers``) and hybrid
(v1 controllers plus a v2 mount, often empty, at /sys/fs/cgroup/unified). A
controller is usable where it is actually bound: on a hybrid host the v1
mount wins, because the kernel binds each controller to one hierarchy only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CgroupLayout", "detect_cgroup_layout"]


@dataclass
class CgroupLayout:
    v1_mounts: dict[str, str] = field(default_factory=dict)
    v2_root: str | None = None
    v2_controllers: frozenset[str] = frozenset()

    @property
    def kind(self) -> str:
        if self.v1_mounts and self.v2_root:
            return "hybrid"
        if self.v2_root:
            return "v2"
        if self.v1_mounts:
            return "v1"
        return "none"

    def describe(self) -> str:
        if self.kind == "hybrid":
            extra = ",".join(sorted(self.v2_controllers)) or "no controllers"
            return f"hybrid: v1 controllers, v2 at {self.v2_root} with {extra}"
        if self.kind == "v2":
            return f"v2 at {self.v2_root}"
        if self.kind == "v1":
            return "v1"
        return "no cgroup filesystem mounted"

    def has_controller(self, name: str) -> bool:
        if name in self.v1_mounts:
            return True
        if self.v2_root is None:
            return False
        if name in ("devices", "freezer"):  # v2: BPF device filter and cgroup.freeze are built in
            return True
        if name == "cpuacct":
            return "cpu" in self.v2_controllers
        if name == "blkio":
            return "io" in self.v2_controllers
        return name in self.v2_controllers

    def controller_path(self, name: str) -> str | None:
        if name in self.v1_mounts:
            return self.v1_mounts[name]
        if self.has_controller(name):
            return self.v2_root
        return None


def detect_cgroup_layout(mountinfo: str = "/proc/self/mountinfo") -> CgroupLayout:
    layout = CgroupLayout()
    with open(mountinfo, encoding="utf-8") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = left.split()
            fstype, _source, *opts = right.split()
            target = fields[4]
            if fstype == "cgroup2":
                layout.v2_root = target
            elif fstype == "cgroup":
                super_opts = opts[0].split(",") if opts else []
                for opt in super_opts:
                    if opt.startswith("name="):
                        continue
                    if opt in ("rw", "ro", "relatime", "nosuid", "nodev", "noexec", "clone_children"):
                        continue
                    layout.v1_mounts[opt] = target
    if layout.v2_root:
        try:
            with open(f"{layout.v2_root}/cgroup.controllers", encoding="ascii") as f:
                layout.v2_controllers = frozenset(f.read().split())
        except OSError:
            pass
    return layout
