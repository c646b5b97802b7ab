"""Finding drivers (stevedore entry points) and binding one to a connection (pluggy).

Discovery is lazy: ``load_driver("hypervisor", "test")`` imports only the
module the ``test`` entry point names, found through a small on-disk index
(:mod:`pyvirt.plugin.entry_point_index`) so a short ``pyvirsh`` run never
pays for ``importlib.metadata``. ``list_drivers`` loads every entry point for
``pyvirsh drivers`` and reports, rather than raises, the ones that fail, so
one broken plugin never hides the others.

Both paths judge a driver the same way, with
:func:`pyvirt.plugin.bases.driver_problem` on the object the entry point
names (before instantiating it): the contract version it declares, the
required hooks of its kind, no hook newer than its declaration. A refused
driver is listed with the reason, and opening it fails with the same words.
"""

from __future__ import annotations

import importlib
import inspect
from types import FunctionType, ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

import pluggy

from pyvirt.errors import ConnectionError, Error, ErrorCode, ErrorDomain, InternalError
from pyvirt.plugin import CONTRACT_VERSION, PROJECT
from pyvirt.plugin.bases import connection_problem, contract_for, driver_problem
from pyvirt.plugin.entry_point_index import entry_point_value
from pyvirt.plugin.specs import host, hypervisor, secondary, state

if TYPE_CHECKING:
    import importlib.metadata

__all__ = [
    "GROUPS",
    "DriverEntry",
    "bind_connection",
    "bind_state_driver",
    "check_contract",
    "list_drivers",
    "load_driver",
    "open_with_driver",
    "open_with_manager",
]

GROUPS = {
    "hypervisor": "pyvirt.hypervisor",
    "security": "pyvirt.security",
    "storage_backend": "pyvirt.storage_backend",
    "network": "pyvirt.network",
    "nodedev": "pyvirt.nodedev",
    "secret": "pyvirt.secret",
    "interface": "pyvirt.interface",
}

# Which distribution to suggest when a scheme has no driver.
_SUGGEST = {"test": "pyvirt", "qemu": "pyvirt-qemu", "kvm": "pyvirt-qemu", "lxc": "pyvirt-lxc",
            "xen": "pyvirt-xen", "esx": "pyvirt-esx", "vpx": "pyvirt-esx", "gsx": "pyvirt-esx",
            "storage": "pyvirt-storage", "network": "pyvirt-network", "nwfilter": "pyvirt-nwfilter"}  # fmt: skip


OWN_HYPERVISOR_DRIVERS = frozenset(_SUGGEST)
"""The hypervisor entry points pyvirt's own distributions provide; any other is a third party's."""


def install_hint(name: str) -> str:
    """`` (install pyvirt-qemu)`` for a driver one of pyvirt's own distributions provides, else nothing.

    Never a guessed name such as ``pyvirt-bhyve``: suggesting a distribution
    that does not exist invites someone to publish one under that name.
    """
    dist = _SUGGEST.get(name)
    return f" (install {dist})" if dist else ""


class DriverEntry(NamedTuple):
    """One installed driver, as ``pyvirsh drivers`` shows it (a NamedTuple: cheaper to define than a dataclass).

    ``error``: why it cannot be loaded (import failure), empty when it can;
    ``refused``: why this core will not use it (contract, missing hook), in
    the words opening it would fail with.
    """

    kind: str
    name: str
    distribution: str
    version: str
    contract: str
    error: str = ""
    refused: str = ""

    @property
    def status(self) -> str:
        """``ok``, ``failed: <why it did not load>`` or ``refused: <why this core does not serve it>``."""
        if self.error:
            return f"failed: {self.error}"
        if self.refused:
            return f"refused: {self.refused}"
        return "ok"


def _distribution_of(group: str, name: str) -> tuple[str, str]:
    """(distribution, version) that declares this entry point; only for messages and listings."""
    import importlib.metadata

    for ep in importlib.metadata.entry_points(group=group, name=name):
        if ep.dist is not None:
            return (ep.dist.metadata["Name"] or "?", ep.dist.version or "?")
    return ("?", "?")


def check_contract(kind: str, obj: Any, name: str) -> None:
    """Refuse, with the reason ``pyvirsh drivers`` shows, a driver this core cannot serve.

    ``obj`` is what the entry point names; the distribution is looked up
    only to word a refusal, so a driver that passes costs a few attribute reads.
    """
    problem = driver_problem(kind, obj)
    if problem is not None:
        dist, version = _distribution_of(GROUPS[kind], name)
        raise ConnectionError(ErrorCode.NO_CONNECT, f"driver '{name}' from {dist} {version} {problem}")


def _import_object(value: str) -> Any:
    """Load ``module:attr.sub`` as ``EntryPoint.load`` does."""
    module, _, attrs = value.partition(":")
    obj: Any = importlib.import_module(module.strip())
    for attr in filter(None, attrs.strip().split(".")):
        obj = getattr(obj, attr)
    return obj


def _load_failure(group: str, name: str, exc: Exception) -> ConnectionError:
    dist, version = _distribution_of(group, name)
    return ConnectionError(
        ErrorCode.NO_CONNECT, f"driver '{name}' from {dist} {version} failed to load: {type(exc).__name__}: {exc}"
    )


def load_driver(kind: str, name: str) -> Any:
    """Import, check and return the named driver of a kind; only that entry point is loaded."""
    group = GROUPS[kind]
    value = entry_point_value(group, name)
    if value is None:
        what = f"scheme '{name}'" if kind == "hypervisor" else f"{kind} driver '{name}'"
        raise ConnectionError(ErrorCode.NO_CONNECT, what + install_hint(name))
    try:
        obj = _import_object(value)
    except Exception as exc:
        raise _load_failure(group, name, exc) from exc
    check_contract(kind, obj, name)
    if not inspect.isclass(obj):
        return obj
    try:
        return obj()
    except Error:
        raise
    except Exception as exc:
        raise _load_failure(group, name, exc) from exc


def list_drivers() -> list[DriverEntry]:
    """Every installed driver of every kind, each judged as ``load_driver`` judges it (stevedore)."""
    import stevedore

    out: list[DriverEntry] = []
    for kind, group in GROUPS.items():
        failures: list[DriverEntry] = []

        def on_failure(_mgr: Any, ep: importlib.metadata.EntryPoint, exc: BaseException) -> None:
            dist, version = _distribution_of(group, ep.name)  # noqa: B023
            failures.append(DriverEntry(kind, ep.name, dist, version, "?", f"{type(exc).__name__}: {exc}"))  # noqa: B023

        mgr = stevedore.ExtensionManager(namespace=group, on_load_failure_callback=on_failure)
        for ext in mgr.extensions:
            dist, version = _distribution_of(group, ext.name)
            declared = getattr(ext.plugin, "pyvirt_contract", None)
            shown = "?" if declared is None else declared if isinstance(declared, str) else repr(declared)
            out.append(
                DriverEntry(kind, ext.name, dist, version, shown, refused=driver_problem(kind, ext.plugin) or "")
            )
        out.extend(failures)
    out.sort(key=lambda d: (list(GROUPS).index(d.kind), d.name))
    return out


class _DriverManager(pluggy.PluginManager):
    """pluggy's manager, with a faster look at each name ``register`` asks about.

    ``register`` asks ``parse_hookimpl_opts`` about every name ``dir()`` shows,
    and pluggy answers with ``inspect.getattr_static``, which is slow; a
    connection object has a hundred hooks and twice as many other names, and
    every ``pyvirsh`` run binds one. Two shortcuts, each falling back to
    pluggy's own answer whenever it does not apply:

    - a name starting with ``_`` is no hook (every spec name is public);
    - a plain function found in the class's ``__mro__`` dictionaries (and not
      shadowed on the instance) carries its marker itself.

    Everything else (modules, static/class methods, descriptors, misspelled
    hooks) goes through pluggy, which also still validates every hook found.
    """

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
        if name.startswith("_"):
            return None
        if not isinstance(plugin, type) and name not in getattr(plugin, "__dict__", {}):
            for klass in type(plugin).__mro__:
                if name in klass.__dict__:
                    value = klass.__dict__[name]
                    if isinstance(value, FunctionType):
                        opts = getattr(value, f"{PROJECT}_impl", None)
                        return opts if isinstance(opts, dict) else None
                    break  # a descriptor or other object: pluggy decides
        return super().parse_hookimpl_opts(plugin, name)

    def parse_hookspec_opts(self, module_or_class: Any, name: str) -> Any:
        """The same shortcut for the spec modules: a plain function in the module carries its marker."""
        if isinstance(module_or_class, ModuleType):
            if name.startswith("_") or name not in module_or_class.__dict__:
                return None
            value = module_or_class.__dict__[name]
            if isinstance(value, FunctionType):
                opts = getattr(value, f"{PROJECT}_spec", None)
                return opts if isinstance(opts, dict) else None
        return super().parse_hookspec_opts(module_or_class, name)


def _plugin_manager() -> pluggy.PluginManager:
    pm = _DriverManager(PROJECT)
    pm.add_hookspecs(hypervisor)
    pm.add_hookspecs(secondary)
    pm.add_hookspecs(state)  # a driver object carries its state hooks beside connect_open
    pm.add_hookspecs(host)  # ... and its host-validate checks
    return pm


def _register(pm: pluggy.PluginManager, obj: Any, name: str) -> None:
    """Register and validate: misspelled hooks or arguments fail here, naming both."""
    try:
        pm.register(obj, name=name)
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise InternalError(
            ErrorCode.INTERNAL_ERROR,
            f"driver '{name}' does not match the pyvirt {CONTRACT_VERSION} hook specs: {exc}",
            domain=ErrorDomain.NONE,
        ) from exc


def open_with_driver(driver: Any, name: str, **kwargs: Any) -> Any:
    """Call the driver object's ``connect_open`` through pluggy (validating it first)."""
    return open_with_manager(driver, name, **kwargs)[0]


def open_with_manager(driver: Any, name: str, **kwargs: Any) -> tuple[Any, pluggy.PluginManager]:
    """``open_with_driver``, also returning the manager for ``bind_connection``."""
    pm = _plugin_manager()
    _register(pm, driver, name)
    conn = pm.hook.connect_open(**kwargs)
    declared = getattr(driver, "pyvirt_contract", CONTRACT_VERSION)
    if conn is not None and declared != contract_for("hypervisor").version:
        problem = connection_problem(conn, declared)
        if problem is not None:
            close = getattr(conn, "connect_close", None)
            if callable(close):
                close()
            dist, version = _distribution_of(GROUPS["hypervisor"], name)
            where = f"{kwargs['uri']}: " if kwargs.get("uri") is not None else ""
            raise ConnectionError(ErrorCode.NO_CONNECT, f"{where}driver '{name}' from {dist} {version} {problem}")
    return conn, pm


def bind_connection(conn_obj: Any, name: str, pm: pluggy.PluginManager | None = None) -> pluggy.PluginManager:
    """A plugin manager whose only plugin is the driver's connection object.

    ``pm``: the manager ``open_with_driver`` used, whose driver object is then
    unregistered; reusing it spares building the hook specs twice per open.
    """
    if pm is None:
        pm = _plugin_manager()
    else:
        for plugin in pm.get_plugins():
            pm.unregister(plugin)
    _register(pm, conn_obj, name)
    return pm


def bind_state_driver(driver: Any, name: str) -> pluggy.PluginManager:
    """A plugin manager whose only plugin is a driver object, for pyvirtd's ``state_*`` calls.

    One manager per driver: the daemon calls each driver's state hooks in its
    own order and goes on when one fails, where pluggy's fan-out would call
    them newest first and stop at the first exception.
    """
    pm = _plugin_manager()
    _register(pm, driver, name)
    return pm
