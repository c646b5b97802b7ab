"""Pools on disk: definitions, which pools are running, autostart marks, and one lock for changes.

There is no daemon holding pools in memory, so every process that opens
``storage:///...`` reads the same files, as libvirt's storage driver does
across restarts:

- ``CONFIG/NAME.xml``: the persistent definition (``pool-define``);
- ``CONFIG/autostart/NAME.xml``: a symlink to it when the pool autostarts;
- ``RUN/NAME.xml``: the running definition, present exactly while the pool
  is active (a transient pool has only this one);
- ``RUN/driver.lock``: held (``flock``) around every change, so two
  processes defining, starting or filling pools never interleave.

Every write goes through a temporary file and a rename, so a crash leaves
the old definition or the new one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass

from pyvirt.conf.storage import Pool, format_pool, parse_pool
from pyvirt.errors import ErrorCode, ErrorDomain, NotFoundError
from pyvirt.local_driver.paths import DriverPaths
from pyvirt.local_driver.status_file import atomic_write

__all__ = ["PoolEntry", "PoolStore"]


@dataclass
class PoolEntry:
    """One pool as the files describe it now."""

    defn: Pool  # the running definition when active, else the persistent one
    active: bool
    persistent: bool
    autostart: bool


class PoolStore:
    def __init__(self, paths: DriverPaths) -> None:
        self.paths = paths
        self.first_open = not os.path.isdir(paths.run)  # the run directory does not survive a host boot
        for d in (paths.config, paths.run, self._autostart_dir):
            os.makedirs(d, mode=0o755, exist_ok=True)

    @property
    def _autostart_dir(self) -> str:
        return os.path.join(self.paths.config, "autostart")

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        fd = os.open(os.path.join(self.paths.run, "driver.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    @staticmethod
    def _names(directory: str) -> set[str]:
        try:
            return {n[:-4] for n in os.listdir(directory) if n.endswith(".xml") and not n.startswith(".")}
        except FileNotFoundError:
            return set()

    def names(self) -> list[str]:
        return sorted(self._names(self.paths.config) | self._names(self.paths.run))

    @staticmethod
    def _read(path: str) -> Pool | None:
        try:
            with open(path, "rb") as f:
                return parse_pool(f.read())
        except FileNotFoundError:
            return None

    def find(self, name: str) -> PoolEntry | None:
        running = self._read(self.paths.status_xml(name))
        config = self._read(self.paths.config_xml(name))
        defn = running or config
        if defn is None:
            return None
        autostart = os.path.lexists(self.paths.autostart_link(name))
        return PoolEntry(defn, running is not None, config is not None, autostart)

    def get(self, name: str) -> PoolEntry:
        entry = self.find(name)
        if entry is None:
            raise NotFoundError(
                ErrorCode.NO_STORAGE_POOL, f"no storage pool with matching name '{name}'", domain=ErrorDomain.STORAGE
            )
        return entry

    def all(self) -> list[PoolEntry]:
        return [e for e in (self.find(n) for n in self.names()) if e is not None]

    def persistent_definition(self, name: str) -> Pool | None:
        return self._read(self.paths.config_xml(name))

    def save_config(self, pool: Pool) -> None:
        atomic_write(self.paths.config_xml(pool.name or ""), format_pool(pool).encode(), 0o600)

    def remove_config(self, name: str) -> None:
        self.set_autostart(name, False)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.paths.config_xml(name))

    def mark_running(self, pool: Pool) -> None:
        atomic_write(self.paths.status_xml(pool.name or ""), format_pool(pool).encode(), 0o600)

    def mark_stopped(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.paths.status_xml(name))

    def set_autostart(self, name: str, autostart: bool) -> None:
        link = self.paths.autostart_link(name)
        if autostart and not os.path.lexists(link):
            os.symlink(self.paths.config_xml(name), link)
        elif not autostart:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(link)
