"""domainCapabilities XML (``virsh domcapabilities``): what one emulator + driver pair accepts.

The document is output only (libvirt never parses it back), so it is a plain
record formatted with lxml in libvirt's element order rather than a
round-tripping model. Every "supported" section carries ``<enum>`` lists;
a section a driver cannot honour is emitted with ``supported='no'``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from pyvirt.conf.xmlwriter import to_string

__all__ = ["CpuModel", "DomainCapabilities", "HostModel", "Section", "format_domain_capabilities"]

# libvirt's order inside <devices> and <features>
DEVICE_ORDER = ("disk", "graphics", "video", "hostdev", "rng", "filesystem", "tpm", "redirdev", "channel")
FEATURE_ORDER = ("gic", "vmcoreinfo", "genid", "backingStoreInput", "backup", "sev", "sgx")


@dataclass
class Section:
    """``<NAME supported='yes|no'>`` with ``<enum name=...><value>...`` children."""

    supported: bool
    enums: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class CpuModel:
    name: str
    usable: str = "unknown"  # yes | no | unknown
    deprecated: bool = False
    vendor: str = "unknown"


@dataclass(frozen=True)
class HostModel:
    """The content of ``<mode name='host-model' supported='yes'>``: the model a guest would get."""

    model: str
    vendor: str | None = None
    features: list[tuple[str, str]] = field(default_factory=list)  # (policy, name)


@dataclass
class DomainCapabilities:
    path: str
    domain: str
    arch: str
    machine: str | None = None
    vcpu_max: int | None = None
    iothreads: bool | None = None
    os: Section | None = None
    loader: Section | None = None
    loader_values: list[str] = field(default_factory=list)
    cpu_host_passthrough: Section | None = None
    cpu_maximum: Section | None = None
    cpu_host_model: HostModel | bool | None = None  # False: unsupported; a HostModel: supported, and what it is
    cpu_custom: list[CpuModel] | None = None
    memory_backing: Section | None = None
    devices: dict[str, Section] = field(default_factory=dict)
    features: dict[str, Section] = field(default_factory=dict)


def _section(parent: etree._Element, tag: str, sec: Section, extra: list[str] | None = None) -> etree._Element:
    el = etree.SubElement(parent, tag, supported="yes" if sec.supported else "no")
    for value in extra or []:
        etree.SubElement(el, "value").text = value
    for name, values in sec.enums.items():
        enum = etree.SubElement(el, "enum", name=name)
        for value in values:
            etree.SubElement(enum, "value").text = value
    return el


def format_domain_capabilities(caps: DomainCapabilities) -> str:
    root = etree.Element("domainCapabilities")
    for tag, value in (("path", caps.path), ("domain", caps.domain), ("machine", caps.machine), ("arch", caps.arch)):
        if value is not None:
            etree.SubElement(root, tag).text = value
    if caps.vcpu_max is not None:
        etree.SubElement(root, "vcpu", max=str(caps.vcpu_max))
    if caps.iothreads is not None:
        etree.SubElement(root, "iothreads", supported="yes" if caps.iothreads else "no")
    if caps.os is not None:
        os_el = _section(root, "os", caps.os)
        if caps.loader is not None:
            _section(os_el, "loader", caps.loader, caps.loader_values)
    if caps.cpu_host_passthrough or caps.cpu_maximum or caps.cpu_host_model is not None or caps.cpu_custom is not None:
        cpu = etree.SubElement(root, "cpu")
        for name, sec in (("host-passthrough", caps.cpu_host_passthrough), ("maximum", caps.cpu_maximum)):
            if sec is not None:
                mode = _section(cpu, "mode", sec)
                mode.set("name", name)
                mode.attrib["supported"] = mode.attrib.pop("supported")  # name first, as libvirt prints
        if caps.cpu_host_model is not None:
            hm = caps.cpu_host_model
            mode = etree.SubElement(cpu, "mode", name="host-model", supported="yes" if hm else "no")
            if isinstance(hm, HostModel):
                etree.SubElement(mode, "model", fallback="forbid").text = hm.model
                if hm.vendor:
                    etree.SubElement(mode, "vendor").text = hm.vendor
                for policy, name in hm.features:
                    etree.SubElement(mode, "feature", policy=policy, name=name)
        if caps.cpu_custom is not None:
            custom = etree.SubElement(cpu, "mode", name="custom", supported="yes" if caps.cpu_custom else "no")
            for model in caps.cpu_custom:
                m = etree.SubElement(custom, "model", usable=model.usable)
                if model.deprecated:
                    m.set("deprecated", "yes")
                m.set("vendor", model.vendor)
                m.text = model.name
    if caps.memory_backing is not None:
        _section(root, "memoryBacking", caps.memory_backing)
    if caps.devices:
        devices = etree.SubElement(root, "devices")
        for tag in DEVICE_ORDER:
            if tag in caps.devices:
                _section(devices, tag, caps.devices[tag])
    if caps.features:
        features = etree.SubElement(root, "features")
        for tag in FEATURE_ORDER:
            if tag in caps.features:
                _section(features, tag, caps.features[tag])
    return to_string(root)
