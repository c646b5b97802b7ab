"""pyvirt-qemu beside real libvirt 9.0's QEMU driver on the same machine, same run.

Both sides run the same firmware-only KVM guest (TCG when /dev/kvm is
missing), N times each:

  1. create -> running (the API call returning with the guest running)
  2. destroy (the API call returning with QEMU gone)
  3. define -> start -> destroy -> undefine round trip
  4. first use of the emulator's capabilities with a cold cache
     (domcapabilities on a fresh daemon / a fresh embed root)

libvirt's side is a private libvirtd (bench/private_libvirtd.py) with only its
QEMU driver, guests as root without a security driver (pyvirt's side runs the
same way), a started virtlogd and an empty capabilities cache, driven by
Debian's python3-libvirt.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from private_libvirtd import LIBVIRTD, start_libvirtd, stop_libvirtd

SYSTEM_PYTHON = "/usr/bin/python3"
XML = """<domain type='{virt}'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices/></domain>"""

SIDE = r"""
import json, statistics, sys, time
uri, xml, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
if uri.startswith("qemu:///embed"):
    import pyvirt
    t = time.perf_counter(); conn = pyvirt.open(uri); conn.get_domain_capabilities(); probe = time.perf_counter() - t
    create, define = conn.create_domain, conn.define_domain
    start, destroy, undefine = (lambda d: d.create()), (lambda d: d.destroy()), (lambda d: d.undefine())
else:
    import libvirt
    t = time.perf_counter(); conn = libvirt.open(uri); conn.getDomainCapabilities(); probe = time.perf_counter() - t
    create, define = (lambda x: conn.createXML(x, 0)), conn.defineXML
    start, destroy, undefine = (lambda d: d.create()), (lambda d: d.destroy()), (lambda d: d.undefine())
cs, ds, rt = [], [], []
for _ in range(n):
    t0 = time.perf_counter(); dom = create(xml); t1 = time.perf_counter(); destroy(dom); t2 = time.perf_counter()
    cs.append(t1 - t0); ds.append(t2 - t1)
    t0 = time.perf_counter(); dom = define(xml); start(dom); destroy(dom); undefine(dom); rt.append(time.perf_counter() - t0)
print(json.dumps({"create": statistics.median(cs), "destroy": statistics.median(ds),
                  "roundtrip": statistics.median(rt), "probe": probe}))
"""


def side(python: str, uri: str, xml: str, n: int) -> dict[str, float]:
    out = subprocess.run([python, "-c", SIDE, uri, xml, str(n)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("running guests needs root")
        return 1
    if not (os.path.exists(LIBVIRTD) and os.path.exists(SYSTEM_PYTHON)):
        print("libvirtd (libvirt-daemon-driver-qemu) and python3-libvirt are needed for the comparison")
        return 1
    virt = "kvm" if os.access("/dev/kvm", os.R_OK | os.W_OK) else "qemu"
    with tempfile.TemporaryDirectory(prefix="pyvirt-bench-qemu-", dir="/var/tmp") as tmp:
        work = Path(tmp)
        daemon, uri = start_libvirtd(work, "qemu")
        try:
            lv = side(SYSTEM_PYTHON, uri, XML.format(virt=virt, name="benchlv"), args.runs)
        finally:
            stop_libvirtd(daemon)
        pv = side(sys.executable, f"qemu:///embed?root={work / 'embed'}", XML.format(virt=virt, name="benchpv"),
                  args.runs)  # fmt: skip
    rows = [
        ("create -> running (lower is better)", pv["create"], lv["create"], "<= 0.35x"),
        ("destroy (lower is better)", pv["destroy"], lv["destroy"], "<= 0.2x"),
        ("define -> start -> destroy -> undefine", pv["roundtrip"], lv["roundtrip"], "none set"),
        ("first capability probe, cold cache", pv["probe"], lv["probe"], "<= 0.25x"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'pyvirt':>10}  {'libvirt':>10}  {'ratio':>7}  target")
    for label, p, v, target in rows:
        print(f"{label:<{width}}  {p * 1e3:>7.1f} ms  {v * 1e3:>7.1f} ms  {p / v:>6.2f}x  {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
