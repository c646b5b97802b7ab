"""Test data fetched from Debian at test time, never committed: libvirt 9.0.0's source tree and a tiny Linux guest.

Why in the wheel: the test suites of every distribution compare against
libvirt's own test corpora and boot a real guest, and an unpacked sdist has
no repository ``tools/`` directory to reach into. The repository's
``tools/fetch-libvirt-source`` and ``tools/fetch-guest-linux`` call this module.

Both are fetched with apt from the machine's Debian archives (the package
registry), unpacked into a cache outside any checkout, and marked complete
only once whole, so an interrupted fetch is redone, never half used:

- :func:`libvirt_source`: ``apt-get source libvirt`` after adding a
  ``deb-src`` entry derived from the machine's own apt sources;
- :func:`guest_linux`: Debian's kernel image and busybox-static
  (``apt-get download``, unpacked with ``dpkg-deb``), with the few kernel
  modules the guest tests load.

Each returns None when the fetch is impossible here (no apt, no archive), so
a test skips with that reason instead of failing: see :func:`require`.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["guest_linux", "libvirt_source", "require"]

_LIBVIRT_DIR = "libvirt-9.0.0"
_MARK = ".pyvirt-complete"
_GUEST_MODULES = (
    # the ACPI power button reaches userspace through button+evdev, the guest-agent channel through
    # virtio-serial, the balloon through virtio_balloon; Debian builds them all as modules
    "kernel/drivers/acpi/button.ko", "kernel/drivers/input/evdev.ko", "kernel/drivers/virtio/virtio.ko",
    "kernel/drivers/virtio/virtio_ring.ko", "kernel/drivers/virtio/virtio_pci_modern_dev.ko",
    "kernel/drivers/virtio/virtio_pci_legacy_dev.ko", "kernel/drivers/virtio/virtio_pci.ko",
    "kernel/drivers/char/virtio_console.ko", "kernel/drivers/virtio/virtio_balloon.ko",
)  # fmt: skip


def _apt(*args: str, cwd: str | None = None) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", *args], cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=sys.stderr, timeout=900)  # fmt: skip


def _add_deb_src() -> None:
    """A deb-src entry for the archives the machine already uses (same suites, "deb-src" for "deb")."""
    modern, legacy = "/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"
    target = "/etc/apt/sources.list.d/pyvirt-deb-src.sources"
    if os.path.exists(target) or os.path.exists("/etc/apt/sources.list.d/pyvirt-deb-src.list"):
        return
    if os.path.exists(modern):
        with open(modern, encoding="utf-8") as f:
            text = "".join("Types: deb-src\n" if line.strip() == "Types: deb" else line for line in f)
    elif os.path.exists(legacy):
        with open(legacy, encoding="utf-8") as f:
            lines = [line.replace("deb ", "deb-src ", 1) for line in f if line.startswith("deb ")]
        target, text = "/etc/apt/sources.list.d/pyvirt-deb-src.list", "".join(lines)
    else:
        raise OSError("no Debian apt sources to derive a deb-src entry from")
    with open(target, "w", encoding="utf-8") as f:
        f.write(text)
    _apt("update", "-qq")


def libvirt_source(fetch: bool = True) -> Path | None:
    """The unpacked libvirt 9.0.0 source tree (``$PYVIRT_LIBVIRT_SRC``, else the cache, else fetched)."""
    given = os.environ.get("PYVIRT_LIBVIRT_SRC")
    if given:
        return Path(given) if os.path.isdir(given) else None
    cache = Path(os.environ.get("PYVIRT_LIBVIRT_SRC_CACHE", "/var/cache/pyvirt/libvirt-src"))
    tree = cache / _LIBVIRT_DIR
    if (tree / _MARK).exists():
        return tree
    if not fetch or os.geteuid() != 0 or not shutil.which("apt-get"):
        return None
    try:
        _add_deb_src()
        if not shutil.which("dpkg-source"):
            _apt("install", "-y", "-qq", "--no-install-recommends", "dpkg-dev")
        cache.mkdir(parents=True, exist_ok=True)
        try:
            _apt("source", "-qq", "libvirt=9.0.0*", cwd=str(cache))
        except subprocess.CalledProcessError:
            _apt("source", "-qq", "libvirt", cwd=str(cache))
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"pyvirt.testing.sources: cannot fetch libvirt's source: {exc}", file=sys.stderr)
        return None
    if not tree.is_dir():
        return None
    (tree / _MARK).touch()
    return tree


def guest_linux(fetch: bool = True) -> Path | None:
    """A directory with ``vmlinuz``, ``busybox`` and the guest tests' kernel modules (cached, else fetched)."""
    cache = Path(os.environ.get("PYVIRT_GUEST_LINUX_CACHE", "/var/cache/pyvirt/guest-linux"))
    if (cache / _MARK).exists() and (cache / "virtio_balloon.ko").exists():
        return cache
    if not fetch or not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        return None
    debs, root = cache / "debs", cache / "root"
    try:
        debs.mkdir(parents=True, exist_ok=True)
        root.mkdir(parents=True, exist_ok=True)
        depends = subprocess.run(["apt-cache", "depends", "linux-image-amd64"], capture_output=True, text=True,
                                 check=True, timeout=120).stdout  # fmt: skip
        kernel = next((line.split()[1] for line in depends.splitlines() if "Depends: linux-image-" in line), None)
        if kernel is None:
            raise OSError("apt knows no linux-image-amd64 dependency")
        _apt("download", "-q", kernel, "busybox-static", cwd=str(debs))
        for deb in sorted(debs.glob("*.deb")):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True, timeout=300)
        shutil.copy(sorted(glob.glob(str(root / "boot" / "vmlinuz-*")))[0], cache / "vmlinuz")
        shutil.copy(root / "bin" / "busybox", cache / "busybox")
        for module in _GUEST_MODULES:
            shutil.copy(sorted(glob.glob(str(root / "lib" / "modules" / "*" / module)))[0], cache / Path(module).name)
    except (OSError, IndexError, subprocess.SubprocessError) as exc:
        print(f"pyvirt.testing.sources: cannot fetch the guest kernel: {exc}", file=sys.stderr)
        return None
    finally:
        shutil.rmtree(debs, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)
    (cache / _MARK).touch()
    return cache


def require(what: str) -> Path:
    """The fetched tree for a test, or the test skipped with the reason (``libvirt`` or ``guest-linux``)."""
    import pytest

    found = libvirt_source() if what == "libvirt" else guest_linux()
    if found is None:
        pytest.skip(f"{what} test data cannot be fetched here (pyvirt.testing.sources: apt and the archive needed)")
    return found


def main(argv: list[str]) -> int:
    """``python -m pyvirt.testing.sources libvirt|guest-linux``: fetch if needed and print the directory."""
    if argv not in (["libvirt"], ["guest-linux"]):
        print("usage: python -m pyvirt.testing.sources libvirt|guest-linux", file=sys.stderr)
        return 2
    found = libvirt_source() if argv[0] == "libvirt" else guest_linux()
    if found is None:
        return 1
    print(found)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
