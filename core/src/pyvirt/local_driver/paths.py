"""Where a local driver keeps configuration and runtime state, per connection mode (DESIGN §6).

- ``DRIVER:///system`` (root): /etc/pyvirt/DRIVER, /run/pyvirt/DRIVER, /var/lib/pyvirt/DRIVER, /var/log/pyvirt/DRIVER
- ``DRIVER:///session``: the same under $XDG_CONFIG_HOME / $XDG_RUNTIME_DIR / $XDG_DATA_HOME
- ``DRIVER:///embed?root=DIR``: libvirt's embedded layout, each driver in its own
  subdirectories (DIR/etc/DRIVER, DIR/run/DRIVER, DIR/lib/DRIVER, DIR/log/DRIVER,
  DIR/cache/DRIVER; ``DRIVER.conf`` in DIR/etc), so ``qemu:///embed`` and
  ``lxc:///embed`` on the same root never see (or clean up) each other's files
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pyvirt.errors import ErrorCode, InternalError, OperationFailedError, SystemCallError
from pyvirt.uri import URI

__all__ = ["DriverPaths", "embed_paths", "paths_for_uri", "session_paths", "system_paths"]


@dataclass(frozen=True)
class DriverPaths:
    config: str
    run: str
    lib: str
    log: str
    cache: str
    # where the driver's own settings file (qemu.conf) lives, when not in ``config`` (libvirt's configBaseDir)
    config_base: str = ""

    def ensure(self) -> None:
        """Create the driver's directories; one it cannot create is libvirt's error, naming it."""
        dirs = (("config", self.config), ("state", self.run), ("lib", self.lib),
                ("save", os.path.join(self.lib, "save")), ("log", self.log), ("cache", self.cache))  # fmt: skip
        for kind, d in dirs:
            try:
                os.makedirs(d, mode=0o755, exist_ok=True)
            except OSError as exc:
                raise SystemCallError(exc.errno or 0, f"Failed to create {kind} dir {d}") from exc

    def settings_file(self, filename: str) -> str:
        """The driver's configuration file (``qemu.conf``, ``lxc.conf``)."""
        return os.path.join(self.config_base or self.config, filename)

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


def system_paths(driver: str) -> DriverPaths:
    return DriverPaths(f"/etc/pyvirt/{driver}", f"/run/pyvirt/{driver}", f"/var/lib/pyvirt/{driver}",
                       f"/var/log/pyvirt/{driver}", f"/var/cache/pyvirt/{driver}")  # fmt: skip


def session_paths(driver: str) -> DriverPaths:
    home = os.path.expanduser("~")
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    runtime = os.environ.get("XDG_RUNTIME_DIR") or os.path.join(home, ".cache")
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share")
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(home, ".cache")
    return DriverPaths(os.path.join(config, "pyvirt", driver), os.path.join(runtime, "pyvirt", driver),
                       os.path.join(data, "pyvirt", driver), os.path.join(data, "pyvirt", driver, "log"),
                       os.path.join(cache, "pyvirt", driver))  # fmt: skip


def embed_paths(root: str, driver: str | None = None) -> DriverPaths:
    """``root``'s etc, run, lib, log and cache; with ``driver``, that driver's subdirectory of each,
    as libvirt's embedded mode lays them out (virQEMUDriverConfigNew with a root)."""
    if driver is None:
        return DriverPaths(os.path.join(root, "etc"), os.path.join(root, "run"), os.path.join(root, "lib"),
                           os.path.join(root, "log"), os.path.join(root, "cache"))  # fmt: skip
    return DriverPaths(os.path.join(root, "etc", driver), os.path.join(root, "run", driver),
                       os.path.join(root, "lib", driver), os.path.join(root, "log", driver),
                       os.path.join(root, "cache", driver), config_base=os.path.join(root, "etc"))  # fmt: skip


def paths_for_uri(uri: URI, driver: str, *, session: bool = True) -> DriverPaths:
    """The paths a ``driver:///system|session|embed`` URI names, refusing what the driver cannot serve."""
    if uri.path == "/system":
        if os.geteuid() != 0:
            hint = f"; use {driver}:///session as a normal user" if session else ""
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"{driver}:///system needs root{hint}")
        return system_paths(driver)
    if uri.path == "/session" and session:
        return session_paths(driver)
    if uri.path == "/embed":
        return embed_paths(uri.embed_root(), driver)
    raise InternalError(
        ErrorCode.INTERNAL_ERROR, f"unexpected {driver.upper()} URI path '{uri.path}', try {driver}:///system",
        verbatim=False,
    )  # fmt: skip
