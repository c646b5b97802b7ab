"""Filters and bindings on disk, shared by every process that opens the driver's paths.

As libvirt's nwfilter driver keeps them: a filter is ``CONFIG/NAME.xml``
(persistent, ``/etc/pyvirt/nwfilter``), a binding is ``RUN/bindings/PORT.xml``
(``/run/pyvirt/nwfilter``: it lives as long as the guest's port, and a host
boot forgets it with the port). Writes are atomic (temporary file, fsync,
rename) and every change holds ``RUN/driver.lock``.
"""

from __future__ import annotations

import contextlib
import errno
import os

from pyvirt.conf.nwfilter import NWFilter, format_nwfilter, parse_nwfilter
from pyvirt.conf.nwfilter_binding import Binding, format_binding, parse_binding
from pyvirt.errors import Error, SystemCallError
from pyvirt.local_driver.object_store import driver_lock, make_directories, read_definition
from pyvirt.local_driver.paths import DriverPaths
from pyvirt.local_driver.status_file import atomic_write

__all__ = ["Store"]


def _valid_file_name(name: str) -> bool:
    return bool(name) and "/" not in name and "\0" not in name and name not in (".", "..")


class Store:
    def __init__(self, paths: DriverPaths) -> None:
        self.paths = paths
        self.bindings_dir = os.path.join(paths.run, "bindings")
        make_directories(paths.config, paths.run, self.bindings_dir)

    def locked(self) -> contextlib.AbstractContextManager[None]:
        return driver_lock(self.paths)

    @staticmethod
    def _names(directory: str) -> list[str]:
        try:
            return sorted(f[:-4] for f in os.listdir(directory) if f.endswith(".xml") and not f.startswith(".new-"))
        except FileNotFoundError:
            return []

    # ---------------------------------------------------------------- filters
    def filter(self, name: str) -> NWFilter | None:
        if not _valid_file_name(name):
            return None
        data = read_definition(os.path.join(self.paths.config, f"{name}.xml"))
        if data is None:
            return None
        try:
            return parse_nwfilter(data)
        except Error:
            return None  # libvirt skips a config file it cannot parse (virNWFilterObjListLoadConfig)

    def filters(self) -> list[NWFilter]:
        return [f for f in (self.filter(n) for n in self._names(self.paths.config)) if f is not None]

    def save_filter(self, nwfilter: NWFilter) -> None:
        if not _valid_file_name(nwfilter.name):
            raise SystemCallError(errno.EINVAL, f"cannot write config file '{nwfilter.name}.xml'")
        atomic_write(os.path.join(self.paths.config, f"{nwfilter.name}.xml"), format_nwfilter(nwfilter).encode(),
                     0o600)  # fmt: skip

    def remove_filter(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.paths.config, f"{name}.xml"))

    # ---------------------------------------------------------------- bindings
    def binding(self, portdev: str) -> Binding | None:
        if not _valid_file_name(portdev):
            return None
        data = read_definition(os.path.join(self.bindings_dir, f"{portdev}.xml"))
        return parse_binding(data) if data is not None else None

    def bindings(self) -> list[Binding]:
        return [b for b in (self.binding(n) for n in self._names(self.bindings_dir)) if b is not None]

    def binding_file(self, portdev: str) -> str:
        return os.path.join(self.bindings_dir, f"{portdev}.xml")

    def save_binding(self, binding: Binding) -> None:
        if not _valid_file_name(binding.portdev):
            raise SystemCallError(errno.EINVAL, f"cannot write binding file '{binding.portdev}.xml'")
        atomic_write(os.path.join(self.bindings_dir, f"{binding.portdev}.xml"), format_binding(binding).encode(),
                     0o600)  # fmt: skip

    def remove_binding(self, portdev: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.bindings_dir, f"{portdev}.xml"))
