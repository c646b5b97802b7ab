"""Typed bases for every kind of driver, the hooks each kind requires, and the one check of a loaded driver.

Why this exists: the hook specs say what a hook looks like, not which hooks a
driver must have. A security driver without ``security_set_all_label`` used
to load, then fail at a guest's start with ``AttributeError``; a storage
backend without ``refresh`` failed at the first ``pool-start``. Here every
entry-point kind names its required and optional hooks and the contract
version that added each, and :func:`driver_problem` turns a driver that
lacks one into a refusal at load time naming the hook, the same way for
``pyvirsh drivers`` and for opening a connection (both call it, on the
object the entry point names, before it is instantiated).

Kinds and their contracts:

- ``hypervisor`` (and the secondary groups ``network``, ``nodedev``,
  ``secret``, ``interface``): the entry point's object must have
  ``connect_open``; the ``state_*`` hooks are optional (pyvirtd opens a
  connection instead when they are absent). The connection object
  ``connect_open`` returns may implement any hook of
  :data:`pyvirt.plugin.api.API`: a missing one answers NO_SUPPORT, as
  libvirt's drivers leave unimplemented callbacks NULL
  (:class:`HypervisorConnection` lists them). Contract: ``CONTRACT_VERSION``.
- ``security``: the label lifecycle the security stack calls; only
  ``security_get_base_label`` and ``security_process_exec_attr`` may be
  left out. Contract: ``CONTRACT_VERSION``.
- ``storage_backend``: one pool type for the storage driver; ``refresh``,
  ``volume_names`` and ``volume`` are required, ``check``, ``build``,
  ``delete`` (1.1), ``create_volume_from`` and ``wipe_volume`` (1.2),
  ``resize_volume`` (1.3), ``create_volume`` and ``delete_volume`` optional (libvirt's
  ``virStorageBackend`` leaves them NULL the same way). Contract:
  :data:`STORAGE_BACKEND_CONTRACT_VERSION`, versioned on its own because
  its methods are plain calls, not pluggy hooks.

A driver declares the version it implements as a literal
(``pyvirt_contract = "1.7"``) on the entry point's object. It is served by
a core whose contract has the same major and a minor not older; it may not
implement a hook added after the version it declares (a core of that
version would not know the hook, so the declaration would be untrue).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from pyvirt.plugin import CONTRACT_VERSION, PROJECT, parse_contract

if TYPE_CHECKING:
    from pyvirt.conf.domain import Domain
    from pyvirt.conf.storage import Pool, Volume
    from pyvirt.events import EventSink
    from pyvirt.plugin.records import SecurityLabel
    from pyvirt.uri import URI
    from pyvirt.util.command import Command

__all__ = [
    "STORAGE_BACKEND_CONTRACT_VERSION",
    "Contract",
    "Hook",
    "HypervisorConnection",
    "HypervisorDriver",
    "SecurityDriver",
    "StorageBackend",
    "connection_problem",
    "contract_for",
    "driver_problem",
]

# 1.1: the optional ``delete`` (virStoragePoolDelete); 1.2: the optional ``create_volume_from`` and ``wipe_volume``
STORAGE_BACKEND_CONTRACT_VERSION = "1.3"
"""Version of the storage-backend contract (:class:`StorageBackend`); same rules as ``CONTRACT_VERSION``."""


class Hook(NamedTuple):
    """One hook of an entry point's object: its name, the contract version that added it, required or not."""

    name: str
    since: str
    required: bool


class Contract(NamedTuple):
    """What one entry-point kind must provide."""

    title: str
    """How messages name it after "pyvirt": ``contract`` or ``storage-backend contract``."""
    version: str
    """The version this core provides."""
    hooks: tuple[Hook, ...]
    marked: bool
    """The hooks are pluggy hook implementations and must carry ``@pyvirt.plugin.hookimpl``."""

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(h.name for h in self.hooks if h.required)

    @property
    def optional(self) -> tuple[str, ...]:
        return tuple(h.name for h in self.hooks if not h.required)


_STATE_SINCE = "1.6"  # pyvirtd's state hooks arrived during contract 1.6
_DRIVER = Contract(
    "contract",
    CONTRACT_VERSION,
    (
        Hook("connect_open", "1.0", True),
        *(Hook(f"state_{h}", _STATE_SINCE, False)
          for h in ("initialize", "reload", "shutdown_prepare", "shutdown_wait", "cleanup")),
        Hook("host_validate", "1.10", False),
    ),
    marked=True,
)  # fmt: skip

_SECURITY = Contract(
    "contract",
    CONTRACT_VERSION,
    (
        *(Hook(f"security_{h}", "1.0", True) for h in (
            "probe", "get_model", "get_doi", "gen_label", "reserve_label", "release_label", "set_all_label",
            "restore_all_label", "set_process_label", "get_process_label", "set_path_label", "restore_path_label",
        )),
        Hook("security_get_base_label", "1.0", False),
        Hook("security_process_exec_attr", "1.3", False),
    ),
    marked=True,
)  # fmt: skip

_STORAGE_BACKEND = Contract(
    "storage-backend contract",
    STORAGE_BACKEND_CONTRACT_VERSION,
    (
        Hook("refresh", "1.0", True),
        Hook("volume_names", "1.0", True),
        Hook("volume", "1.0", True),
        Hook("check", "1.0", False),
        Hook("build", "1.0", False),
        Hook("create_volume", "1.0", False),
        Hook("delete_volume", "1.0", False),
        Hook("delete", "1.1", False),
        Hook("create_volume_from", "1.2", False),
        Hook("wipe_volume", "1.2", False),
        Hook("resize_volume", "1.3", False),
    ),
    marked=False,
)

_CONTRACTS = {
    "hypervisor": _DRIVER,
    "network": _DRIVER,
    "nodedev": _DRIVER,
    "secret": _DRIVER,
    "interface": _DRIVER,
    "security": _SECURITY,
    "storage_backend": _STORAGE_BACKEND,
}


def contract_for(kind: str) -> Contract:
    """The contract an entry point of ``kind`` (a key of ``pyvirt.plugin.registry.GROUPS``) implements."""
    return _CONTRACTS[kind]


def _state(obj: Any, name: str, marked: bool) -> str:
    """``ok``, ``absent``, ``abstract`` (only the base's declaration) or ``unmarked`` (pluggy would skip it)."""
    fn = getattr(obj, name, None)
    if fn is None or not callable(fn):
        return "absent"
    if getattr(fn, "__isabstractmethod__", False):
        return "abstract"
    if marked and not isinstance(getattr(fn, f"{PROJECT}_impl", None), dict):
        return "unmarked"
    return "ok"


def _plural(names: list[str], one: str, many: str) -> str:
    return f"{one} {names[0]}" if len(names) == 1 else f"{many} {', '.join(names)}"


def driver_problem(kind: str, obj: Any) -> str | None:
    """Why this core refuses the object an entry point of ``kind`` names, or None when it serves it.

    ``obj`` is what the entry point names (usually the class, not yet
    instantiated), so ``pyvirsh drivers`` and opening a connection judge the
    same thing. The reason reads after "driver 'NAME' from DIST VERSION".
    """
    contract = _CONTRACTS[kind]
    declared = getattr(obj, "pyvirt_contract", None)
    if declared is None:
        return (
            f"does not declare the pyvirt {contract.title} version it implements (pyvirt_contract); "
            f"this pyvirt provides {contract.title} {contract.version}"
        )
    version = parse_contract(declared)
    if version is None:
        return (
            f"declares pyvirt_contract = {declared!r}, which is not a 'MAJOR.MINOR' string; "
            f"this pyvirt provides {contract.title} {contract.version}"
        )
    provided = parse_contract(contract.version)
    assert provided is not None
    if version[0] != provided[0] or version[1] > provided[1]:
        return f"implements pyvirt {contract.title} {declared}, but this pyvirt provides {contract.title} {contract.version}"
    missing: list[str] = []
    unmarked: list[str] = []
    newer: list[str] = []
    for hook in contract.hooks:
        since = parse_contract(hook.since)
        assert since is not None
        state = _state(obj, hook.name, contract.marked)
        if state == "ok" and since > version:
            newer.append(f"{hook.name} (added in {hook.since})")
        elif hook.required and since <= version and state != "ok":
            (unmarked if state == "unmarked" else missing).append(hook.name)
    if missing:
        return f"lacks the {_plural(missing, 'required hook', 'required hooks')} of pyvirt {contract.title} {declared}"
    if unmarked:
        names = _plural(unmarked, "required hook", "required hooks")
        return f"defines the {names} without @pyvirt.plugin.hookimpl, so pluggy never calls it"
    if newer:
        return f"declares pyvirt {contract.title} {declared} but implements {', '.join(newer)}"
    return None


def connection_problem(conn: Any, declared: str) -> str | None:
    """Why a connection object from a driver declaring ``declared`` is refused: a hook newer than that.

    Only hooks added after ``declared`` are looked at, so a driver declaring
    this core's own version costs nothing here.
    """
    from pyvirt.plugin.api import API

    version = parse_contract(declared)
    if version is None:
        return None  # driver_problem has refused it already
    newer = []
    for row in API.values():
        since = parse_contract(row.since)
        if since is not None and since > version and _state(conn, row.hook, True) == "ok":
            newer.append(f"{row.hook} (added in {row.since})")
    if newer:
        return f"declares pyvirt contract {declared} but its connection implements {', '.join(newer)}"
    return None


# ---------------------------------------------------------------- typed bases


class HypervisorDriver(ABC):
    """Base for the object behind a ``pyvirt.hypervisor`` entry point (its name is the URI scheme).

    Required: ``connect_open`` (marked ``@hookimpl``) and the class attribute
    ``pyvirt_contract``, the contract version written as a literal. Optional:
    the ``state_*`` hooks of :mod:`pyvirt.plugin.specs.state`, for a driver
    that keeps host state in pyvirtd, and ``host_validate``
    (:mod:`pyvirt.plugin.specs.host`, contract 1.10), the driver's checks for
    ``pyvirsh host-validate``. The connection ``connect_open``
    returns implements the connection hooks (:class:`HypervisorConnection`).
    """

    REQUIRED_HOOKS: ClassVar[tuple[str, ...]] = _DRIVER.required
    OPTIONAL_HOOKS: ClassVar[tuple[str, ...]] = _DRIVER.optional
    pyvirt_contract: ClassVar[str]

    @abstractmethod
    def connect_open(self, uri: URI, read_only: bool, events: EventSink) -> Any:
        """The connection object for ``uri``, or None to decline (see ``specs.hypervisor.connect_open``)."""


class HypervisorConnection:
    """Optional base for the connection object a hypervisor driver's ``connect_open`` returns.

    Nothing is required: every hook of :data:`pyvirt.plugin.api.API` the
    connection does not implement answers libvirt's NO_SUPPORT error naming
    the API. The smallest useful sets:

    - read-only driver: ``connect_get_type``, ``domain_list_all``,
      ``domain_lookup_by_name``, ``domain_lookup_by_uuid``,
      ``domain_lookup_by_id``, ``domain_get_info``, ``domain_get_state``,
      ``domain_get_xml_desc`` (``pyvirsh list``, ``dominfo``, ``dumpxml``);
    - lifecycle driver, adding: ``domain_define_xml``, ``domain_undefine``,
      ``domain_create``, ``domain_destroy``, ``domain_shutdown``,
      ``domain_suspend``, ``domain_resume``, ``domain_get_flags`` and
      ``connect_close``.

    A hook added after the contract version the driver declares is refused
    when the connection is opened (:func:`connection_problem`).
    """

    @staticmethod
    def optional_hooks() -> tuple[str, ...]:
        """Every hook a connection may implement (the API table's rows), in the table's order."""
        from pyvirt.plugin.api import API

        return tuple(API)


class SecurityDriver(ABC):
    """Base for the object behind a ``pyvirt.security`` entry point (libvirt's security driver).

    Every abstract method here is a required hook and must be marked
    ``@hookimpl``; the stack (``pyvirt.security.stack``) calls them with
    libvirt's semantics. Optional: ``security_get_base_label(virt_type)``
    (the stack uses "" without it) and ``security_process_exec_attr(domain)``
    (added in 1.3; only MAC drivers have a label in that form).
    """

    REQUIRED_HOOKS: ClassVar[tuple[str, ...]] = _SECURITY.required
    OPTIONAL_HOOKS: ClassVar[tuple[str, ...]] = _SECURITY.optional
    pyvirt_contract: ClassVar[str]

    @abstractmethod
    def security_probe(self) -> str: ...
    @abstractmethod
    def security_get_model(self) -> str: ...
    @abstractmethod
    def security_get_doi(self) -> str: ...
    @abstractmethod
    def security_gen_label(self, domain: Domain) -> None: ...
    @abstractmethod
    def security_reserve_label(self, domain: Domain, pid: int) -> None: ...
    @abstractmethod
    def security_release_label(self, domain: Domain) -> None: ...
    @abstractmethod
    def security_set_all_label(self, domain: Domain, incoming_path: str | None) -> None: ...
    @abstractmethod
    def security_restore_all_label(self, domain: Domain, migrated: bool) -> None: ...
    @abstractmethod
    def security_set_process_label(self, domain: Domain, cmd: Command) -> None: ...
    @abstractmethod
    def security_get_process_label(self, domain: Domain, pid: int) -> SecurityLabel: ...
    @abstractmethod
    def security_set_path_label(self, domain: Domain, path: str, kind: str, remember: bool) -> None: ...
    @abstractmethod
    def security_restore_path_label(self, domain: Domain, path: str, kind: str, recall: bool) -> None: ...


class StorageBackend(ABC):
    """Base for the object behind a ``pyvirt.storage_backend`` entry point (its name is the pool type).

    Plain methods, not pluggy hooks; the storage driver calls them for pools
    of this type. Required: ``refresh``, ``volume_names``, ``volume``.
    Optional, as libvirt's ``virStorageBackend`` callbacks: ``check(pool)``
    (what starting needs; skipped without it), ``build(pool, flags)``
    (``pool-build``; skipped without it, as libvirt does; ``flags`` are
    :class:`pyvirt.flags.StoragePoolBuildFlags`, start's WITH_BUILD_* already
    turned into them), ``delete(pool, flags)`` (contract 1.1: ``pool-delete``
    removes the inactive pool's storage; without it: NO_SUPPORT, "pool does
    not support pool deletion"),
    ``create_volume(pool, vol, flags) -> Volume`` and
    ``delete_volume(pool, name)`` (without them: NO_SUPPORT, "storage pool
    does not support volume creation" / "vol deletion"); contract 1.2:
    ``create_volume_from(pool, vol, source, flags) -> Volume`` (vol-clone,
    vol-create-from: ``vol`` is the new volume with its capacity and
    allocation already settled, ``source`` the copied volume as ``volume``
    describes it, perhaps of another pool) and ``wipe_volume(pool, name,
    algorithm, flags)`` (vol-wipe; ``algorithm`` is libvirt's
    virStorageVolWipeAlgorithm, already checked to be one it defines);
    contract 1.3: ``resize_volume(pool, vol, capacity, flags)`` (vol-resize:
    ``vol`` as ``volume`` describes it, ``capacity`` the new size in bytes
    once the driver applied DELTA and checked it against the allocation and
    the pool's free space; ``flags`` ALLOCATE and SHRINK; without it:
    NO_SUPPORT, "storage pool does not support changing of volume capacity").
    Declare ``pyvirt_contract`` with the storage-backend contract version
    (:data:`STORAGE_BACKEND_CONTRACT_VERSION`).
    """

    REQUIRED_HOOKS: ClassVar[tuple[str, ...]] = _STORAGE_BACKEND.required
    OPTIONAL_HOOKS: ClassVar[tuple[str, ...]] = _STORAGE_BACKEND.optional
    pyvirt_contract: ClassVar[str]

    @abstractmethod
    def refresh(self, pool: Pool) -> None:
        """Fill in the pool's sizes (and whatever else its XML reports from the host)."""

    @abstractmethod
    def volume_names(self, pool: Pool) -> list[str]:
        """The names of the pool's volumes, sorted."""

    @abstractmethod
    def volume(self, pool: Pool, name: str) -> Volume:
        """One volume as libvirt describes it; NO_STORAGE_VOL when there is none of that name."""
