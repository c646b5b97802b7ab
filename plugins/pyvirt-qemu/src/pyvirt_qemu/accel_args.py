"""The accelerator and machine-level memory options of QEMU's command line, as libvirt writes them.

``-accel``: KVM with its dirty-page ring, or TCG with its translation block cache (``<features><kvm>
<dirty-ring>`` and ``<features><tcg><tb-cache>``); and q35's SMRAM size (``<smm><tseg>``), a property of
its MCH. Each comes with libvirt's checks in libvirt's words.
"""

from __future__ import annotations

from lxml import etree

from pyvirt.conf.domain import Domain
from pyvirt.conf.units import parse_scaled
from pyvirt.errors import ErrorCode, NotSupportedError
from pyvirt_qemu.emulator_caps import EmulatorCaps

__all__ = ["accel_arg", "tseg_args"]


def _tb_cache_kib(dom: Domain) -> int | None:
    """``<features><tcg><tb-cache unit=...>``: the size of TCG's translation block cache, in KiB."""
    raw = dom.features.tcg if dom.features is not None else None
    cache = etree.fromstring(f"<tcg>{raw}</tcg>").find("tb-cache") if raw else None
    if cache is None:
        return None
    return parse_scaled(cache.text or "", cache.get("unit"), "tb-cache", default_unit="KiB") // 1024


def accel_arg(dom: Domain) -> str:
    """``-accel``: KVM with its dirty-page ring when ``<kvm><dirty-ring state='on' size=N/>`` asks for one (pages
    dirtied by the guest are then reported through a per-vCPU ring instead of a bitmap), else TCG with the
    translation block cache ``<tcg><tb-cache>`` asks for (qemuValidateDomainDefFeatures' checks)."""
    tb_cache = _tb_cache_kib(dom)
    if tb_cache is not None and dom.type != "qemu":
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                f"TCG features are incompatible with domain type '{dom.type}'")  # fmt: skip
    if dom.type != "kvm":
        if tb_cache and tb_cache & 0x3FF:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "tb-cache size must be an integer multiple of MiB")
        return f"tcg,tb-size={tb_cache >> 10}" if tb_cache else "tcg"
    kvm = dom.features.kvm if dom.features is not None else None
    if kvm is None or kvm.dirty_ring != "on":
        return "kvm"
    return f"kvm,dirty-ring-size={kvm.dirty_ring_size}" if kvm.dirty_ring_size else "kvm"


def tseg_args(dom: Domain, q35: bool, caps: EmulatorCaps | None) -> list[str]:
    """``<smm state='on'><tseg>``: the size of q35's SMRAM (TSEG) in MiB, as a property of its MCH
    (qemuDomainDefTsegPostParse's checks, qemuBuildTSEGCommandLine)."""
    f = dom.features
    if f is None or f.smm_state != "on" or f.smm_tseg is None:
        return []
    if not q35:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "SMM TSEG is only supported with q35 machine type")
    if caps is not None and not caps.probed and not caps.has_flag("mch.extended-tseg-mbytes"):
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                "Setting TSEG size is not supported with this QEMU binary")  # fmt: skip
    size = parse_scaled(str(f.smm_tseg), f.smm_tseg_unit, "tseg", default_unit="MiB")
    if size & ((1 << 20) - 1):
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "SMM TSEG size must be divisible by 1 MiB")
    return ["-global", f"mch.extended-tseg-mbytes={size >> 20}"]
