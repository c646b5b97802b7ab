"""libvirt's CPU map: the CPU model names each architecture's CPU driver knows (virCPUGetModels).

libvirt keeps its models in ``cpu_map/index.xml`` and the files it includes
(Debian's ``libvirt0`` ships them under /usr/share/libvirt/cpu_map). The names
come in the order of the includes, as virCPUx86GetModels and
virCPUppc64DriverGetModels list them; the ARM and s390 drivers list none
(every model is accepted). Read from disk on each call: only ``cpu-models``
and drivers answering virConnectGetCPUModelNames ask.
"""

from __future__ import annotations

import os

import pyvirt.errors as _errors
from pyvirt.errors import ErrorCode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from lxml import etree

__all__ = ["CPU_MAP_DIR", "model_names"]

CPU_MAP_DIR = os.environ.get("PYVIRT_CPU_MAP_DIR", "/usr/share/libvirt/cpu_map")

# virArchData's names after "none" (virArchFromString skips it), in libvirt 9.0's order
ARCHES = [
    "alpha",
    "armv6l",
    "armv7l",
    "armv7b",
    "aarch64",
    "cris",
    "i686",
    "ia64",
    "lm32",
    "m68k",
    "microblaze",
    "microblazeel",
    "mips",
    "mipsel",
    "mips64",
    "mips64el",
    "openrisc",
    "parisc",
    "parisc64",
    "ppc",
    "ppcle",
    "ppc64",
    "ppc64le",
    "ppcemb",
    "riscv32",
    "riscv64",
    "s390",
    "s390x",
    "sh4",
    "sh4eb",
    "sparc",
    "sparc64",
    "unicore32",
    "x86_64",
    "xtensa",
    "xtensaeb",
]

# each CPU driver's architectures and the cpu_map <arch name> its models come from (None: no getModels)
_DRIVERS: dict[str, str | None] = {
    "i686": "x86", "x86_64": "x86",
    "ppc64": "ppc64", "ppc64le": "ppc64",
    "armv6l": None, "armv7b": None, "armv7l": None, "aarch64": None,
    "s390": None, "s390x": None,
}  # fmt: skip


def model_names(arch: str) -> list[str]:
    """virCPUGetModels for ``arch``: its models, [] when its driver accepts any; libvirt's errors otherwise.

    :raises InvalidArgumentError: "cannot find architecture ARCH" for a name libvirt does not know.
    :raises NotSupportedError: "'ARCH' architecture is not supported by CPU driver".
    """
    if arch not in ARCHES:
        raise _errors.InvalidArgumentError(ErrorCode.INVALID_ARG, f"cannot find architecture {arch}")
    if arch not in _DRIVERS:
        raise _errors.NotSupportedError(ErrorCode.NO_SUPPORT, f"'{arch}' architecture is not supported by CPU driver")
    section = _DRIVERS[arch]
    if section is None:
        return []
    from pyvirt.conf.xmlparse import parse_xml

    def load(name: str, root: str) -> etree._Element:
        path = os.path.join(CPU_MAP_DIR, name)
        try:
            with open(path, "rb") as f:
                return parse_xml(f.read(), root, path)
        except OSError as exc:
            raise _errors.InternalError(
                ErrorCode.INTERNAL_ERROR, f"failed to read CPU map {path}: {os.strerror(exc.errno or 0)}"
            ) from None

    index = load("index.xml", "cpus")
    names: list[str] = []
    for arch_node in index.iterfind("arch"):
        if arch_node.get("name") != section:
            continue
        for include in arch_node.iterfind("include"):
            doc = load(include.get("filename") or "", "cpus")
            names += [m.get("name") or "" for m in doc.iterfind("model")]
    return names
