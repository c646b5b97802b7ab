"""What a VMX file can hold of a domain definition, and the refusal, by name, of everything else.

libvirt's virVMXFormatConfig writes the settings it knows and leaves out
the rest without a word; a definition uploaded to an ESX host would then be
less than what the user wrote. Every field of pyvirt's domain model that is
set is checked against the list of what the VMX writer maps; the first one
that is not is refused with its XML path (CONFIG_UNSUPPORTED). Values the
parser fills in by itself (``on_poweroff`` destroy, a UTC clock) pass.
"""

from __future__ import annotations

from typing import Any

from pyvirt.conf.domain import Domain
from pyvirt.conf.xmlmodel import X, XmlModel
from pyvirt_esx.vmx_file import vmx_unsupported

__all__ = ["refuse_unmapped"]

# What of the model the VMX format can carry. Anything else that is set is refused by its XML name.
_DOMAIN_FIELDS = {"type", "id", "name", "uuid", "genid", "description", "memory", "current_memory", "memtune", "vcpu",
                  "cputune", "os", "cpu", "clock", "on_poweroff", "on_reboot", "on_crash", "devices", "title",
                  "metadata"}  # fmt: skip
_FIELDS: dict[str, set[str]] = {
    "Os": {"firmware", "type", "boots", "smbios_mode"},
    "OsType": {"name", "arch", "machine"},
    "Vcpu": {"placement", "cpuset", "current", "count"},
    "CpuTune": {"shares"},
    "MemTuneLimits": {"min_guarantee"},
    "Cpu": {"mode", "match", "check", "topology_sockets", "topology_dies", "topology_cores", "topology_threads"},
    "Clock": {"offset"},
    "Devices": {
        "disks",
        "controllers",
        "filesystems",
        "interfaces",
        "serials",
        "parallels",
        "consoles",
        "graphics",
        "videos",
        "memballoon",
    },
    "Disk": {
        "type",
        "device",
        "driver_name",
        "driver_cache",
        "source_file",
        "source_dev",
        "source_startup_policy",
        "target_dev",
        "target_bus",
        "readonly",
        "transient",
        "address",
    },
    "Controller": {"type", "index", "model", "address"},
    "Filesystem": {"type", "accessmode", "source_dir", "target_dir", "readonly"},
    "Interface": {
        "type",
        "mac",
        "mac_type",
        "mac_check",
        "source_bridge",
        "source_switchid",
        "source_portid",
        "source_portgroupid",
        "source_connectionid",
        "target_dev",
        "model_type",
    },
    "Chardev": {"type", "sources", "protocol", "target_type", "target_port"},
    "ChardevSource": {"mode", "path", "host", "service"},
    "Graphics": {"type", "port", "autoport", "listen", "listens", "passwd", "keymap"},
    "GraphicsListen": {"type", "address"},
    "Video": {"model_type", "model_vram", "model_heads", "model_primary"},
    "Memory": {"kib"},
    "Address": {"attrs"},
    "BootDev": {"dev"},
    "Memballoon": {"model"},
}
# values the parser fills in itself, which say nothing the user asked for
_DEFAULTS: dict[tuple[str, str], tuple[Any, ...]] = {
    ("Domain", "clock"): (),
    ("Clock", "offset"): ("utc",),
    ("Domain", "on_poweroff"): ("destroy",),
    ("Domain", "on_reboot"): ("restart",),
    ("Domain", "on_crash"): ("destroy",),
    ("Os", "boots"): (),
    ("Cpu", "match"): ("exact",),
    ("Cpu", "check"): ("none", "partial"),
    ("Cpu", "mode"): ("custom",),
    ("Memballoon", "model"): ("none",),  # no balloon: nothing to write
}


def _markers(cls: type[XmlModel]) -> dict[str, X]:
    # the model's own reading of its fields: its annotations are strings (postponed), not Annotated objects
    return {name: marker for name, marker, _type in cls.xml_fields()}


def refuse_unmapped(model: XmlModel, where: str = "domain") -> None:
    """Refuse every field of ``model`` (and its sub-models) that is set and has no VMX key, naming its XML path."""
    cls = type(model)
    allowed = _DOMAIN_FIELDS if cls is Domain else _FIELDS.get(cls.__name__, set())
    markers = _markers(cls)
    for name in cls._field_names:
        value = getattr(model, name)
        if value is None or value is False or (isinstance(value, (list, tuple, dict)) and not value):
            continue
        if name not in allowed:
            if (cls.__name__, name) in _DEFAULTS:
                continue
            marker = markers.get(name)
            path = marker.path if marker is not None else name
            raise vmx_unsupported(f"'{where}/{path}' cannot be expressed in a VMX file")
        defaults = _DEFAULTS.get((cls.__name__, name))
        if defaults and value not in defaults:
            marker = markers.get(name)
            path = marker.path if marker is not None else name
            raise vmx_unsupported(f"'{where}/{path}' = '{value}' cannot be expressed in a VMX file")
        sub_path = markers[name].path if name in markers else name
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, XmlModel):
                refuse_unmapped(item, f"{where}/{sub_path}")
