"""Named objects on disk (storage pools, networks): definitions, which are running, autostart marks, one lock.

There is no daemon holding them in memory, so every process that opens the
driver's URI reads the same files, as libvirt's drivers do across restarts:

- ``CONFIG/NAME.xml``: the persistent definition (``pool-define``, ``net-define``);
- ``CONFIG/autostart/NAME.xml``: a symlink to it when the object autostarts;
- ``RUN/NAME.xml``: the running definition, present exactly while the object
  is active (a transient one has only this one);
- ``RUN/driver.lock``: held (``flock``) around every change, so two
  processes defining or starting objects never interleave.

Every write goes through a temporary file and a rename, so a crash leaves
the old definition or the new one. The first open after a host boot (the run
directory is gone) is when autostart objects start.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from pyvirt.errors import Error, SystemCallError
from pyvirt.local_driver.names import check_defined_name, check_storable_name, definition_files
from pyvirt.local_driver.paths import DriverPaths
from pyvirt.local_driver.status_file import atomic_write
from pyvirt.util.fileio import read_limited

__all__ = ["ObjectEntry", "ObjectStore", "driver_lock", "make_directories", "read_definition"]


class _Named(Protocol):
    name: str | None


T = TypeVar("T", bound=_Named)


def make_directories(*directories: str) -> None:
    """The driver's directories, made at open: a driver whose files cannot exist fails there, with the path."""
    for d in directories:
        try:
            os.makedirs(d, mode=0o755, exist_ok=True)
        except OSError as exc:
            raise SystemCallError(exc.errno or 0, f"Failed to create directory {d}") from exc


@contextlib.contextmanager
def driver_lock(paths: DriverPaths) -> Iterator[None]:
    """``RUN/driver.lock`` held: every process that changes the driver's files takes it, so changes never interleave.

    The lock is an ``flock`` on a file that stays, so a process that dies while holding it releases it.
    """
    fd = os.open(os.path.join(paths.run, "driver.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read_definition(path: str) -> bytes | None:
    """One stored definition's bytes, or None when no object is stored there.

    A name too long for a file name is "none stored" too: no file can have it, and a lookup answers not-found.
    """
    try:
        with open(path, "rb") as f:
            return read_limited(f, path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            return None
        raise


@dataclass
class ObjectEntry(Generic[T]):
    """One object as the files describe it now."""

    defn: T  # the running definition when active, else the persistent one
    active: bool
    persistent: bool
    autostart: bool


class ObjectStore(Generic[T]):
    """``parse``/``format`` read and write one definition; ``not_found`` is the driver's error for a name."""

    def __init__(self, paths: DriverPaths, parse: Callable[[bytes], T], format_: Callable[[T], str],
                 not_found: Callable[[str], Error]) -> None:  # fmt: skip
        self.paths = paths
        self._parse, self._format, self._not_found = parse, format_, not_found
        make_directories(paths.config, paths.run, self._autostart_dir)

    @property
    def _autostart_dir(self) -> str:
        return os.path.join(self.paths.config, "autostart")

    def locked(self) -> contextlib.AbstractContextManager[None]:
        return driver_lock(self.paths)

    @staticmethod
    def _names(directory: str) -> set[str]:
        """Every object defined in ``directory``, dotfiles included (a network may be called ``.x``)."""
        return {name for name, _path in definition_files(directory)}

    def names(self) -> list[str]:
        return sorted(self._names(self.paths.config) | self._names(self.paths.run))

    def _read(self, path: str) -> T | None:
        data = read_definition(path)
        return self._parse(data) if data is not None else None

    def find(self, name: str) -> ObjectEntry[T] | None:
        """The object called ``name``, or None.

        A name too long to be stored is refused (libvirt's "Failed to create
        file" error): drivers call ``find`` before defining or starting an
        object, so such a name never gets as far as a bridge or a directory.
        ``get``, the lookup, answers "not found" for it instead.
        """
        check_storable_name(name, self.paths.config_xml(name))
        return self._lookup(name)

    def _lookup(self, name: str) -> ObjectEntry[T] | None:
        if "/" in name or "\0" in name:
            # no stored object has such a name (define refuses it); as a path it would leave the driver's
            # directories, and a read-only client's lookup must never make the daemon read other files
            return None
        running = self._read(self.paths.status_xml(name))
        config = self._read(self.paths.config_xml(name))
        defn = running or config
        if defn is None:
            return None
        autostart = os.path.lexists(self.paths.autostart_link(name))
        return ObjectEntry(defn, running is not None, config is not None, autostart)

    def get(self, name: str) -> ObjectEntry[T]:
        entry = self._lookup(name)
        if entry is None:
            raise self._not_found(name)
        return entry

    def all(self) -> list[ObjectEntry[T]]:
        return [e for e in (self._lookup(n) for n in self.names()) if e is not None]  # on disk: names that fit

    def persistent_definition(self, name: str) -> T | None:
        return self._read(self.paths.config_xml(name))

    def save_config(self, obj: T) -> None:
        check_storable_name(obj.name or "", self.paths.config_xml(obj.name or ""))
        check_defined_name(obj.name or "")
        atomic_write(self.paths.config_xml(obj.name or ""), self._format(obj).encode(), 0o600)

    def remove_config(self, name: str) -> None:
        self.set_autostart(name, False)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.paths.config_xml(name))

    def mark_running(self, obj: T) -> None:
        check_storable_name(obj.name or "", self.paths.status_xml(obj.name or ""))
        atomic_write(self.paths.status_xml(obj.name or ""), self._format(obj).encode(), 0o600)

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
