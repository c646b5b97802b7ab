"""libvirt's enumerations and number ranges for domain XML values, checked before the models read them.

pyvirt's models keep most values as text; the refusals libvirt's parser
makes while reading them into C enums and integers live here, in one table
keyed by (parent element, element), with libvirt's word lists (its
``VIR_ENUM_IMPL`` tables) and the reader libvirt uses for each, so the
message is libvirt's (``value_checks``). Rules that look at several
elements at once are in ``domain_structure``.
"""

from __future__ import annotations

from lxml import etree

from pyvirt.conf.domain_structure import check_structure
from pyvirt.conf.units import strtoul
from pyvirt.conf.value_checks import (
    Check,
    bitmap,
    enum,
    legacy,
    mac_address,
    pci_number,
    port,
    sint,
    uint,
    ull,
    ullprop,
    unit_suffix,
    usb_port,
    uuid_text,
)
from pyvirt.errors import Error, ErrorCode, make_error

__all__ = ["check_domain_values"]

# fmt: off
TRISTATE_SWITCH = enum("on", "off")
PERF_EVENTS = ("cmt", "mbmt", "mbml", "cpu_cycles", "instructions", "cache_references", "cache_misses",
               "branch_instructions", "branch_misses", "bus_cycles", "stalled_cycles_frontend",
               "stalled_cycles_backend", "ref_cpu_cycles", "cpu_clock", "task_clock", "page_faults",
               "context_switches", "cpu_migrations", "page_faults_min", "page_faults_maj", "alignment_faults",
               "emulation_faults")
TRISTATE_BOOL = enum("yes", "no")

_NET_MODEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


def _net_model() -> Check:
    """virDomainNetSetModelString: a NIC model name is letters, digits, '-' and '_' (it ends up on a command
    line)."""

    def check(value: str, tag: str, attr: str) -> Error | None:
        if set(value) <= _NET_MODEL_CHARS:
            return None
        return make_error(ErrorCode.INVALID_ARG, "Model name contains invalid characters")

    return check

def _bandwidth_rate() -> Check:
    """virNetDevBandwidthParseRate: each rate is read with virStrToLong_ullp (a non-negative decimal)."""

    def check(value: str, tag: str, attr: str) -> Error | None:
        parsed = strtoul(value, 10)
        if parsed is None or parsed[0] == "-" or parsed[1] >= 2**64:
            return make_error(ErrorCode.CONFIG_UNSUPPORTED, f"could not convert bandwidth {attr} value '{value}'")
        return None

    return check


# libvirt's virArch names (virarch.c), less "none"
ARCHES = ("alpha", "armv6l", "armv7l", "armv7b", "aarch64", "cris", "i686", "ia64", "lm32", "m68k", "microblaze",
          "microblazeel", "mips", "mipsel", "mips64", "mips64el", "openrisc", "parisc", "parisc64", "ppc", "ppcle",
          "ppc64", "ppc64le", "ppcemb", "riscv32", "riscv64", "s390", "s390x", "sh4", "sh4eb", "sparc", "sparc64",
          "unicore32", "x86_64", "xtensa", "xtensaeb")
CHR_TYPES = ("null", "vc", "pty", "dev", "file", "pipe", "stdio", "udp", "tcp", "unix", "spicevmc", "spiceport",
             "nmdm", "qemu-vdagent", "dbus")
CONTROLLER_MODELS: dict[str, tuple[str, ...]] = {
    "scsi": ("auto", "buslogic", "lsilogic", "lsisas1068", "vmpvscsi", "ibmvscsi", "virtio-scsi", "lsisas1078",
             "virtio-transitional", "virtio-non-transitional", "ncr53c90", "dc390", "am53c974"),
    "usb": ("piix3-uhci", "piix4-uhci", "ehci", "ich9-ehci1", "ich9-uhci1", "ich9-uhci2", "ich9-uhci3",
            "vt82c686b-uhci", "pci-ohci", "nec-xhci", "qusb1", "qusb2", "qemu-xhci", "none"),
    "pci": ("pci-root", "pcie-root", "pci-bridge", "dmi-to-pci-bridge", "pcie-to-pci-bridge", "pcie-root-port",
            "pcie-switch-upstream-port", "pcie-switch-downstream-port", "pci-expander-bus", "pcie-expander-bus"),
    "ide": ("piix3", "piix4", "ich6"),
    "virtio-serial": ("virtio", "virtio-transitional", "virtio-non-transitional"),
}
ADDRESS_TYPES = ("pci", "drive", "virtio-serial", "ccid", "usb", "spapr-vio", "virtio-s390", "ccw", "virtio-mmio",
                 "isa", "dimm", "unassigned")
VIRTIO_MODELS = ("virtio", "virtio-transitional", "virtio-non-transitional")
DEFAULT_VIRTIO_MODELS = ("default", *VIRTIO_MODELS)

_ADDRESS: dict[str, dict[str, Check]] = {
    "pci": {
        "domain": uint(0),
        "bus": pci_number(0xFF, "bus", True),
        "slot": pci_number(0x1F, "slot", True),
        "function": pci_number(7, "function", False),
        "multifunction": TRISTATE_SWITCH,
    },
    "drive": {"controller": uint(), "bus": uint(), "target": uint(), "unit": uint()},
    "virtio-serial": {"controller": uint(), "bus": uint(), "port": uint()},
    "ccid": {"controller": uint(), "slot": uint()},
    "usb": {"bus": uint(), "port": usb_port()},
    "dimm": {"slot": uint(), "base": ullprop(16)},
    "isa": {"iobase": uint(16), "irq": uint(16)},
}

_CHR_TARGETS = {
    "serial": ("isa-serial", "usb-serial", "pci-serial", "spapr-vio-serial", "system-serial", "sclp-serial",
               "isa-debug"),
    "console": ("serial", "xen", "uml", "virtio", "lxc", "openvz", "sclp", "sclplm"),
    "channel": ("guestfwd", "virtio", "xen"),
    "parallel": (),
}

_DEVICE_CHECKS: dict[str, dict[str, Check]] = {
    "disk": {
        "type": enum("file", "block", "dir", "network", "volume", "nvme", "vhostuser"),
        "device": enum("disk", "cdrom", "floppy", "lun"),
        "model": enum(*DEFAULT_VIRTIO_MODELS),
        "sgio": enum("filtered", "unfiltered"),
        "snapshot": enum("no", "internal", "external", "manual"),
        "rawio": TRISTATE_BOOL,
    },
    "controller": {
        "type": enum("ide", "fdc", "scsi", "sata", "virtio-serial", "ccid", "usb", "pci", "xenbus", "isa"),
        "index": sint(nonnegative=True),
        "ports": sint(nonnegative=True),
        "vectors": sint(nonnegative=True),
    },
    "input": {
        "type": legacy(("mouse", "tablet", "keyboard", "passthrough", "evdev"), "unknown input device type '{v}'"),
        "bus": legacy(("ps2", "usb", "xen", "parallels", "virtio", "none"), "unknown input bus type '{v}'"),
        "model": enum(*DEFAULT_VIRTIO_MODELS),
    },
    "memballoon": {
        "model": enum("virtio", "xen", "none", "virtio-transitional", "virtio-non-transitional"),
        "autodeflate": TRISTATE_SWITCH,
        "freePageReporting": TRISTATE_SWITCH,
    },
    "audio": {
        "id": uint(nonzero=True),
        "type": enum("none", "alsa", "coreaudio", "jack", "oss", "pulseaudio", "sdl", "spice", "file", "dbus"),
        "driver": enum("esd", "alsa", "arts", "pulseaudio"),
    },
    "redirdev": {
        "bus": legacy(("usb",), "unknown redirdev bus '{v}'"),
        "type": legacy(CHR_TYPES, "unknown redirdev character device type '{v}'"),
    },
    "graphics": {
        "type": enum("sdl", "vnc", "rdp", "desktop", "spice", "egl-headless", "dbus"),
        "port": sint(),
        "tlsPort": sint(),
        "websocket": sint(),
        "defaultMode": enum("any", "secure", "insecure"),
        "connected": legacy(("fail", "disconnect", "keep"), "unknown connected value {v}", ErrorCode.CONFIG_UNSUPPORTED),
    },
    "interface": {
        "type": enum(
            "user",
            "ethernet",
            "vhostuser",
            "server",
            "client",
            "mcast",
            "network",
            "bridge",
            "internal",
            "direct",
            "hostdev",
            "udp",
            "vdpa",
            "null",
            "vds",
        ),
    },
    "memory": {
        "model": enum("dimm", "nvdimm", "virtio-pmem", "virtio-mem", "sgx-epc"),
        "access": enum("default", "shared", "private"),
        "discard": TRISTATE_BOOL,
    },
    "tpm": {"model": enum("default", "tpm-tis", "tpm-crb", "tpm-spapr", "spapr-tpm-proxy")},
    "smartcard": {
        "mode": enum("host", "host-certificates", "passthrough"),
        "type": legacy(CHR_TYPES, "unknown type presented to host for character device: {v}"),
    },
    "rng": {"model": legacy(VIRTIO_MODELS, "unknown RNG model '{v}'")},
    "filesystem": {
        "type": enum("mount", "block", "file", "template", "ram", "bind", "volume"),
        "accessmode": enum("", "passthrough", "mapped", "squash"),  # '' is libvirt's default entry
        "multidevs": enum("default", "remap", "forbid", "warn"),
        "model": enum(*DEFAULT_VIRTIO_MODELS),
    },
    "iommu": {"model": enum("intel", "smmuv3", "virtio")},
    "watchdog": {
        "model": legacy(("i6300esb", "ib700", "diag288"), "unknown watchdog model '{v}'"),
        "action": legacy(
            ("reset", "shutdown", "poweroff", "pause", "dump", "none", "inject-nmi"), "unknown watchdog action '{v}'"
        ),
    },
    "sound": {
        "model": legacy(
            ("sb16", "es1370", "pcspk", "ac97", "ich6", "ich9", "usb", "ich7"), "unknown sound model '{v}'"
        ),
    },
    "hostdev": {
        "mode": enum("subsystem", "capabilities"),
        # (no "managed": virDomainHostdevDefParseXMLSubsys ignores a word it cannot read, see Hostdev.managed)
        # scsi_host's vhost models and mdev's models (libvirt reads the one table the source type names;
        # a word from the other is refused later, by the model's own checks)
        "model": enum("virtio", "virtio-transitional", "virtio-non-transitional", "vfio-pci", "vfio-ccw", "vfio-ap"),
    },
    "panic": {"model": enum("default", "isa", "pseries", "hyperv", "s390")},
    "shmem": {"model": enum("ivshmem", "ivshmem-plain", "ivshmem-doorbell")},
    "vsock": {"model": enum(*DEFAULT_VIRTIO_MODELS)},
}
for _kind in _CHR_TARGETS:
    _DEVICE_CHECKS[_kind] = {
        "type": legacy(CHR_TYPES, "unknown type presented to host for character device: {v}"),
    }

# (parent tag, tag) -> attribute ("" for the element's text) -> check
_CHECKS: dict[tuple[str, str], dict[str, Check]] = {
    ("domain", "vcpu"): {
        "": uint(message="maximum vcpus count must be an integer", wrap_negative=True),
        "placement": enum("static", "auto"),
        "current": uint(message="current vcpus count must be an integer", wrap_negative=True),
    },
    ("vcpus", "vcpu"): {"id": uint(), "enabled": TRISTATE_BOOL, "hotpluggable": TRISTATE_BOOL, "order": uint()},
    ("domain", "cpu"): {
        "mode": legacy(("custom", "host-model", "host-passthrough", "maximum"), "Invalid mode attribute '{v}'"),
        "match": enum("exact", "minimum", "strict"),
        "check": enum("default", "none", "partial", "full"),
        "migratable": TRISTATE_SWITCH,
    },
    ("cpu", "model"): {
        "fallback": legacy(("allow", "forbid"), "Invalid fallback attribute", empty_ok=True),
    },
    ("cpu", "topology"): {
        "sockets": uint(nonzero=True),
        "dies": uint(nonzero=True),
        "cores": uint(nonzero=True),
        "threads": uint(nonzero=True),
    },
    ("cpu", "cache"): {"level": sint(nonnegative=True), "mode": enum("emulate", "passthrough", "disable")},
    ("source", "reconnect"): {"enabled": TRISTATE_BOOL, "timeout": uint()},
    ("cpu", "maxphysaddr"): {"mode": enum("emulate", "passthrough"), "bits": sint(nonnegative=True)},
    ("cpu", "feature"): {"policy": enum("force", "require", "optional", "disable", "forbid")},
    ("os", "type"): {"arch": legacy(ARCHES, "Unknown architecture {v}", empty_ok=True)},
    ("os", "boot"): {"dev": enum("fd", "cdrom", "hd", "network")},
    ("os", "loader"): {"readonly": TRISTATE_BOOL, "secure": TRISTATE_BOOL, "type": enum("rom", "pflash")},
    ("domain", "clock"): {
        "offset": legacy(
            ("utc", "localtime", "variable", "timezone", "absolute"), "unknown clock offset '{v}'", empty_ok=True
        ),
    },
    ("clock", "timer"): {
        "name": enum("platform", "pit", "rtc", "hpet", "tsc", "kvmclock", "hypervclock", "armvtimer"),
        "track": enum("boot", "guest", "wall", "realtime"),
        "tickpolicy": enum("delay", "catchup", "merge", "discard"),
        "mode": enum("auto", "native", "emulate", "paravirt", "smpsafe"),
        "present": TRISTATE_BOOL,
    },
    ("controller", "model"): {
        "name": enum(
            "pci-bridge",
            "i82801b11-bridge",
            "ioh3420",
            "x3130-upstream",
            "xio3130-downstream",
            "pxb",
            "pxb-pcie",
            "pcie-root-port",
            "spapr-pci-host-bridge",
            "pcie-pci-bridge",
        ),
    },
    ("controller", "target"): {
        "chassisNr": sint(nonnegative=True),
        "chassis": sint(nonnegative=True),
        "port": sint(0, nonnegative=True),
        "busNr": sint(nonnegative=True),
        "index": sint(nonnegative=True),
        "hotplug": TRISTATE_SWITCH,
    },
    ("controller", "master"): {"startport": uint()},
    ("disk", "target"): {
        "bus": enum("ide", "fdc", "scsi", "virtio", "xen", "usb", "uml", "sata", "sd"),
        "tray": enum("closed", "open"),
        "removable": TRISTATE_SWITCH,
        "rotation_rate": uint(),
    },
    ("disk", "driver"): {
        "cache": enum("default", "none", "writethrough", "writeback", "directsync", "unsafe"),
        "error_policy": enum("stop", "report", "ignore", "enospace"),
        "rerror_policy": enum("stop", "report", "ignore"),
        "io": enum("native", "threads", "io_uring"),
        "discard": enum("unmap", "ignore"),
        "detect_zeroes": enum("off", "on", "unmap"),
        "ioeventfd": TRISTATE_SWITCH,
        "event_idx": TRISTATE_SWITCH,
        "copy_on_read": TRISTATE_SWITCH,
        "queues": uint(),
        "queue_size": uint(),
        "type": legacy(
            (
                "raw",
                "dir",
                "bochs",
                "cloop",
                "dmg",
                "iso",
                "vpc",
                "vdi",
                "fat",
                "vhd",
                "ploop",
                "cow",
                "qcow",
                "qcow2",
                "qed",
                "vmdk",
                "none",
                "auto",
                "aio",
            ),
            "unknown driver format value '{v}'",
        ),
    },
    ("disk", "source"): {
        "protocol": enum(
            "nbd", "rbd", "sheepdog", "gluster", "iscsi", "http", "https", "ftp", "ftps", "tftp", "ssh", "vxhs", "nfs"
        ),
        "startupPolicy": enum("mandatory", "requisite", "optional"),
    },
    ("hostdev", "source"): {"guestReset": enum("off", "uninitialized", "on")},
    ("graphics", "listen"): {"type": enum("none", "address", "network", "socket")},
    ("interface", "link"): {"state": enum("up", "down")},
    ("tpm", "backend"): {"type": enum("passthrough", "emulator", "external")},
    ("memballoon", "stats"): {"period": sint()},
    ("vcpupin", "vcpupin"): {},
    ("cputune", "vcpupin"): {"vcpu": uint(), "cpuset": bitmap()},
    ("cputune", "iothreadpin"): {"iothread": uint(), "cpuset": bitmap()},
    ("hugepages", "page"): {"unit": unit_suffix(), "nodeset": bitmap()},
    # an evdev input's grab settings (virXMLPropEnum with VIR_XML_PROP_NONZERO: 'default' is refused too)
    ("input", "source"): {
        "grab": enum("all"),
        "grabToggle": enum("ctrl-ctrl", "alt-alt", "shift-shift", "meta-meta", "scrolllock", "ctrl-scrolllock"),
        "repeat": TRISTATE_SWITCH,
    },
    ("tcg", "tb-cache"): {"unit": unit_suffix()},
    ("interface", "model"): {"type": _net_model()},
    ("vlan", "tag"): {"id": uint(), "nativeMode": enum("tagged", "untagged")},
    ("bandwidth", "inbound"): {a: _bandwidth_rate() for a in ("average", "peak", "burst", "floor")},
    ("bandwidth", "outbound"): {a: _bandwidth_rate() for a in ("average", "peak", "burst", "floor")},
    ("interface", "driver"): {
        "txmode": enum("iothread", "timer"),
        "ioeventfd": TRISTATE_SWITCH,
        "event_idx": TRISTATE_SWITCH,
        "queues": uint(),
        "rx_queue_size": uint(),
        "tx_queue_size": uint(),
    },
    ("source", "host"): {"port": port()},
    ("source", "readahead"): {"size": ull("invalid readahead size or timeout")},
    ("source", "timeout"): {"seconds": ull("invalid readahead size or timeout")},
    ("serial", "target"): {
        "type": legacy(_CHR_TARGETS["serial"], "unknown target type '{v}' specified for character device"),
        "port": uint(message="Invalid port number: {v}", wrap_negative=True),
    },
    ("target", "model"): {
        "name": legacy(
            (
                "isa-serial",
                "usb-serial",
                "pci-serial",
                "spapr-vty",
                "pl011",
                "sclpconsole",
                "sclplmconsole",
                "16550a",
                "isa-debugcon",
            ),
            "unknown target model '{v}' specified for character device",
            empty_ok=True,  # libvirt 9.0 accepts name='' as no model (compared with its test driver)
        ),
    },
    ("interface", "mac"): {"address": mac_address(), "type": enum("generated", "static"), "check": TRISTATE_BOOL},
    ("memorytune", "node"): {"id": uint(), "bandwidth": uint()},
    ("domain", "defaultiothread"): {
        "thread_pool_min": sint(nonnegative=True),
        "thread_pool_max": sint(nonnegative=True),
    },
    ("cell", "cell"): {},
    ("numa", "cell"): {"memAccess": enum("shared", "private"), "discard": TRISTATE_BOOL},
    ("memoryBacking", "allocation"): {
        "mode": legacy(("immediate", "ondemand"), "unknown memoryBacking/allocation/mode '{v}'", empty_ok=True),
    },
    ("memoryBacking", "source"): {
        "type": legacy(("file", "anonymous", "memfd"), "unknown memoryBacking/source/type '{v}'", empty_ok=True),
    },
    ("memoryBacking", "access"): {
        "mode": legacy(("shared", "private"), "unknown memoryBacking/access/mode '{v}'", empty_ok=True),
    },
    ("features", "smm"): {"state": TRISTATE_SWITCH},
    ("features", "pmu"): {"state": TRISTATE_SWITCH},
    ("features", "vmport"): {"state": TRISTATE_SWITCH},
    ("features", "pvspinlock"): {"state": TRISTATE_SWITCH},
    ("features", "vmcoreinfo"): {"state": TRISTATE_SWITCH},
    ("features", "hpt"): {"resizing": enum("enabled", "disabled", "required")},
    ("features", "htm"): {"state": TRISTATE_SWITCH},
    ("features", "nested-hv"): {"state": TRISTATE_SWITCH},
    ("features", "ccf-assist"): {"state": TRISTATE_SWITCH},
    ("features", "cfpc"): {"value": enum("broken", "workaround", "fixed")},
    ("features", "sbbc"): {"value": enum("broken", "workaround", "fixed")},
    ("features", "ibs"): {"value": enum("broken", "workaround", "fixed-ibs", "fixed-ccd", "fixed-na")},
    ("features", "ioapic"): {"driver": enum("qemu", "kvm")},
    ("perf", "event"): {"enabled": TRISTATE_BOOL, "name": enum(*PERF_EVENTS)},
    ("domain", "launchSecurity"): {"type": enum("sev", "s390-pv")},
    ("numatune", "memory"): {
        "mode": legacy(
            ("strict", "preferred", "interleave", "restrictive"), "Unsupported NUMA memory tuning mode '{v}'"
        ),
        "placement": legacy(("static", "auto"), "Unsupported NUMA memory placement mode '{v}'"),
    },
    ("cputune", "vcpusched"): {"scheduler": enum("batch", "idle", "fifo", "rr"), "priority": sint()},
    ("cputune", "iothreadsched"): {"scheduler": enum("batch", "idle", "fifo", "rr"), "priority": sint()},
    ("cputune", "emulatorsched"): {"scheduler": enum("batch", "idle", "fifo", "rr"), "priority": sint()},
    ("graphics", "streaming"): {"mode": enum("filter", "all", "off")},
    ("graphics", "playback"): {"compression": TRISTATE_SWITCH},
    ("graphics", "clipboard"): {"copypaste": TRISTATE_BOOL},
    ("graphics", "filetransfer"): {"enable": TRISTATE_BOOL},
    ("graphics", "image"): {"compression": enum("auto_glz", "auto_lz", "quic", "glz", "lz", "off")},
    ("graphics", "jpeg"): {"compression": enum("auto", "never", "always")},
    ("graphics", "zlib"): {"compression": enum("auto", "never", "always")},
    ("graphics", "mouse"): {"mode": enum("server", "client")},
    ("graphics", "gl"): {"enable": TRISTATE_BOOL},
    ("source", "ssl"): {"verify": TRISTATE_BOOL},
    ("disk", "encryption"): {
        "format": legacy(("default", "qcow", "luks", "luks2", "luks-any"), "unknown volume encryption format type {v}"),
        "engine": enum("qemu", "librbd"),
    },
    ("source", "encryption"): {  # the same element, given inside <source>
        "format": legacy(("default", "qcow", "luks", "luks2", "luks-any"), "unknown volume encryption format type {v}"),
        "engine": enum("qemu", "librbd"),
    },
    ("nvram", "source"): {
        "protocol": enum(
            "nbd", "rbd", "sheepdog", "gluster", "iscsi", "http", "https", "ftp", "ftps", "tftp", "ssh", "vxhs", "nfs"
        ),
    },
    ("vsock", "cid"): {"auto": TRISTATE_BOOL, "address": uint()},
    ("filesystem", "binary"): {"xattr": TRISTATE_SWITCH},
    ("binary", "cache"): {"mode": enum("none", "always")},
    ("binary", "sandbox"): {"mode": enum("namespace", "chroot")},
    ("binary", "lock"): {"posix": TRISTATE_SWITCH, "flock": TRISTATE_SWITCH},
    ("binary", "thread_pool"): {"size": sint()},
    ("encryption", "secret"): {
        "type": legacy(("passphrase",), "unknown volume encryption secret type {v}"),
        "uuid": uuid_text("invalid secret uuid '{v}'"),
    },
    ("firmware", "feature"): {"enabled": TRISTATE_BOOL, "name": enum("enrolled-keys", "secure-boot")},
    ("iommu", "driver"): {
        "intremap": TRISTATE_SWITCH,
        "caching_mode": TRISTATE_SWITCH,
        "eim": TRISTATE_SWITCH,
        "iotlb": TRISTATE_SWITCH,
        "aw_bits": uint(),
    },
    ("sound", "codec"): {"type": enum("duplex", "micro", "output")},
    ("video", "model"): {
        "type": legacy(
            (
                "default",
                "vga",
                "cirrus",
                "vmvga",
                "xen",
                "vbox",
                "qxl",
                "parallels",
                "virtio",
                "gop",
                "none",
                "bochs",
                "ramfb",
            ),
            "unknown video model '{v}'",
            empty_ok=True,
        ),
        "vram": uint(empty_ok=True),
        "ram": uint(empty_ok=True),
        "vgamem": uint(empty_ok=True),
        "vram64": uint(empty_ok=True),
        "heads": uint(empty_ok=True),
    },
    ("domain", "iothreads"): {"": uint(message="invalid iothreads count '{v}'")},
    ("iothreadids", "iothread"): {
        "id": uint(),
        "thread_pool_min": sint(nonnegative=True),
        "thread_pool_max": sint(nonnegative=True),
    },
    ("domain", "os"): {"firmware": legacy(("bios", "efi"), "unknown firmware value {v}", ErrorCode.XML_ERROR)},
    ("rng", "backend"): {"model": legacy(("random", "egd", "builtin"), "unknown RNG backend model '{v}'")},
    ("graphics", "channel"): {
        "name": enum("main", "display", "inputs", "cursor", "playback", "record", "smartcard", "usbredir"),
        "mode": enum("any", "secure", "insecure"),
    },
    ("numatune", "memnode"): {"cellid": uint(), "mode": enum("strict", "preferred", "interleave", "restrictive")},
    ("cputune", "emulatorpin"): {"cpuset": bitmap()},
}
for _kind, _targets in _CHR_TARGETS.items():
    if _kind != "serial":
        _CHECKS[(_kind, "target")] = {}
        if _kind != "channel":
            _CHECKS[(_kind, "target")]["port"] = uint(message="Invalid port number: {v}", wrap_negative=True)
        if _targets:
            _CHECKS[(_kind, "target")]["type"] = legacy(
                _targets, "unknown target type '{v}' specified for character device"
            )
for _kind in ("serial", "parallel", "console", "channel"):
    _CHECKS[(_kind, "source")] = {"mode": enum("bind", "connect")}
# fmt: on


def _check_address(elem: etree._Element) -> None:
    kind = elem.get("type")
    parent = elem.getparent()
    if kind is None:
        # a host PCI device's source address has no type: it is a PCI address
        if parent is not None and parent.tag == "source":
            kind = "pci"
        else:
            return
    elif kind not in ADDRESS_TYPES:
        raise make_error(ErrorCode.CONFIG_UNSUPPORTED, f"unknown address type '{kind}'")
    for attr, check in _ADDRESS.get(kind, {}).items():
        value = elem.get(attr)
        if value is not None:
            err = check(value, "address", attr)
            if err is not None:
                raise err


def check_domain_values(root: etree._Element) -> None:
    """Refuse the first value in a ``<domain>`` document that libvirt's parser refuses."""
    for elem in root.iter("*"):
        tag = elem.tag
        parent = elem.getparent()
        ptag = str(parent.tag) if parent is not None else ""
        if tag == "address":
            _check_address(elem)
            continue
        check_structure(root, elem, ptag, tag)
        checks = _DEVICE_CHECKS.get(tag) if ptag == "devices" else _CHECKS.get((ptag, tag))
        if not checks:
            continue
        for attr, check in checks.items():
            value = (elem.text or "").strip() if attr == "" else elem.get(attr)
            if value is None or (attr == "" and not value):
                continue
            err = check(value, tag, attr)
            if err is not None:
                raise err
        if ptag == "devices" and tag == "controller":
            _check_controller_model(elem)


def _check_controller_model(elem: etree._Element) -> None:
    model = elem.get("model")
    if model is None:
        return
    if model not in CONTROLLER_MODELS.get(elem.get("type") or "", ()):
        raise make_error(ErrorCode.CONFIG_UNSUPPORTED, f"Unknown model type '{model}'")
