"""libvirt's ``log_level`` / ``log_filters`` / ``log_outputs``, carried out with :mod:`logging`.

libvirt's levels are 1 debug, 2 info, 3 warning, 4 error. A filter
``LEVEL:MATCH`` sets the level for every log source whose name contains
MATCH (libvirt matches source file names; pyvirt's sources are logger names
such as ``pyvirt_qemu.driver``, so ``1:qemu`` still means "the QEMU driver");
the last matching filter wins, as in libvirt. An output ``LEVEL:stderr``,
``LEVEL:file:PATH``, ``LEVEL:syslog:IDENT`` or ``LEVEL:journald`` receives
messages at or above its own level.

The environment overrides the configuration, as libvirt's ``LIBVIRT_DEBUG``,
``LIBVIRT_LOG_FILTERS`` and ``LIBVIRT_LOG_OUTPUTS`` do: ``PYVIRT_DEBUG``
(a level, 1-4 or debug/info/warning/error), ``PYVIRT_LOG_FILTERS`` and
``PYVIRT_LOG_OUTPUTS``, same syntax. Clients (the library, pyvirsh) have no
configuration file for logging: with none of these set they leave
:mod:`logging` alone, so an application's own logging setup is never replaced.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import socket

from pyvirt.errors import Error, ErrorCode, ErrorDomain

__all__ = ["configure_from_environment", "configure_logging"]

_LEVELS = {1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}
_LEVEL_NAMES = {"debug": 1, "info": 2, "warning": 3, "error": 4}
_applied_environment: list[bool] = []
_FORMAT = "%(asctime)s: %(process)d: %(levelname)s : %(name)s: %(message)s"


def _level(text: str, what: str) -> int:
    lvl = text.lstrip("+")
    if not lvl.isdigit() or int(lvl) not in _LEVELS:
        raise Error(ErrorCode.CONF_SYNTAX, f"{what}: invalid log level '{text}'", domain=ErrorDomain.CONF)
    return _LEVELS[int(lvl)]


class _SourceFilter(logging.Filter):
    """Drop records below the level the last matching ``log_filters`` entry (or ``log_level``) sets."""

    def __init__(self, filters: list[tuple[int, str]], default: int) -> None:
        super().__init__()
        self.filters = filters
        self.default = default
        self._cache: dict[str, int] = {}

    def threshold(self, name: str) -> int:
        level = self._cache.get(name)
        if level is None:
            level = self.default
            for lvl, match in self.filters:
                if match in name:
                    level = lvl
            self._cache[name] = level
        return level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.threshold(record.name)


class _JournalHandler(logging.Handler):
    """systemd-journald's native datagram protocol (no python-systemd needed for these few lines)."""

    _PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}

    def __init__(self) -> None:
        super().__init__()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    def emit(self, record: logging.LogRecord) -> None:
        msg = self.format(record).replace("\n", " ")
        prio = self._PRIORITY.get(record.levelno, 6)
        payload = f"MESSAGE={msg}\nPRIORITY={prio}\nSYSLOG_IDENTIFIER=pyvirtd\nCODE_FUNC={record.funcName}\n"
        try:
            self.sock.sendto(payload.encode("utf-8", "replace"), "/run/systemd/journal/socket")
        except OSError:
            self.handleError(record)


def _handler(spec: str) -> logging.Handler:
    lvl_text, _, rest = spec.partition(":")
    level = _level(lvl_text, f"log_outputs '{spec}'")
    kind, _, arg = rest.partition(":")
    handler: logging.Handler
    if kind == "stderr" and not arg:
        handler = logging.StreamHandler()
    elif kind == "file" and arg:
        os.makedirs(os.path.dirname(arg) or ".", exist_ok=True)
        handler = logging.FileHandler(arg, encoding="utf-8")
    elif kind == "syslog" and arg:
        handler = logging.handlers.SysLogHandler(address="/dev/log")
        handler.ident = f"{arg}: "
    elif kind == "journald" and not arg:
        handler = _JournalHandler()
    else:
        raise Error(ErrorCode.CONF_SYNTAX, f"log_outputs: cannot parse '{spec}'", domain=ErrorDomain.CONF)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(_FORMAT))
    return handler


def _environment() -> tuple[int | None, str | None, str | None]:
    """``PYVIRT_DEBUG``, ``PYVIRT_LOG_FILTERS``, ``PYVIRT_LOG_OUTPUTS`` (None where unset or empty)."""
    debug = os.environ.get("PYVIRT_DEBUG") or None
    level: int | None = None
    if debug is not None:
        key = debug.strip().lower()
        level = _LEVEL_NAMES.get(key) or (int(key) if key.isdigit() and int(key) in _LEVELS else None)
        if level is None:
            raise Error(ErrorCode.CONF_SYNTAX, f"PYVIRT_DEBUG: invalid log level '{debug}'", domain=ErrorDomain.CONF)
    return level, os.environ.get("PYVIRT_LOG_FILTERS") or None, os.environ.get("PYVIRT_LOG_OUTPUTS") or None


def configure_from_environment() -> None:
    """A client's logging from ``PYVIRT_DEBUG``/``PYVIRT_LOG_*``, once per process; nothing when none is set."""
    if _applied_environment:
        return
    _applied_environment.append(True)
    if any(v is not None for v in _environment()):
        configure_logging(3, "", "")


def configure_logging(log_level: int, log_filters: str, log_outputs: str, *, verbose: bool = False) -> None:
    """Install the handlers and the filter on the root logger (replacing earlier ones: SIGHUP reloads).

    ``PYVIRT_DEBUG``/``PYVIRT_LOG_FILTERS``/``PYVIRT_LOG_OUTPUTS`` win over
    the arguments (the daemon's configuration), as libvirt's environment does.
    """
    env_level, env_filters, env_outputs = _environment()
    log_level = env_level if env_level is not None else log_level
    log_filters = env_filters if env_filters is not None else log_filters
    log_outputs = env_outputs if env_outputs is not None else log_outputs
    default = logging.DEBUG if verbose else _LEVELS[log_level]
    filters = []
    for item in log_filters.split():
        lvl, sep, match = item.partition(":")
        if not sep or not match:
            raise Error(ErrorCode.CONF_SYNTAX, f"log_filters: cannot parse '{item}'", domain=ErrorDomain.CONF)
        filters.append((_level(lvl, f"log_filters '{item}'"), match))
    outputs = log_outputs.split() or [f"{log_level}:stderr"]
    handlers = [_handler(spec) for spec in outputs]
    source_filter = _SourceFilter(filters, default)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    for h in handlers:
        h.addFilter(source_filter)
        if verbose:
            h.setLevel(logging.DEBUG)
        root.addHandler(h)
    root.setLevel(min([default, *(lvl for lvl, _ in filters)]))
