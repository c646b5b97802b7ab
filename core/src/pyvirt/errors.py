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

from pyvirt.util.int_enum import int_enum

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
    _IntEnumBody = object


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


# (message without detail, message with detail) as virErrorMsg words them.
# A template containing "%s" takes the detail in place; codes absent here
# fall back to "%s" / "An error occurred, but the cause is unknown".
_C = ErrorCode
_MESSAGES: dict[ErrorCode, tuple[str, str]] = {
    _C.INTERNAL_ERROR: ("internal error", "internal error: %s"),
    _C.NO_MEMORY: ("out of memory", "out of memory: %s"),
    _C.NO_SUPPORT: (
        "this function is not supported by the connection driver",
        "this function is not supported by the connection driver: %s",
    ),
    _C.NO_CONNECT: ("no connection driver available", "no connection driver available for %s"),
    _C.INVALID_CONN: ("invalid connection pointer in", "invalid connection pointer in %s"),
    _C.INVALID_DOMAIN: ("invalid domain pointer in", "invalid domain pointer in %s"),
    _C.INVALID_ARG: ("invalid argument", "invalid argument: %s"),
    _C.OPERATION_FAILED: ("operation failed", "operation failed: %s"),
    _C.OS_TYPE: ("unknown OS type", "unknown OS type %s"),
    _C.NO_NAME: ("missing name information", "missing name information in %s"),
    _C.NO_SOURCE: ("missing source information for device", "missing source information for device %s"),
    _C.NO_TARGET: ("missing target information for device", "missing target information for device %s"),
    _C.CALL_FAILED: ("library call failed", "library call failed: %s"),
    _C.XML_ERROR: ("XML description is invalid or not well formed", "XML error: %s"),
    _C.DOM_EXIST: ("this domain exists already", "domain %s exists already"),
    _C.OPERATION_DENIED: ("operation forbidden for read only access", "operation forbidden: %s"),
    _C.OPEN_FAILED: ("failed to open configuration file", "failed to open configuration file %s"),
    _C.READ_FAILED: ("failed to read configuration file", "failed to read configuration file %s"),
    _C.PARSE_FAILED: ("failed to parse configuration file", "failed to parse configuration file %s"),
    _C.CONF_SYNTAX: ("configuration file syntax error", "configuration file syntax error: %s"),
    _C.WRITE_FAILED: ("failed to write configuration file", "failed to write configuration file: %s"),
    _C.XML_DETAIL: ("parser error", "%s"),
    _C.INVALID_NETWORK: ("invalid network pointer in", "invalid network pointer in %s"),
    _C.NETWORK_EXIST: ("this network exists already", "network %s exists already"),
    _C.SYSTEM_ERROR: ("system call error", "%s"),
    _C.RPC: ("RPC error", "%s"),
    _C.NO_DOMAIN: ("Domain not found", "Domain not found: %s"),
    _C.NO_NETWORK: ("Network not found", "Network not found: %s"),
    _C.INVALID_MAC: ("invalid MAC address", "invalid MAC address: %s"),
    _C.AUTH_FAILED: ("authentication failed", "authentication failed: %s"),
    _C.INVALID_STORAGE_POOL: ("invalid storage pool pointer in", "invalid storage pool pointer in %s"),
    _C.INVALID_STORAGE_VOL: ("invalid storage volume pointer in", "invalid storage volume pointer in %s"),
    _C.NO_STORAGE_POOL: ("Storage pool not found", "Storage pool not found: %s"),
    _C.NO_STORAGE_VOL: ("Storage volume not found", "Storage volume not found: %s"),
    _C.INVALID_NODE_DEVICE: ("invalid node device pointer", "invalid node device pointer in %s"),
    _C.NO_NODE_DEVICE: ("Node device not found", "Node device not found: %s"),
    _C.NO_SECURITY_MODEL: ("Security model not found", "Security model not found: %s"),
    _C.OPERATION_INVALID: ("Requested operation is not valid", "Requested operation is not valid: %s"),
    _C.NO_INTERFACE: ("Interface not found", "Interface not found: %s"),
    _C.INVALID_INTERFACE: ("invalid interface pointer in", "invalid interface pointer in %s"),
    _C.MULTIPLE_INTERFACES: ("multiple matching interfaces found", "multiple matching interfaces found: %s"),
    _C.INVALID_SECRET: ("Invalid secret", "Invalid secret: %s"),
    _C.NO_SECRET: ("Secret not found", "Secret not found: %s"),
    _C.CONFIG_UNSUPPORTED: ("unsupported configuration", "unsupported configuration: %s"),
    _C.OPERATION_TIMEOUT: ("Timed out during operation", "Timed out during operation: %s"),
    _C.HOOK_SCRIPT_FAILED: ("Hook script execution failed", "Hook script execution failed: %s"),
    _C.INVALID_DOMAIN_SNAPSHOT: ("Invalid domain snapshot", "Invalid domain snapshot: %s"),
    _C.NO_DOMAIN_SNAPSHOT: ("Domain snapshot not found", "Domain snapshot not found: %s"),
    _C.NO_DOMAIN_CHECKPOINT: ("Domain checkpoint not found", "Domain checkpoint not found: %s"),
    _C.INVALID_STREAM: ("invalid stream pointer", "invalid stream pointer in %s"),
    _C.ARGUMENT_UNSUPPORTED: ("argument unsupported", "argument unsupported: %s"),
    _C.AGENT_UNRESPONSIVE: ("Guest agent is not responding", "Guest agent is not responding: %s"),
    _C.OPERATION_ABORTED: ("operation aborted", "operation aborted: %s"),
    _C.MIGRATE_UNSAFE: ("Unsafe migration", "Unsafe migration: %s"),
    _C.NO_DOMAIN_METADATA: ("metadata not found", "metadata not found: %s"),
    _C.OVERFLOW: ("numerical overflow", "numerical overflow: %s"),
    _C.BLOCK_COPY_ACTIVE: ("block copy still active", "block copy still active: %s"),
    _C.OPERATION_UNSUPPORTED: ("Operation not supported", "Operation not supported: %s"),
    _C.RESOURCE_BUSY: ("resource busy", "resource busy: %s"),
    _C.ACCESS_DENIED: ("access denied", "access denied: %s"),
    _C.STORAGE_VOL_EXIST: ("this storage volume exists already", "storage volume %s exists already"),
    _C.XML_INVALID_SCHEMA: (
        "XML document failed to validate against schema",
        "XML document failed to validate against schema: %s",
    ),
    _C.DEVICE_MISSING: ("device not found", "device not found: %s"),
    _C.MULTIPLE_DOMAINS: ("multiple matching domains found", "multiple matching domains found: %s"),
}
del _C


def format_message(code: ErrorCode, detail: str | None) -> str:
    """Word a message the way ``virErrorMsg`` + ``virReportError`` do."""
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
        target = _CLASS_BY_CODE.get(code, Error) if cls in _BY_CODE_FAMILY else cls
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


class InternalError(Error):
    """A bug or an unexpected state inside pyvirt or a driver."""


class SystemCallError(Error):
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


class InvalidArgumentError(Error):
    """The caller passed a value the API cannot accept."""


class NotSupportedError(Error):
    """The driver, host or configuration does not support the request."""


class OperationInvalidError(Error):
    """The object is in the wrong state for the request (e.g. domain not running)."""


class OperationDeniedError(Error):
    """The connection may not do this (read-only, access control)."""


class OperationFailedError(Error):
    """The request was valid but could not be carried out."""


class NotFoundError(Error):
    """No object matches the lookup."""


class AlreadyExistsError(Error):
    """An object with that name/UUID already exists."""


class XMLError(Error):
    """The XML document is malformed, invalid or unsupported."""


class ConnectionError(Error):
    """No driver, a bad URI, or a broken connection."""


_CLASS_BY_CODE: dict[ErrorCode, type[Error]] = {
    ErrorCode.INTERNAL_ERROR: InternalError,
    ErrorCode.INVALID_ARG: InvalidArgumentError,
    ErrorCode.ARGUMENT_UNSUPPORTED: InvalidArgumentError,
    ErrorCode.INVALID_MAC: InvalidArgumentError,
    ErrorCode.NO_SUPPORT: NotSupportedError,
    ErrorCode.OPERATION_UNSUPPORTED: NotSupportedError,
    ErrorCode.CONFIG_UNSUPPORTED: NotSupportedError,
    ErrorCode.OPERATION_INVALID: OperationInvalidError,
    ErrorCode.OPERATION_DENIED: OperationDeniedError,
    ErrorCode.ACCESS_DENIED: OperationDeniedError,
    ErrorCode.OPERATION_FAILED: OperationFailedError,
    ErrorCode.OPERATION_TIMEOUT: OperationFailedError,
    ErrorCode.OPERATION_ABORTED: OperationFailedError,
    ErrorCode.HOOK_SCRIPT_FAILED: OperationFailedError,
    ErrorCode.NO_DOMAIN: NotFoundError,
    ErrorCode.NO_NETWORK: NotFoundError,
    ErrorCode.NO_STORAGE_POOL: NotFoundError,
    ErrorCode.NO_STORAGE_VOL: NotFoundError,
    ErrorCode.NO_NODE_DEVICE: NotFoundError,
    ErrorCode.NO_INTERFACE: NotFoundError,
    ErrorCode.NO_SECRET: NotFoundError,
    ErrorCode.NO_DOMAIN_SNAPSHOT: NotFoundError,
    ErrorCode.NO_DOMAIN_CHECKPOINT: NotFoundError,
    ErrorCode.NO_SECURITY_MODEL: NotFoundError,
    ErrorCode.NO_DOMAIN_METADATA: NotFoundError,
    ErrorCode.DEVICE_MISSING: NotFoundError,
    ErrorCode.DOM_EXIST: AlreadyExistsError,
    ErrorCode.NETWORK_EXIST: AlreadyExistsError,
    ErrorCode.STORAGE_VOL_EXIST: AlreadyExistsError,
    ErrorCode.XML_ERROR: XMLError,
    ErrorCode.XML_DETAIL: XMLError,
    ErrorCode.XML_INVALID_SCHEMA: XMLError,
    ErrorCode.NO_CONNECT: ConnectionError,
    ErrorCode.INVALID_CONN: ConnectionError,
    ErrorCode.AUTH_FAILED: ConnectionError,
    ErrorCode.RPC: ConnectionError,
}


# The classes whose instances take their class from their code (see Error.__new__).
_BY_CODE_FAMILY = frozenset({Error, *_CLASS_BY_CODE.values()})


def make_error(code: ErrorCode, detail: str | None = None, *, domain: ErrorDomain = ErrorDomain.NONE) -> Error:
    """Build the exception for ``code`` (its class follows from the code, as for every ``Error``)."""
    return Error(code, detail, domain=domain)
