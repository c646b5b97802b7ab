"""pyvirt: libvirt, rebuilt in Python as a plugin framework.

>>> import pyvirt
>>> with pyvirt.open("test:///default") as conn:
...     dom = conn.lookup_domain_by_name("test")
...     dom.info().state
1

Names are imported on first use (PEP 562), so ``import pyvirt.util.command``
or ``pyvirsh host-validate`` do not load the XML and plugin machinery.
"""

from __future__ import annotations

# Not ``from typing import TYPE_CHECKING``: importing typing costs every short-lived process that
# only needs a submodule (a container controller, pyvirsh) several milliseconds; mypy treats any
# constant named TYPE_CHECKING as true.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any

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
    from pyvirt.opening import open, open_readonly
    from pyvirt.secret import Secret
    from pyvirt.storage import StoragePool, StorageVolume

__version__ = "1.16.0"  # major.minor = pyvirt.plugin.CONTRACT_VERSION (the plugin contract this core provides)

_EXPORTS = {
    "Connection": "pyvirt.connection",
    "ListDomainsFlags": "pyvirt.connection",
    "Domain": "pyvirt.domain",
    "Snapshot": "pyvirt.domain",
    "DomainState": "pyvirt.domain_state",
    "DomainEvent": "pyvirt.events",
    "LifecycleEvent": "pyvirt.events",
    "Interface": "pyvirt.interface",
    "Network": "pyvirt.network",
    "NodeDevice": "pyvirt.nodedev",
    "open": "pyvirt.opening",
    "open_readonly": "pyvirt.opening",
    "Secret": "pyvirt.secret",
    "StoragePool": "pyvirt.storage",
    "StorageVolume": "pyvirt.storage",
    **dict.fromkeys(
        ["AlreadyExistsError", "ConnectionError", "Error", "ErrorCode", "ErrorDomain", "InternalError",
         "InvalidArgumentError", "NotFoundError", "NotSupportedError", "OperationDeniedError",
         "OperationFailedError", "OperationInvalidError", "SystemCallError", "XMLError"],
        "pyvirt.errors",
    ),
}  # fmt: skip

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pyvirt' has no attribute {name!r}")
    import importlib  # here, not at the top: a program that needs only a submodule (the ssh helper) skips it

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
