"""libvirt's error model, with libvirt's numbers and wording.

Callers branch on ``err.code`` and ``err.domain`` exactly as they would on
``virErrorNumber`` / ``virErrorDomain``, so scripts ported from libvirt-python
keep working. The message text is built the way ``virErrorMsg`` builds it: a
per-code template, with the detail appended after a colon where libvirt does.

Exception tree::

    Error                              any pyvirt failure (carries code + domain)
    +-- InternalError                  INTERNAL_ERROR
    +-- SystemCallError                SYSTEM_ERROR (also an OSError-like errno)
    +-- InvalidArgumentError           INVALID_ARG, ARGUMENT_UNSUPPORTED, INVALID_MAC
    +-- NotSupportedError              NO_SUPPORT, OPERATION_UNSUPPORTED, CONFIG_UNSUPPORTED
    +-- OperationInvalidError          OPERATION_INVALID
    +-- OperationDeniedError           OPERATION_DENIED, ACCESS_DENIED
    +-- OperationFailedError           OPERATION_FAILED, OPERATION_TIMEOUT, OPERATION_ABORTED
    +-- NotFoundError                  NO_DOMAIN, NO_NETWORK, NO_STORAGE_POOL, ...
    +-- AlreadyExistsError             DOM_EXIST, NETWORK_EXIST, STORAGE_VOL_EXIST, ...
    +-- XMLError                       XML_ERROR, XML_DETAIL, XML_INVALID_SCHEMA
    +-- ConnectionError                NO_CONNECT, INVALID_CONN, AUTH_FAILED, RPC
"""

from __future__ import annotations

import os
import sys

from pyvirt.util.deferred import Deferred, build_on_first_use
from pyvirt.util.int_enum import int_enum, numbers

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): not importing typing here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import enum

__all__ = [
    "AlreadyExistsError",
    "ConnectionError",
    "Error",
    "ErrorCode",
    "ErrorDomain",
    "InternalError",
    "InvalidArgumentError",
    "NotFoundError",
    "NotSupportedError",
    "OperationDeniedError",
    "OperationFailedError",
    "OperationInvalidError",
    "SystemCallError",
    "XMLError",
    "make_error",
]


if TYPE_CHECKING:
    _IntEnumBody = enum.IntEnum
else:
    from pyvirt.util.int_enum import IntEnumBody as _IntEnumBody


def _int_enum(body: type) -> type[enum.IntEnum]:
    """The IntEnum of ``body``'s members, without the ``enum`` module (``pyvirt.util.int_enum`` says why).

    mypy sees the class statements as IntEnums (``_IntEnumBody``); at run time
    they are tables of numbers that every process, every ``pyvirsh`` run among
    them, loads.
    """
    return int_enum(body)


class ErrorCode(_IntEnumBody):
    """``virErrorNumber``: the numbers are libvirt's ABI and must never change."""

    OK = 0
    INTERNAL_ERROR = 1
    NO_MEMORY = 2
    NO_SUPPORT = 3
    UNKNOWN_HOST = 4
    NO_CONNECT = 5
    INVALID_CONN = 6
    INVALID_DOMAIN = 7
    INVALID_ARG = 8
    OPERATION_FAILED = 9
    GET_FAILED = 10
    POST_FAILED = 11
    HTTP_ERROR = 12
    SEXPR_SERIAL = 13
    NO_XEN = 14
    XEN_CALL = 15
    OS_TYPE = 16
    NO_KERNEL = 17
    NO_ROOT = 18
    NO_SOURCE = 19
    NO_TARGET = 20
    NO_NAME = 21
    NO_OS = 22
    NO_DEVICE = 23
    NO_XENSTORE = 24
    DRIVER_FULL = 25
    CALL_FAILED = 26
    XML_ERROR = 27
    DOM_EXIST = 28
    OPERATION_DENIED = 29
    OPEN_FAILED = 30
    READ_FAILED = 31
    PARSE_FAILED = 32
    CONF_SYNTAX = 33
    WRITE_FAILED = 34
    XML_DETAIL = 35
    INVALID_NETWORK = 36
    NETWORK_EXIST = 37
    SYSTEM_ERROR = 38
    RPC = 39
    GNUTLS_ERROR = 40
    WAR_NO_NETWORK = 41
    NO_DOMAIN = 42
    NO_NETWORK = 43
    INVALID_MAC = 44
    AUTH_FAILED = 45
    INVALID_STORAGE_POOL = 46
    INVALID_STORAGE_VOL = 47
    WAR_NO_STORAGE = 48
    NO_STORAGE_POOL = 49
    NO_STORAGE_VOL = 50
    WAR_NO_NODE = 51
    INVALID_NODE_DEVICE = 52
    NO_NODE_DEVICE = 53
    NO_SECURITY_MODEL = 54
    OPERATION_INVALID = 55
    WAR_NO_INTERFACE = 56
    NO_INTERFACE = 57
    INVALID_INTERFACE = 58
    MULTIPLE_INTERFACES = 59
    WAR_NO_NWFILTER = 60
    INVALID_NWFILTER = 61
    NO_NWFILTER = 62
    BUILD_FIREWALL = 63
    WAR_NO_SECRET = 64
    INVALID_SECRET = 65
    NO_SECRET = 66
    CONFIG_UNSUPPORTED = 67
    OPERATION_TIMEOUT = 68
    MIGRATE_PERSIST_FAILED = 69
    HOOK_SCRIPT_FAILED = 70
    INVALID_DOMAIN_SNAPSHOT = 71
    NO_DOMAIN_SNAPSHOT = 72
    INVALID_STREAM = 73
    ARGUMENT_UNSUPPORTED = 74
    STORAGE_PROBE_FAILED = 75
    STORAGE_POOL_BUILT = 76
    SNAPSHOT_REVERT_RISKY = 77
    OPERATION_ABORTED = 78
    AUTH_CANCELLED = 79
    NO_DOMAIN_METADATA = 80
    MIGRATE_UNSAFE = 81
    OVERFLOW = 82
    BLOCK_COPY_ACTIVE = 83
    OPERATION_UNSUPPORTED = 84
    SSH = 85
    AGENT_UNRESPONSIVE = 86
    RESOURCE_BUSY = 87
    ACCESS_DENIED = 88
    DBUS_SERVICE = 89
    STORAGE_VOL_EXIST = 90
    CPU_INCOMPATIBLE = 91
    XML_INVALID_SCHEMA = 92
    MIGRATE_FINISH_OK = 93
    AUTH_UNAVAILABLE = 94
    NO_SERVER = 95
    NO_CLIENT = 96
    AGENT_UNSYNCED = 97
    LIBSSH = 98
    DEVICE_MISSING = 99
    INVALID_NWFILTER_BINDING = 100
    NO_NWFILTER_BINDING = 101
    INVALID_DOMAIN_CHECKPOINT = 102
    NO_DOMAIN_CHECKPOINT = 103
    NO_DOMAIN_BACKUP = 104
    INVALID_NETWORK_PORT = 105
    NETWORK_PORT_EXIST = 106
    NO_NETWORK_PORT = 107
    NO_HOSTNAME = 108
    CHECKPOINT_INCONSISTENT = 109
    MULTIPLE_DOMAINS = 110


class ErrorDomain(_IntEnumBody):
    """``virErrorDomain``: which subsystem raised the error (libvirt's numbers)."""

    NONE = 0
    XEN = 1
    XEND = 2
    XENSTORE = 3
    SEXPR = 4
    XML = 5
    DOM = 6
    RPC = 7
    PROXY = 8
    CONF = 9
    QEMU = 10
    NET = 11
    TEST = 12
    REMOTE = 13
    OPENVZ = 14
    XENXM = 15
    STATS_LINUX = 16
    LXC = 17
    STORAGE = 18
    NETWORK = 19
    DOMAIN = 20
    UML = 21
    NODEDEV = 22
    XEN_INOTIFY = 23
    SECURITY = 24
    VBOX = 25
    INTERFACE = 26
    ONE = 27
    ESX = 28
    PHYP = 29
    SECRET = 30
    CPU = 31
    XENAPI = 32
    NWFILTER = 33
    HOOK = 34
    DOMAIN_SNAPSHOT = 35
    AUDIT = 36
    SYSINFO = 37
    STREAMS = 38
    VMWARE = 39
    EVENT = 40
    LIBXL = 41
    LOCKING = 42
    HYPERV = 43
    CAPABILITIES = 44
    URI = 45
    AUTH = 46
    DBUS = 47
    PARALLELS = 48
    DEVICE = 49
    SSH = 50
    LOCKSPACE = 51
    INITCTL = 52
    IDENTITY = 53
    CGROUP = 54
    ACCESS = 55
    SYSTEMD = 56
    BHYVE = 57
    CRYPTO = 58
    FIREWALL = 59
    POLKIT = 60
    THREAD = 61
    ADMIN = 62
    LOGGING = 63
    XENXL = 64
    PERF = 65
    LIBSSH = 66
    RESCTRL = 67
    FIREWALLD = 68
    DOMAIN_CHECKPOINT = 69
    TPM = 70
    BPF = 71
    CH = 72


if not TYPE_CHECKING:
    ErrorCode = _int_enum(ErrorCode)
    ErrorDomain = _int_enum(ErrorDomain)


def _messages() -> dict[int, tuple[str, str]]:
    """(message without detail, message with detail) as virErrorMsg words them.

    A template containing "%s" takes the detail in place; codes absent here
    fall back to "%s" / "An error occurred, but the cause is unknown". Built
    on the first error: a run that fails nowhere reads none of it, and its
    keys are ErrorCode's numbers (a member hashes and compares as its number)
    found by name, without making the members (made when first read).
    """
    number = numbers(ErrorCode)
    by_name = {
        "INTERNAL_ERROR": ("internal error", "internal error: %s"),
        "NO_MEMORY": ("out of memory", "out of memory: %s"),
        "NO_SUPPORT": (
            "this function is not supported by the connection driver",
            "this function is not supported by the connection driver: %s",
        ),
        "NO_CONNECT": ("no connection driver available", "no connection driver available for %s"),
        "INVALID_CONN": ("invalid connection pointer in", "invalid connection pointer in %s"),
        "INVALID_DOMAIN": ("invalid domain pointer in", "invalid domain pointer in %s"),
        "INVALID_ARG": ("invalid argument", "invalid argument: %s"),
        "OPERATION_FAILED": ("operation failed", "operation failed: %s"),
        "OS_TYPE": ("unknown OS type", "unknown OS type %s"),
        "NO_NAME": ("missing name information", "missing name information in %s"),
        "NO_SOURCE": ("missing source information for device", "missing source information for device %s"),
        "NO_TARGET": ("missing target information for device", "missing target information for device %s"),
        "CALL_FAILED": ("library call failed", "library call failed: %s"),
        "XML_ERROR": ("XML description is invalid or not well formed", "XML error: %s"),
        "DOM_EXIST": ("this domain exists already", "domain %s exists already"),
        "OPERATION_DENIED": ("operation forbidden for read only access", "operation forbidden: %s"),
        "OPEN_FAILED": ("failed to open configuration file", "failed to open configuration file %s"),
        "READ_FAILED": ("failed to read configuration file", "failed to read configuration file %s"),
        "PARSE_FAILED": ("failed to parse configuration file", "failed to parse configuration file %s"),
        "CONF_SYNTAX": ("configuration file syntax error", "configuration file syntax error: %s"),
        "WRITE_FAILED": ("failed to write configuration file", "failed to write configuration file: %s"),
        "XML_DETAIL": ("parser error", "%s"),
        "INVALID_NETWORK": ("invalid network pointer in", "invalid network pointer in %s"),
        "NETWORK_EXIST": ("this network exists already", "network %s exists already"),
        "SYSTEM_ERROR": ("system call error", "%s"),
        "RPC": ("RPC error", "%s"),
        "NO_DOMAIN": ("Domain not found", "Domain not found: %s"),
        "NO_NETWORK": ("Network not found", "Network not found: %s"),
        "INVALID_MAC": ("invalid MAC address", "invalid MAC address: %s"),
        "AUTH_FAILED": ("authentication failed", "authentication failed: %s"),
        "INVALID_STORAGE_POOL": ("invalid storage pool pointer in", "invalid storage pool pointer in %s"),
        "INVALID_STORAGE_VOL": ("invalid storage volume pointer in", "invalid storage volume pointer in %s"),
        "NO_STORAGE_POOL": ("Storage pool not found", "Storage pool not found: %s"),
        "NO_STORAGE_VOL": ("Storage volume not found", "Storage volume not found: %s"),
        "INVALID_NODE_DEVICE": ("invalid node device pointer", "invalid node device pointer in %s"),
        "NO_NODE_DEVICE": ("Node device not found", "Node device not found: %s"),
        "NO_SECURITY_MODEL": ("Security model not found", "Security model not found: %s"),
        "OPERATION_INVALID": ("Requested operation is not valid", "Requested operation is not valid: %s"),
        "NO_INTERFACE": ("Interface not found", "Interface not found: %s"),
        "INVALID_INTERFACE": ("invalid interface pointer in", "invalid interface pointer in %s"),
        "MULTIPLE_INTERFACES": ("multiple matching interfaces found", "multiple matching interfaces found: %s"),
        "INVALID_SECRET": ("Invalid secret", "Invalid secret: %s"),
        "NO_SECRET": ("Secret not found", "Secret not found: %s"),
        "INVALID_NWFILTER": ("Invalid network filter", "Invalid network filter: %s"),
        "NO_NWFILTER": ("Network filter not found", "Network filter not found: %s"),
        "INVALID_NWFILTER_BINDING": ("Invalid network filter binding", "Invalid network filter binding: %s"),
        "NO_NWFILTER_BINDING": ("Network filter binding not found", "Network filter binding not found: %s"),
        "NETWORK_PORT_EXIST": ("this network port exists already", "network port %s exists already"),
        "NO_NETWORK_PORT": ("network port not found", "network port not found: %s"),
        "CONFIG_UNSUPPORTED": ("unsupported configuration", "unsupported configuration: %s"),
        "OPERATION_TIMEOUT": ("Timed out during operation", "Timed out during operation: %s"),
        "HOOK_SCRIPT_FAILED": ("Hook script execution failed", "Hook script execution failed: %s"),
        "INVALID_DOMAIN_SNAPSHOT": ("Invalid domain snapshot", "Invalid domain snapshot: %s"),
        "NO_DOMAIN_SNAPSHOT": ("Domain snapshot not found", "Domain snapshot not found: %s"),
        "NO_DOMAIN_CHECKPOINT": ("Domain checkpoint not found", "Domain checkpoint not found: %s"),
        "INVALID_DOMAIN_CHECKPOINT": ("Invalid domain checkpoint", "Invalid domain checkpoint: %s"),
        "CHECKPOINT_INCONSISTENT": ("checkpoint inconsistent", "checkpoint inconsistent: %s"),
        "NO_DOMAIN_BACKUP": ("Domain backup job id not found", "Domain backup job id not found: %s"),
        "INVALID_STREAM": ("invalid stream pointer", "invalid stream pointer in %s"),
        "ARGUMENT_UNSUPPORTED": ("argument unsupported", "argument unsupported: %s"),
        "AGENT_UNRESPONSIVE": ("Guest agent is not responding", "Guest agent is not responding: %s"),
        "OPERATION_ABORTED": ("operation aborted", "operation aborted: %s"),
        "MIGRATE_UNSAFE": ("Unsafe migration", "Unsafe migration: %s"),
        "NO_DOMAIN_METADATA": ("metadata not found", "metadata not found: %s"),
        "OVERFLOW": ("numerical overflow", "numerical overflow: %s"),
        "BLOCK_COPY_ACTIVE": ("block copy still active", "block copy still active: %s"),
        "OPERATION_UNSUPPORTED": ("Operation not supported", "Operation not supported: %s"),
        "CPU_INCOMPATIBLE": ("the CPU is incompatible with host CPU", "the CPU is incompatible with host CPU: %s"),
        "RESOURCE_BUSY": ("resource busy", "resource busy: %s"),
        "ACCESS_DENIED": ("access denied", "access denied: %s"),
        "STORAGE_VOL_EXIST": ("this storage volume exists already", "storage volume %s exists already"),
        "XML_INVALID_SCHEMA": (
            "XML document failed to validate against schema",
            "XML document failed to validate against schema: %s",
        ),
        "DEVICE_MISSING": ("device not found", "device not found: %s"),
        "MULTIPLE_DOMAINS": ("multiple matching domains found", "multiple matching domains found: %s"),
    }
    return {number[name]: texts for name, texts in by_name.items()}


_MESSAGES: dict[int, tuple[str, str]] = {}  # filled by _messages() at the first error


def format_message(code: ErrorCode, detail: str | None) -> str:
    """Word a message the way ``virErrorMsg`` + ``virReportError`` do."""
    if not _MESSAGES:
        _MESSAGES.update(_messages())
    plain, with_detail = _MESSAGES.get(code, ("An error occurred, but the cause is unknown", "%s"))
    if not detail:
        return plain
    return with_detail.replace("%s", detail, 1)


class Error(Exception):
    """Any pyvirt failure; ``code``/``domain`` are libvirt's numbers.

    The code decides the class: ``Error(ErrorCode.NO_DOMAIN, ...)`` and
    ``OperationFailedError(ErrorCode.NO_DOMAIN, ...)`` are both a
    :class:`NotFoundError`, so ``except pyvirt.NotFoundError`` catches every
    "no domain" whoever raised it (libvirt's number is the contract; a class
    written at a raise site cannot contradict it). A subclass that is not one
    of the classes below (``SystemCallError``, a driver's own) keeps its
    class, and a code with no class of its own is a plain :class:`Error`.
    """

    def __new__(cls, code: ErrorCode = ErrorCode.INTERNAL_ERROR, *args: object, **kwargs: object) -> Error:
        if cls.__module__ == __name__ and cls.__name__ in _BY_CODE_FAMILY:  # not a subclass made elsewhere
            if not _CLASS_BY_CODE:
                _CLASS_BY_CODE.update(_classes_by_code())
            target = _CLASS_BY_CODE.get(code, Error)
        else:
            target = cls
        self = super().__new__(target)
        if not isinstance(self, cls):  # Python calls __init__ only on an instance of the class asked for
            self.__init__(code, *args, **kwargs)  # type: ignore[misc]
        return self

    def __init__(
        self,
        code: ErrorCode,
        detail: str | None = None,
        *,
        domain: ErrorDomain = ErrorDomain.NONE,
        verbatim: bool = False,
    ) -> None:
        self.code = code
        self.domain = domain
        self.detail = detail
        # verbatim: libvirt's virReportInvalidArg style, the detail is the whole message
        self.message = detail if verbatim and detail else format_message(code, detail)
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code.name}, domain={self.domain.name}, message={self.message!r})"


# The subclasses below are made when first named (pyvirt.util.deferred): making an exception class costs
# CPython about 110,000 instructions, every process loads this module and most raise nothing, so the ten of
# them were over a million instructions of each ``pyvirsh`` run. ``from pyvirt.errors import NotFoundError``,
# ``except pyvirt.NotFoundError`` and pickle make the class the statement describes, once. Type checkers see
# ``Error`` as their base.
if TYPE_CHECKING:
    _LazyError = Error
else:
    _LazyError = Deferred("_LazyError", (), {})


class InternalError(_LazyError):
    """A bug or an unexpected state inside pyvirt or a driver."""


class SystemCallError(_LazyError):
    """A system call failed; ``errno`` is the OS error number (libvirt's virReportSystemError)."""

    def __init__(
        self,
        errno: int,
        detail: str,
        *,
        domain: ErrorDomain = ErrorDomain.NONE,
    ) -> None:
        self.errno = errno
        super().__init__(ErrorCode.SYSTEM_ERROR, f"{detail}: {os.strerror(errno)}", domain=domain)


class InvalidArgumentError(_LazyError):
    """The caller passed a value the API cannot accept."""


class NotSupportedError(_LazyError):
    """The driver, host or configuration does not support the request."""


class OperationInvalidError(_LazyError):
    """The object is in the wrong state for the request (e.g. domain not running)."""


class OperationDeniedError(_LazyError):
    """The connection may not do this (read-only, access control)."""


class OperationFailedError(_LazyError):
    """The request was valid but could not be carried out."""


class NotFoundError(_LazyError):
    """No object matches the lookup."""


class AlreadyExistsError(_LazyError):
    """An object with that name/UUID already exists."""


class XMLError(_LazyError):
    """The XML document is malformed, invalid or unsupported."""


class ConnectionError(_LazyError):
    """No driver, a bad URI, or a broken connection."""


def _made(name: str, body: dict[str, object]) -> type:
    return type(name, (Error,), body)


if not TYPE_CHECKING:  # mypy reads the class statements; a module __getattr__ would hide misspelled names from it
    __getattr__, __dir__ = build_on_first_use(globals(), _made)


def _classes_by_code() -> dict[int, type[Error]]:
    """The class each code gives its errors (see Error.__new__); built on the first error, as _messages()."""
    number = numbers(ErrorCode)
    by_name = {  # code -> class, by name (the classes are made here)
        "INTERNAL_ERROR": "InternalError",
        "INVALID_ARG": "InvalidArgumentError",
        "ARGUMENT_UNSUPPORTED": "InvalidArgumentError",
        "INVALID_MAC": "InvalidArgumentError",
        "NO_SUPPORT": "NotSupportedError",
        "OPERATION_UNSUPPORTED": "NotSupportedError",
        "CONFIG_UNSUPPORTED": "NotSupportedError",
        "OPERATION_INVALID": "OperationInvalidError",
        "OPERATION_DENIED": "OperationDeniedError",
        "ACCESS_DENIED": "OperationDeniedError",
        "OPERATION_FAILED": "OperationFailedError",
        "OPERATION_TIMEOUT": "OperationFailedError",
        "OPERATION_ABORTED": "OperationFailedError",
        "HOOK_SCRIPT_FAILED": "OperationFailedError",
        "NO_DOMAIN": "NotFoundError",
        "NO_NETWORK": "NotFoundError",
        "NO_STORAGE_POOL": "NotFoundError",
        "NO_STORAGE_VOL": "NotFoundError",
        "NO_NODE_DEVICE": "NotFoundError",
        "NO_INTERFACE": "NotFoundError",
        "NO_SECRET": "NotFoundError",
        "NO_NETWORK_PORT": "NotFoundError",
        "NETWORK_PORT_EXIST": "AlreadyExistsError",
        "NO_DOMAIN_SNAPSHOT": "NotFoundError",
        "NO_DOMAIN_CHECKPOINT": "NotFoundError",
        "NO_DOMAIN_BACKUP": "NotFoundError",
        "NO_SECURITY_MODEL": "NotFoundError",
        "NO_DOMAIN_METADATA": "NotFoundError",
        "DEVICE_MISSING": "NotFoundError",
        "DOM_EXIST": "AlreadyExistsError",
        "NETWORK_EXIST": "AlreadyExistsError",
        "STORAGE_VOL_EXIST": "AlreadyExistsError",
        "XML_ERROR": "XMLError",
        "XML_DETAIL": "XMLError",
        "XML_INVALID_SCHEMA": "XMLError",
        "NO_CONNECT": "ConnectionError",
        "INVALID_CONN": "ConnectionError",
        "AUTH_FAILED": "ConnectionError",
        "RPC": "ConnectionError",
    }
    module = sys.modules[__name__]  # its __getattr__ makes the classes
    return {number[code]: getattr(module, cls) for code, cls in by_name.items()}


_CLASS_BY_CODE: dict[int, type[Error]] = {}  # filled at the first error


# The classes whose instances take their class from their code (see Error.__new__), by name: most of them
# are made when first read, and a set of the classes would make them all at import.
_BY_CODE_FAMILY = frozenset({"Error", "InternalError", "InvalidArgumentError", "NotSupportedError",
                             "OperationInvalidError", "OperationDeniedError", "OperationFailedError", "NotFoundError",
                             "AlreadyExistsError", "XMLError", "ConnectionError"})  # fmt: skip


def make_error(code: ErrorCode, detail: str | None = None, *, domain: ErrorDomain = ErrorDomain.NONE) -> Error:
    """Build the exception for ``code`` (its class follows from the code, as for every ``Error``)."""
    return Error(code, detail, domain=domain)
