"""What one QEMU binary can do, asked through QMP and cached on disk.

Like libvirt's qemu capabilities cache: the emulator is started once with
``-machine none`` (no guest), queried for its version, machine types, CPU
models, commands and device types, and told to quit. The answer is stored as
JSON keyed by the binary's identity (device, inode, size, mtime, ctime) and
whether KVM is usable, so upgrading QEMU or gaining ``/dev/kvm`` re-probes
and nothing else does. Only emulators a caller actually asks about are
probed: opening a connection starts no QEMU.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import tempfile
import threading
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import prctl

from pyvirt.conf.domain import Domain
from pyvirt.conf.xmlparse import parse_xml
from pyvirt.errors import ErrorCode, ErrorDomain, OperationFailedError
from pyvirt.util.command import Command
from pyvirt_qemu.cpu_map import HostCpuProperty, decode_host_model, load_cpu_map
from pyvirt_qemu.host_cpu_model import HostCpuModel
from pyvirt_qemu.monitor import Monitor

__all__ = [
    "CACHE_FORMAT",
    "PROBED_FLAGS",
    "EmulatorCaps",
    "Machine",
    "emulator_caps",
    "emulator_path",
    "from_libvirt_cache",
    "host_model_from_props",
    "kvm_usable",
    "probe",
    "strip_machine_aliases",
]

CACHE_FORMAT = 5

# libvirt capability flags that are not device types, which every QEMU this driver runs has (QEMU >= 6.2,
# Debian's is 7.2): JSON -device/-object/-netdev, -smp dies, -sandbox, migratable host-passthrough CPUs
PROBED_FLAGS = frozenset({"cpu.migratable", "device.json+hotplug", "object.qapified", "netdev.json", "smp-dies",
                          "seccomp-sandbox", "disable-s3", "disable-s4", "ich9-disable-s3",
                          "ich9-disable-s4", "piix4.acpi-root-pci-hotplug",
                          "virtio-balloon.free-page-reporting", "machine-hpet", "qxl.vram64_size_mb",
                          "qxl.vgamem_mb", "VGA.vgamem_mb", "mch.extended-tseg-mbytes",
                          "cpu-cache"})  # fmt: skip


@dataclass(frozen=True)
class Machine:
    name: str
    alias: str | None
    max_cpus: int
    default: bool
    default_cpu: str | None = None  # the CPU model QEMU gives this machine without -cpu (qemu64 for pc/q35)
    default_ram_id: str | None = None  # the id of the machine's RAM backend object (pc.ram), QEMU >= 5.0
    numa_mem_supported: bool = False  # takes ``-numa node,mem=`` (machine types before QEMU 5.1)
    default_cpu_tcg: str | None = None  # the default CPU model under TCG, when it differs in libvirt's data


@dataclass
class EmulatorCaps:
    path: str
    identity: str
    version: int
    version_text: str
    kvm: bool
    arch: str
    machines: list[Machine] = field(default_factory=list)
    cpu_models: list[str] = field(default_factory=list)
    cpu_usable: list[str] = field(default_factory=list)  # runnable under the probed accelerator (KVM when present)
    cpu_deprecated: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    host_model: dict[str, Any] | None = None  # HostCpuModel.to_json(), x86 only
    # libvirt's QEMU_CAPS_* names (``qemu-xhci``, ``device.json``) when the set comes from libvirt's cache format
    flags: list[str] = field(default_factory=list)
    probed: bool = True  # asked of a binary here (False: a set from libvirt's data, its flags are the truth)
    # the GIC versions (``2``, ``3``) an ARM emulator offers in the kernel (KVM) and emulated (TCG), as libvirt's
    # query-gic-capabilities records them; empty when unknown
    gic_kvm: list[str] = field(default_factory=list)
    # libvirt's data describes the host CPU under this accelerator (its <hostCPU>): host-model is possible
    host_cpu_described: bool = False
    gic_tcg: list[str] = field(default_factory=list)
    # query-cpu-definitions in QEMU's order: each model with the features blocking it here (libvirt's names)
    cpu_blockers: dict[str, list[str]] = field(default_factory=dict)
    # QEMU's static expansion of ``host`` (KVM) / ``max`` (TCG) as libvirt keeps it (virQEMUCapsProbeQMPHostCPU):
    # [QEMU's property name, value, migratable (None when QEMU does not say)], x86 only
    host_cpu_props: list[list[Any]] | None = None

    def cpu_host_model(self, reported: bool = False) -> HostCpuModel | None:
        """What ``<cpu mode='host-model'>`` becomes under this probe's accelerator.

        ``reported``: libvirt's VIR_QEMU_CAPS_HOST_CPU_REPORTED, what domcapabilities shows and
        hypervisor-cpu-compare compares with (non-migratable features kept); otherwise the MIGRATABLE one that
        a starting guest gets.
        """
        if self.host_cpu_props is not None:
            return host_model_from_props(self.host_cpu_props, self.cpu_blockers, migratable=not reported)
        return HostCpuModel.from_json(self.host_model) if self.host_model is not None else None

    def host_cpu_features(self, migratable: bool) -> list[str] | None:
        """virQEMUCapsGetCPUFeatures: every property of the host CPU expansion (libvirt's names, whatever the
        value), less those QEMU says do not migrate when ``migratable``; None without an expansion."""
        if self.host_cpu_props is None:
            return None
        return [_FEATURES_FROM_QEMU.get(name, name) for name, _value, flag in self.host_cpu_props
                if not (migratable and flag is False)]  # fmt: skip

    def has_device(self, name: str) -> bool:
        return name in self.devices

    def has_flag(self, name: str) -> bool:
        """libvirt's virQEMUCapsGet by the flag's name, as its capabilities cache spells it. A probed binary has
        no libvirt flags: a device flag is then the device type of the same name (``piix3-usb-uhci``), and the
        few other flags this driver asks about are those of every QEMU it supports (see ``PROBED_FLAGS``)."""
        if not self.probed:
            return name in self.flags
        return name in self.devices or name in PROBED_FLAGS

    def default_machine(self) -> Machine | None:
        return next((m for m in self.machines if m.default), None)

    def to_json(self) -> str:
        return json.dumps({"format": CACHE_FORMAT, **asdict(self)}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> EmulatorCaps:
        data: dict[str, Any] = json.loads(text)
        if data.pop("format", None) != CACHE_FORMAT:
            raise ValueError("cache written by another pyvirt-qemu")
        data["machines"] = [Machine(**m) for m in data["machines"]]
        return cls(**data)


def from_libvirt_cache(text: str | bytes, kvm: bool = True, cpu_map_dir: str | None = None) -> EmulatorCaps:
    """A capability set from libvirt's own cache format (``<qemuCaps>``, as in its ``tests/qemucapabilitiesdata``).

    This lets the driver's defaults and command line run with the capabilities of any QEMU version and
    architecture libvirt's test data describes, on a host that has none of those binaries. ``kvm`` picks the
    accelerator's half of the file (libvirt's tests use the KVM half, as a KVM host would). ``cpu_map_dir``:
    libvirt's CPU map, to turn an x86 ``<hostCPU>`` into the host-model CPU as libvirt does (``cpu_map``).
    """
    root = parse_xml(text, "qemuCaps", url="qemuCaps")
    accel = "kvm" if kvm else "tcg"
    version = int(root.findtext("version") or "0")
    cpus = [c for c in root.iterfind("cpu") if c.get("type") == accel]
    typenames = {c.get("typename"): c.get("name") for c in cpus}
    tcg_names = {c.get("typename"): c.get("name") for c in root.iterfind("cpu") if c.get("type") == "tcg"}
    tcg_default = {
        m.get("name"): tcg_names.get(m.get("defaultCPU")) for m in root.iterfind("machine") if m.get("type") == "tcg"
    }
    machines = [
        Machine(
            name=m.get("name", ""),
            alias=m.get("alias"),
            max_cpus=int(m.get("maxCpus", "1")),
            default=m.get("default") == "yes",
            default_cpu=typenames.get(m.get("defaultCPU")),
            default_ram_id=m.get("defaultRAMid"),
            numa_mem_supported=m.get("numaMemSupported") == "yes",
            default_cpu_tcg=tcg_default.get(m.get("name")),
        )
        for m in root.iterfind("machine")
        if m.get("type") == accel
    ]
    return EmulatorCaps(
        path=root.findtext("emulator") or "",
        identity=f"libvirt-cache:{root.findtext('package') or version}",
        version=version,
        version_text=f"{version // 1_000_000}.{version // 1_000 % 1_000}.{version % 1_000}",
        kvm=kvm,
        arch=root.findtext("arch") or "",
        machines=machines,
        cpu_models=sorted(str(c.get("name")) for c in cpus),
        cpu_usable=sorted(str(c.get("name")) for c in cpus if c.get("usable") == "yes"),
        cpu_deprecated=sorted(str(c.get("name")) for c in cpus if c.get("deprecated") == "yes"),
        commands=[],
        devices=[],
        flags=sorted(str(f.get("name")) for f in root.iterfind("flag")),
        probed=False,
        host_cpu_described=any(h.get("type") == accel for h in root.iterfind("hostCPU")),
        host_model=_host_model_from_cache(root, accel, cpus, cpu_map_dir),
        gic_kvm=[str(g.get("version")) for g in root.iterfind("gic") if g.get("kernel") == "yes"],
        gic_tcg=[str(g.get("version")) for g in root.iterfind("gic") if g.get("emulated") == "yes"],
    )


def _host_model_from_cache(root: Any, accel: str, cpus: list[Any], cpu_map_dir: str | None) -> dict[str, Any] | None:
    """The x86 host-model CPU of a ``<hostCPU>`` (its migratable half, the one guests get), by libvirt's CPU map."""
    host = next((h for h in root.iterfind("hostCPU") if h.get("type") == accel), None)
    arch = root.findtext("arch") or ""
    if cpu_map_dir is None or host is None or arch not in ("x86_64", "i686") or host.get("migratability") != "yes":
        return None
    props = [HostCpuProperty(str(p.get("name")), str(p.get("type")), str(p.get("value")),
                             {"yes": True, "no": False}.get(p.get("migratable", ""))) for p in host.iterfind("property")]  # fmt: skip
    offered = {str(c.get("name")): [str(b.get("name")) for b in c.iterfind("blocker")] for c in cpus}
    found = decode_host_model(load_cpu_map(cpu_map_dir), props, offered)
    return found.to_json() if found is not None else None


def strip_machine_aliases(caps: EmulatorCaps) -> EmulatorCaps:
    """libvirt's virQEMUCapsStripMachineAliases: each alias becomes a machine of its own (its test suite's
    "latest" caps), so ``pc`` stays ``pc`` in the stored definition instead of the versioned type it names."""
    extra = [replace(m, name=m.alias, alias=None) for m in caps.machines if m.alias]
    plain = [replace(m, alias=None, default=m.default and not m.alias) for m in caps.machines]
    return replace(caps, machines=plain + extra)


def emulator_path(dom: Domain) -> str:
    """The binary a domain runs: its ``<emulator>``, else ``qemu-system-ARCH`` found on PATH."""
    if dom.devices is not None and dom.devices.emulator:
        return dom.devices.emulator
    arch = dom.os.type.arch if dom.os and dom.os.type and dom.os.type.arch else "x86_64"
    name = {"i686": "qemu-system-i386"}.get(arch, f"qemu-system-{arch}")
    return shutil.which(name) or f"/usr/bin/{name}"


def kvm_usable() -> bool:
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def _identity(path: str, kvm: bool) -> str:
    st = os.stat(path)
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:kvm={kvm}"


def _arch_of(path: str) -> str:
    base = os.path.basename(path)
    return base.removeprefix("qemu-system-") if base.startswith("qemu-system-") else os.uname().machine


# virQEMUCapsCPUFeaturesX86: QEMU's spelling -> libvirt's, where they differ
_FEATURES_FROM_QEMU = {
    "cmp-legacy": "cmp_legacy", "ds-cpl": "ds_cpl", "fxsr-opt": "fxsr_opt", "kvm-pv-eoi": "kvm_pv_eoi",
    "kvm-pv-unhalt": "kvm_pv_unhalt", "lahf-lm": "lahf_lm", "nodeid-msr": "nodeid_msr", "pclmulqdq": "pclmuldq",
    "perfctr-core": "perfctr_core", "perfctr-nb": "perfctr_nb", "tsc-adjust": "tsc_adjust",
}  # fmt: skip


def _probe_host_cpu_props(monitor: Monitor, base: str) -> list[list[Any]]:
    """virQEMUCapsProbeQMPHostCPU for x86: the static expansion of ``base``, then the same with
    ``migratable=false``; a feature on only in the second is kept, marked as not migratable."""

    def expand(props: dict[str, Any] | None) -> dict[str, Any]:
        model: dict[str, Any] = {"name": base, **({"props": props} if props else {})}
        reply = monitor.execute("query-cpu-model-expansion", {"type": "static", "model": model})
        found: dict[str, Any] = reply["model"].get("props", {})
        return found

    migratable, everything = expand(None), expand({"migratable": False})
    out: list[list[Any]] = []
    for name, value in migratable.items():
        flag, on = None, value
        other = everything.get(name)
        if isinstance(value, bool) and isinstance(other, bool):
            if value:
                flag = True
            elif other:
                on, flag = True, False
        out.append([name, on, flag])
    return out


def host_model_from_props(
    props: list[list[Any]], blockers: dict[str, list[str]], migratable: bool
) -> HostCpuModel | None:
    """virQEMUCapsInitCPUModelX86 by libvirt's CPU map (pyvirt.util.cpu_x86); None where libvirt finds no model
    (its virQEMUCapsInitHostCPUModel then offers no host-model)."""
    from pyvirt.errors import Error
    from pyvirt.util import cpu_x86

    features, vendor, sig = [], None, {"family": 0, "model": 0, "stepping": 0}
    for name, value, flag in props:
        if isinstance(value, bool):
            if value and not (migratable and flag is False):
                features.append(_FEATURES_FROM_QEMU.get(name, name))
        elif isinstance(value, str) and name == "vendor":
            vendor = value
        elif isinstance(value, int) and name in sig:
            sig[name] = value
    try:
        cpu = cpu_x86.decode_hypervisor_cpu(features, vendor, (sig["family"], sig["model"], sig["stepping"]), blockers)
    except Error:
        return None
    if cpu.model is None:
        return None
    return HostCpuModel(cpu.model, cpu.vendor, [(cpu_x86.POLICIES[p], n) for n, p in cpu.features])


def _cpu_model_of(typename: str | None, cpus: list[dict[str, Any]]) -> str | None:
    """A QOM CPU type (``qemu64-x86_64-cpu``) as the model name ``-cpu`` takes, by query-cpu-definitions."""
    if not typename:
        return None
    return next((c["name"] for c in cpus if c.get("typename") == typename), None)


def probe(path: str, kvm: bool | None = None) -> EmulatorCaps:
    """Start ``path`` without a guest and ask it everything; the process is gone on return.

    ``kvm``: probe under KVM (default: when ``/dev/kvm`` is usable) or TCG.
    """
    kvm = kvm_usable() if kvm is None else kvm
    with tempfile.TemporaryDirectory(prefix="pyvirt-qemu-probe-") as tmp:
        sock = os.path.join(tmp, "qmp.sock")
        cmd = Command([path, "-S", "-no-user-config", "-nodefaults", "-nographic", "-machine", "none",
                       "-accel", "kvm" if kvm else "tcg", "-qmp", f"unix:{sock},server=on,wait=off"])  # fmt: skip
        errlog = os.path.join(tmp, "stderr")
        cmd.pass_env_common().set_stderr(errlog).clear_capabilities()
        # a prober killed mid-probe must not leave a guestless QEMU behind
        cmd.add_pre_exec_hook("die with the prober", lambda: prctl.set_pdeathsig(signal.SIGKILL))
        cmd.run_async()
        monitor = Monitor(f"probe:{os.path.basename(path)}", on_event=lambda _e, _d: None, on_eof=lambda: None)
        try:
            monitor.connect(sock, timeout=30, alive=cmd.is_running)
            version = monitor.execute("query-version")
            machines = monitor.execute("query-machines")
            cpus = monitor.execute("query-cpu-definitions")
            commands = monitor.execute("query-commands")
            devices = monitor.execute("qom-list-types", {"implements": "device", "abstract": False})
            host_props = None
            if any(c["name"] == "query-cpu-model-expansion" for c in commands) and _arch_of(path) in ("x86_64", "i386"):
                host_props = _probe_host_cpu_props(monitor, "host" if kvm else "max")
            with contextlib.suppress(Exception):
                monitor.execute("quit", timeout=5)
        except Exception as exc:
            with contextlib.suppress(OSError), open(errlog, encoding="utf-8", errors="replace") as f:
                exc = OSError(f.read().strip() or str(exc))
            raise OperationFailedError(
                ErrorCode.OPERATION_FAILED, f"cannot probe capabilities of QEMU binary {path}: {exc}",
                domain=ErrorDomain.QEMU,
            ) from exc  # fmt: skip
        finally:
            monitor.close()
            if cmd.wait(timeout=5) is None:
                cmd.abort()
    q = version["qemu"]
    return EmulatorCaps(
        path=path,
        identity=_identity(path, kvm),
        version=q["major"] * 1_000_000 + q["minor"] * 1_000 + q["micro"],
        version_text=f"{q['major']}.{q['minor']}.{q['micro']}"
        + (f" ({version['package'].strip()})" if version.get("package") else ""),
        kvm=kvm,
        arch=_arch_of(path),
        machines=sorted(
            (
                Machine(
                    m["name"],
                    m.get("alias"),
                    int(m.get("cpu-max", 1)),
                    bool(m.get("is-default")),
                    _cpu_model_of(m.get("default-cpu-type"), cpus),
                    m.get("default-ram-id"),
                    bool(m.get("numa-mem-supported")),
                )
                for m in machines
                if m["name"] != "none"
            ),
            key=lambda m: m.name,
        ),
        cpu_models=sorted(c["name"] for c in cpus),
        cpu_usable=sorted(c["name"] for c in cpus if c.get("unavailable-features") == []),
        cpu_deprecated=sorted(c["name"] for c in cpus if c.get("deprecated")),
        commands=sorted(c["name"] for c in commands),
        devices=sorted(d["name"] for d in devices),
        cpu_blockers={
            c["name"]: [_FEATURES_FROM_QEMU.get(b, b) for b in c.get("unavailable-features", [])] for c in cpus
        },
        host_cpu_props=host_props,
    )


def emulator_caps(path: str, cache_dir: str, tcg: bool = False) -> EmulatorCaps:
    """The cached answer for ``path`` when its identity still matches, else a fresh probe (then cached).

    ``tcg``: the answer under TCG even where KVM is usable (what a
    ``type='qemu'`` guest gets, e.g. its host-model CPU); probed on first need.
    """
    path = os.path.realpath(path)
    kvm = kvm_usable() and not tcg
    try:
        identity = _identity(path, kvm)
    except OSError as exc:
        raise OperationFailedError(
            ErrorCode.OPERATION_FAILED, f"cannot find QEMU binary {path}: {exc.strerror}", domain=ErrorDomain.QEMU
        ) from exc
    name = hashlib.sha256(path.encode()).hexdigest()[:16] + ("" if kvm or not kvm_usable() else "-tcg") + ".json"
    cache = os.path.join(cache_dir, "capabilities", name)
    caps = _cached(cache, identity, path)
    if caps is not None:
        return caps
    # One probe per binary (and accelerator) at a time: pyvirtd's workers asking on a cold cache would each
    # start a QEMU for the same answer; the others wait for the first one's and read it from the cache.
    with _probe_lock(cache):
        caps = _cached(cache, identity, path)
        if caps is not None:
            return caps
        caps = probe(path, kvm)
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(cache), prefix=".caps-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(caps.to_json())
        os.replace(tmp, cache)
    return caps


_probe_locks: dict[str, threading.Lock] = {}
_probe_locks_guard = threading.Lock()


def _probe_lock(cache: str) -> threading.Lock:
    """The lock of one cache file, i.e. of one binary probed under one accelerator."""
    with _probe_locks_guard:
        return _probe_locks.setdefault(cache, threading.Lock())


def _cached(cache: str, identity: str, path: str) -> EmulatorCaps | None:
    """The cached answer when the file still describes this very binary, else None."""
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        with open(cache, encoding="utf-8") as f:
            caps = EmulatorCaps.from_json(f.read())
        if caps.identity == identity and caps.path == path:
            return caps
    return None
