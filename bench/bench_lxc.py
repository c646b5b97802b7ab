"""pyvirt-lxc beside real libvirt 9.0's LXC driver on the same machine, same run.

Both sides start the same busybox container (Debian's busybox-static as its
root filesystem, a shell init that waits) and destroy it again, N times:

  1. create -> running (the API call returning with the container's init running)
  2. destroy (the API call returning with the container gone)

libvirt's side: a private libvirtd started here, with only the LXC driver
loaded (``LIBVIRT_DRIVER_DIR``), its sockets in a temporary directory, and
in a private mount namespace without /sys/fs/cgroup/unified: libvirt 9.0
cannot start containers on this host's hybrid cgroup layout otherwise (it
tries to create its cgroup in the empty cgroup2 mount). It is driven from
Debian's python3-libvirt under /usr/bin/python3. pyvirt's side runs in a
fresh process of this interpreter against ``lxc:///embed``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from private_libvirtd import LIBVIRTD, start_libvirtd, stop_libvirtd

SYSTEM_PYTHON = "/usr/bin/python3"
FETCH = Path(__file__).resolve().parents[1] / "tools" / "fetch-guest-linux"

INIT = "#!/bin/sh\ntrap 'exit 0' TERM\nwhile true; do sleep 1 & wait $!; done\n"
XML = """<domain type='lxc'><name>{name}</name><memory unit='MiB'>64</memory>
<os><type>exe</type><init>/sbin/init</init></os>
<devices><filesystem type='mount'><source dir='{rootfs}'/><target dir='/'/></filesystem>
<console type='pty'/></devices></domain>"""

SIDE = r"""
import json, statistics, sys, time
uri, xml, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
if uri.startswith("lxc:///embed"):
    import pyvirt
    conn = pyvirt.open(uri)
    create, destroy = conn.create_domain, lambda d: d.destroy()
else:
    import libvirt
    conn = libvirt.open(uri)
    create, destroy = (lambda x: conn.createXML(x, 0)), (lambda d: d.destroy())
cs, ds = [], []
for _ in range(n):
    t0 = time.perf_counter(); dom = create(xml); t1 = time.perf_counter(); destroy(dom); t2 = time.perf_counter()
    cs.append(t1 - t0); ds.append(t2 - t1)
print(json.dumps({"create": statistics.median(cs), "destroy": statistics.median(ds)}))
"""


def make_rootfs(where: Path) -> Path:
    out = subprocess.run([str(FETCH)], capture_output=True, text=True, check=True, timeout=600)
    busybox = Path(out.stdout.strip().splitlines()[-1]) / "busybox"
    rootfs = where / "rootfs"
    for d in ("bin", "sbin", "proc", "sys", "dev", "etc", "tmp"):
        (rootfs / d).mkdir(parents=True, exist_ok=True)
    shutil.copy(busybox, rootfs / "bin" / "busybox")
    for applet in ("sh", "sleep"):
        (rootfs / "bin" / applet).symlink_to("busybox")
    (rootfs / "sbin" / "init").write_text(INIT)
    (rootfs / "sbin" / "init").chmod(0o755)
    return rootfs


def side(python: str, uri: str, xml: str, n: int) -> dict[str, float]:
    out = subprocess.run([python, "-c", SIDE, uri, xml, str(n)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("containers need root")
        return 1
    if not (os.path.exists(LIBVIRTD) and os.path.exists(SYSTEM_PYTHON)):
        print("libvirtd (libvirt-daemon-driver-lxc) and python3-libvirt are needed for the comparison")
        return 1
    with tempfile.TemporaryDirectory(prefix="pyvirt-bench-lxc-") as tmp:
        work = Path(tmp)
        rootfs = make_rootfs(work)
        daemon, uri = start_libvirtd(work, "lxc")
        try:
            lv = side(SYSTEM_PYTHON, uri, XML.format(name="benchlv", rootfs=rootfs), args.runs)
        finally:
            stop_libvirtd(daemon)
        pv = side(sys.executable, f"lxc:///embed?root={work / 'embed'}", XML.format(name="benchpv", rootfs=rootfs),
                  args.runs)  # fmt: skip
    rows = [
        ("create -> running (lower is better)", pv["create"], lv["create"], "<= 1.0x"),
        ("destroy (lower is better)", pv["destroy"], lv["destroy"], "<= 0.25x"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'pyvirt':>10}  {'libvirt':>10}  {'ratio':>7}  target")
    for label, p, v, target in rows:
        print(f"{label:<{width}}  {p * 1e3:>7.1f} ms  {v * 1e3:>7.1f} ms  {p / v:>6.2f}x  {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
