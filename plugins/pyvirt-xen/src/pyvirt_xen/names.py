"""Names shared by the converters: CPU feature spellings, firmware paths, machine types."""

from __future__ import annotations

__all__ = ["HVMLOADER", "LIBXL_FIRMWARE_DIR", "MACHINES", "translate_cpu_feature"]

# libvirt's configure-time default (Debian builds with it too); xlconfigtest substitutes it the same way
LIBXL_FIRMWARE_DIR = "/usr/lib/xen/boot"
HVMLOADER = "/usr/lib/xen/boot/hvmloader"
# the machine type libvirt's Xen capabilities give each OS type
MACHINES = {"hvm": "xenfv", "linux": "xenpv", "xen": "xenpv", "xenpvh": "xenpvh"}

# xenTranslateCPUFeature's table: libvirt's name, libxl's name
_CPU_FEATURES = (
    ("cx16", "cmpxchg16"), ("cid", "cntxid"), ("ds_cpl", "dscpl"), ("pclmuldq", "pclmulqdq"), ("pni", "sse3"),
    ("ht", "htt"), ("pn", "psn"), ("clflush", "clfsh"), ("sep", "sysenter"), ("cx8", "cmpxchg8"),
    ("nodeid_msr", "nodeid"), ("cr8legacy", "altmovcr8"), ("lahf_lm", "lahfsahf"), ("cmp_legacy", "cmplegacy"),
    ("fxsr_opt", "ffxsr"), ("pdpe1gb", "page1gb"), ("spec-ctrl", "ibrsb"),
)  # fmt: skip


def translate_cpu_feature(name: str, *, from_libxl: bool) -> str:
    """A CPU feature's name in the other vocabulary; names both spell alike pass through."""
    for libvirt_name, libxl_name in _CPU_FEATURES:
        if (libxl_name if from_libxl else libvirt_name) == name:
            return libvirt_name if from_libxl else libxl_name
    return name
