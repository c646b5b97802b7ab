"""Where the QEMU driver keeps configuration and runtime state, per connection mode (DESIGN §6).

- ``qemu:///system`` (root): /etc/pyvirt/qemu, /run/pyvirt/qemu, /var/lib/pyvirt/qemu, /var/log/pyvirt/qemu
- ``qemu:///session``: the same under $XDG_CONFIG_HOME / $XDG_RUNTIME_DIR / $XDG_DATA_HOME
- ``qemu:///embed?root=DIR``: the same under DIR (etc, run, lib, log)
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["DriverPaths", "embed_paths", "session_paths", "system_paths"]


@dataclass(frozen=True)
class DriverPaths:
    config: str
    run: str
    lib: str
    log: str
    cache: str

    def ensure(self) -> None:
        for d in (self.config, self.run, self.lib, os.path.join(self.lib, "save"), self.log, self.cache):
            os.makedirs(d, mode=0o755, exist_ok=True)

    def config_xml(self, name: str) -> str:
        return os.path.join(self.config, f"{name}.xml")

    def status_xml(self, name: str) -> str:
        return os.path.join(self.run, f"{name}.xml")

    def pidfile(self, name: str) -> str:
        return os.path.join(self.run, f"{name}.pid")

    def monitor(self, name: str) -> str:
        return os.path.join(self.run, f"{name}.monitor")

    def logfile(self, name: str) -> str:
        return os.path.join(self.log, f"{name}.log")

    def lockfile(self, name: str) -> str:
        return os.path.join(self.run, f"{name}.lock")

    @property
    def nvram_dir(self) -> str:
        return os.path.join(self.lib, "nvram")

    def managed_save(self, name: str) -> str:
        return os.path.join(self.lib, "save", f"{name}.save")

    def autostart_link(self, name: str) -> str:
        return os.path.join(self.config, "autostart", f"{name}.xml")


def system_paths() -> DriverPaths:
    return DriverPaths("/etc/pyvirt/qemu", "/run/pyvirt/qemu", "/var/lib/pyvirt/qemu", "/var/log/pyvirt/qemu",
                       "/var/cache/pyvirt/qemu")  # fmt: skip


def session_paths() -> DriverPaths:
    home = os.path.expanduser("~")
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    runtime = os.environ.get("XDG_RUNTIME_DIR") or os.path.join(home, ".cache")
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share")
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(home, ".cache")
    return DriverPaths(os.path.join(config, "pyvirt", "qemu"), os.path.join(runtime, "pyvirt", "qemu"),
                       os.path.join(data, "pyvirt", "qemu"), os.path.join(data, "pyvirt", "qemu", "log"),
                       os.path.join(cache, "pyvirt", "qemu"))  # fmt: skip


def embed_paths(root: str) -> DriverPaths:
    return DriverPaths(os.path.join(root, "etc"), os.path.join(root, "run"), os.path.join(root, "lib"),
                       os.path.join(root, "log"), os.path.join(root, "cache"))  # fmt: skip
