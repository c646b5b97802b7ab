"""pyvirt: libvirt, rebuilt in Python as a plugin framework.

>>> import pyvirt
>>> with pyvirt.open("test:///default") as conn:
...     dom = conn.lookup_domain_by_name("test")
...     dom.info().state
1
"""

from pyvirt.connection import Connection, ListDomainsFlags
from pyvirt.domain import Domain, Snapshot
from pyvirt.domain_state import DomainState
from pyvirt.errors import (
    AlreadyExistsError,
    ConnectionError,
    Error,
    ErrorCode,
    ErrorDomain,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    NotSupportedError,
    OperationDeniedError,
    OperationFailedError,
    OperationInvalidError,
    SystemCallError,
    XMLError,
)
from pyvirt.events import DomainEvent, LifecycleEvent
from pyvirt.interface import Interface
from pyvirt.network import Network
from pyvirt.nodedev import NodeDevice
from pyvirt.opening import open, open_readonly  # noqa: A004 - libvirt's verb
from pyvirt.secret import Secret
from pyvirt.storage import StoragePool, StorageVolume

__all__ = [
    "AlreadyExistsError",
    "Connection",
    "ConnectionError",
    "Domain",
    "DomainEvent",
    "DomainState",
    "Error",
    "ErrorCode",
    "ErrorDomain",
    "Interface",
    "InternalError",
    "InvalidArgumentError",
    "LifecycleEvent",
    "ListDomainsFlags",
    "Network",
    "NodeDevice",
    "NotFoundError",
    "NotSupportedError",
    "OperationDeniedError",
    "OperationFailedError",
    "OperationInvalidError",
    "Secret",
    "Snapshot",
    "StoragePool",
    "StorageVolume",
    "SystemCallError",
    "XMLError",
    "__version__",
    "open",
    "open_readonly",
]

__version__ = "0.1.0"
