"""``pyvirsh cpu-baseline``, ``cpu-compare``, ``hypervisor-cpu-baseline``, ``hypervisor-cpu-compare``, as virsh 9.0.

Each follows its ``cmdXxx`` in libvirt 9.0's tools/virsh-host.c. The CPU
definitions come out of the file as vshExtractCPUDefXMLs takes them: bare
``<cpu>`` elements, the ``<cpu>`` of domain XMLs, of host capabilities, or the
supported ``host-model`` mode of domain capabilities (renamed ``<cpu>``, its
attributes dropped), all wrapped in one ``<container>`` so a file may hold
several. The computing is the driver's (libvirt's CPU map, :mod:`pyvirt.util.cpu_x86`).
"""

from __future__ import annotations

import pyvirt
from pyvirt.cli.framework import CommandError, Opt, Session, command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__: list[str] = []

_COMPARE_FLAGS = {"error": 1, "validate": 2}  # VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE, _VALIDATE_XML
_BASELINE_FLAGS = {"features": 1, "migratable": 2}  # VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES, _MIGRATABLE


def _flags(o: dict[str, Any], table: dict[str, int]) -> int:
    return sum(bit for name, bit in table.items() if o[name])


def _string(o: dict[str, Any], name: str) -> str | None:
    """vshCommandOptStringReq: an empty value is refused."""
    value: str | None = o[name]
    if value == "":
        raise CommandError(f"Failed to get option '{name}': Option argument is empty")
    return value


def _extract_cpus(path: str) -> list[str]:
    """vshExtractCPUDefXMLs: the CPU definitions ``path`` holds, each as its own XML string."""
    from lxml import etree

    from pyvirt.cli.files import read_file
    from pyvirt.conf.xmlparse import parse_xml

    text = read_file(path)
    if text.startswith("<?xml") and "?>" in text:  # strip a possible XML declaration
        text = text[text.index("?>") + 2 :]
    try:
        root = parse_xml(f"<container>{text}</container>", "container", path)
    except pyvirt.Error as exc:  # virsh names the file itself in libxml2's message, not "(file)"
        message = exc.message
        if message.startswith(f"({path}):"):
            message = path + message[len(path) + 2 :]
        raise CommandError(message) from None
    nodes: list[etree._Element] = []  # the XPath union of virsh's, in document order
    for top in root:
        if top.tag == "cpu":
            nodes.append(top)
        elif top.tag == "domain":
            nodes += top.findall("cpu")
        elif top.tag == "capabilities":
            nodes += [cpu for host in top.findall("host") for cpu in host.findall("cpu")]
        elif top.tag == "domainCapabilities":
            nodes += [
                mode
                for cpu in top.findall("cpu")
                for mode in cpu.findall("mode")
                if mode.get("name") == "host-model" and mode.get("supported") == "yes"
            ]
    if not nodes:
        raise CommandError(
            f"File '{path}' does not contain any <cpu> element or valid domain XML, host capabilities XML, "
            "or domain capabilities XML"
        )
    cpus = []
    for node in nodes:
        if node.tag == "mode":
            node.tag = "cpu"
            node.attrib.clear()
        cpus.append(etree.tostring(node, encoding="unicode", with_tail=False))
    return cpus


@command("cpu-baseline", "compute baseline CPU",
         Opt("file", "file containing XML CPU descriptions", required=True, positional=True),
         Opt("features", "Show features that are part of the CPU model type", flag=True),
         Opt("migratable", "Do not include features that block migration", flag=True),
         description="Compute baseline CPU for a set of given CPUs.")  # fmt: skip
def cmd_cpu_baseline(s: Session, o: dict[str, Any]) -> None:
    """cmdCPUBaseline: the driver's document as it comes; a failure is libvirt's error alone."""
    flags = _flags(o, _BASELINE_FLAGS)
    path = _string(o, "file") or ""
    cpus = _extract_cpus(path)
    s.out_raw(s.conn.baseline_cpu(cpus, flags))


# how virsh words a comparison: its failure, then the result 0 (incompatible), 1 (identical), 2 (superset)
_HOST_WORDING = (
    "Failed to compare host CPU with {path}",
    "CPU described in {path} is incompatible with host CPU",
    "CPU described in {path} is identical to host CPU",
    "Host CPU is a superset of CPU described in {path}",
)
_HYPERVISOR_WORDING = (
    "Failed to compare hypervisor CPU with {path}",
    "CPU described in {path} is incompatible with the CPU provided by hypervisor on the host",
    "CPU described in {path} is identical to the CPU provided by hypervisor on the host",
    "The CPU provided by hypervisor on the host is a superset of CPU described in {path}",
)


def _compare(s: Session, path: str, compare: Callable[[str], int], wording: tuple[str, str, str, str]) -> None:
    """The first CPU of the file through ``compare``, reported as virsh does; incompatible fails the command.

    cpu-compare and hypervisor-cpu-compare differ only in the call and the wording (cmdCPUCompare,
    cmdHypervisorCPUCompare).
    """
    failed, incompatible, identical, superset = (w.format(path=path) for w in wording)
    cpus = _extract_cpus(path)
    try:
        result = compare(cpus[0])
    except pyvirt.Error as exc:
        raise CommandError(failed, exc.message) from None
    if result == 0:
        s.out(incompatible)
        raise CommandError()
    if result == 1:
        s.out(identical)
    elif result == 2:
        s.out(superset)
    else:
        raise CommandError(failed)


@command("cpu-compare", "compare host CPU with a CPU described by an XML file",
         Opt("file", "file containing an XML CPU description", required=True, positional=True),
         Opt("error", "report error if CPUs are incompatible", flag=True),
         Opt("validate", "validate the XML document against schema", flag=True),
         description="compare CPU with host CPU")  # fmt: skip
def cmd_cpu_compare(s: Session, o: dict[str, Any]) -> None:
    """cmdCPUCompare: the first CPU of the file against the host's; incompatible fails the command."""
    flags = _flags(o, _COMPARE_FLAGS)
    _compare(s, _string(o, "file") or "", lambda cpu: s.conn.compare_cpu(cpu, flags), _HOST_WORDING)


_HV_OPTS = (
    Opt("virttype", "virtualization type (/domain/@type)"),
    Opt("emulator", "path to emulator binary (/domain/devices/emulator)"),
    Opt("arch", "CPU architecture (/domain/os/type/@arch)"),
    Opt("machine", "machine type (/domain/os/type/@machine)"),
)


@command("hypervisor-cpu-compare", "compare a CPU with the CPU created by a hypervisor on the host",
         Opt("file", "file containing an XML CPU description", required=True, positional=True),
         *_HV_OPTS,
         Opt("error", "report error if CPUs are incompatible", flag=True),
         Opt("validate", "validate the XML document against schema", flag=True),
         description="compare CPU with hypervisor CPU")  # fmt: skip
def cmd_hypervisor_cpu_compare(s: Session, o: dict[str, Any]) -> None:
    """cmdHypervisorCPUCompare."""
    flags = _flags(o, _COMPARE_FLAGS)
    virttype, emulator, arch, machine = (_string(o, n) for n in ("virttype", "emulator", "arch", "machine"))
    _compare(s, _string(o, "file") or "",
             lambda cpu: s.conn.compare_hypervisor_cpu(emulator, arch, machine, virttype, cpu, flags),
             _HYPERVISOR_WORDING)  # fmt: skip


@command("hypervisor-cpu-baseline", "compute baseline CPU usable by a specific hypervisor",
         Opt("file", "file containing XML CPU descriptions", positional=True, kind="optstring"),
         *_HV_OPTS,
         Opt("features", "Show features that are part of the CPU model type", flag=True),
         Opt("migratable", "Do not include features that block migration", flag=True),
         Opt("model", "Shortcut for calling the command with a single CPU model and no additional features"),
         description="Compute baseline CPU for a set of given CPUs. The result will be tailored to the "
                     "specified hypervisor.")  # fmt: skip
def cmd_hypervisor_cpu_baseline(s: Session, o: dict[str, Any]) -> None:
    """cmdHypervisorCPUBaseline: ``--model M`` stands for ``<cpu><model>M</model></cpu>``."""
    flags = _flags(o, _BASELINE_FLAGS)
    path = _string(o, "file")
    virttype, emulator, arch, machine, model = (
        _string(o, n) for n in ("virttype", "emulator", "arch", "machine", "model")
    )
    if path is not None and model is not None:  # VSH_ALTERNATIVE_OPTIONS_EXPR: exactly one of them
        raise CommandError("Options --file and --model are mutually exclusive")
    if path is None and model is None:
        raise CommandError("Either --file or --model must be provided")
    cpus = _extract_cpus(path) if path is not None else [f"<cpu><model>{model}</model></cpu>"]
    s.out_raw(s.conn.baseline_hypervisor_cpu(emulator, arch, machine, virttype, cpus, flags))
