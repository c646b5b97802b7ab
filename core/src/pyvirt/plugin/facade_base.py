"""The machinery of the typed facade (:mod:`pyvirt.plugin.facade`), without its 250 typed methods.

Why a module of its own: ``DriverCalls``'s methods are one line each
(``return cast(T, self._call("hook", a=a, ...))``), but there are 250 of
them, and unmarshalling their code cost every short ``pyvirsh`` run about
2.3 million instructions (a twentieth of a remote ``destroy``) to make two or
three calls. Here are the binding, the read-only check and the dispatch every
call goes through, and :func:`~pyvirt.plugin.facade.direct_calls`, whose connections (the thin
remote client, core's test driver) forward a hook's call by name
(``_Forwarding``) and load the facade only for a hook whose method does
more than forward (:data:`ENTRY_CHECKED`) or, on a read-only connection, a
call that passes arguments by position. A test proves the facade's other
methods forward and nothing else.
"""

from __future__ import annotations

from _collections_abc import Callable, Iterable

from pyvirt.errors import ErrorCode, NotSupportedError

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, cast

    import pluggy

    from pyvirt.plugin.facade import DriverCalls
else:

    def cast(_type: object, value: object) -> object:
        """``typing.cast`` without importing typing: at run time a cast returns its value unchanged."""
        return value


__all__ = ["ENTRY_CHECKED", "CallsBase"]  # direct_calls is documented where callers import it: pyvirt.plugin.facade

#: The facade's methods that check or rewrite their arguments before the call (libvirt's public entry points
#: do it): every other method of DriverCalls is ``self._call("its name", **its parameters)``, which
#: ``_Forwarding`` makes without loading the facade. core/tests/plugin/test_facade_forwarding.py reads the facade's
#: source and holds this set to it.
ENTRY_CHECKED = frozenset({
    "domain_core_dump", "domain_managed_save_define_xml", "domain_restore", "domain_save",
    "domain_save_image_define_xml", "domain_save_image_get_xml_desc", "domain_set_metadata", "node_alloc_pages",
})  # fmt: skip


class CallsBase:
    """What every :class:`~pyvirt.plugin.facade.DriverCalls` does whatever the hook: bind, check, dispatch.

    ``read_only``: the connection was opened read-only; calls the API table
    marks as writes are refused (libvirt's OPERATION_DENIED, code 29).
    """

    # Hooks the driver declares never wait (``pyvirt_never_blocks``, see ``never_blocks``)
    _never_blocks: frozenset[str] = frozenset()

    def __init__(self, pm: pluggy.PluginManager,
                 secondary: Callable[[str], DriverCalls | None] | None = None, *,
                 read_only: bool = False) -> None:  # fmt: skip
        self._hook: Any = pm.hook
        # Pool, volume and network calls the driver does not answer go to the storage or network driver
        # of the same mode (libvirt's connections reach those drivers the same way); opened on first use.
        self._secondary_opener = secondary
        self._secondary: dict[str, DriverCalls | None] = {}
        self._implemented: set[str] = set()
        self._binder: Callable[[str], Any] | None = None
        # A hook answered by exactly one implementation and no wrappers is called directly: pluggy
        # has already validated it at registration, and its per-call machinery (a third of a lookup's
        # cost) buys nothing there. Hooks with wrappers (audit, user hooks, metrics) go through pluggy.
        single: dict[str, Any] = {}
        never_blocks: set[str] = set()
        for name in dir(pm.hook):
            if name.startswith("_"):
                continue
            impls = getattr(pm.hook, name).get_hookimpls()
            if not impls:
                continue
            self._implemented.add(name)
            if len(impls) == 1 and not impls[0].hookwrapper and not impls[0].wrapper:
                single[name] = impls[0].function
                if name in getattr(impls[0].plugin, "pyvirt_never_blocks", ()):
                    never_blocks.add(name)
        self._never_blocks = frozenset(never_blocks)
        self._bind(single, read_only)

    def _bind(self, single: dict[str, Any], read_only: bool) -> None:
        self.read_only = read_only
        self._single = single
        # The fast path skips every check, so on a read-only connection it holds only the calls the
        # table says a read-only connection may always make; the others go through ``_dispatch``.
        if read_only:
            from pyvirt.plugin.api import API, Access  # the table is read here and in _dispatch only (see direct_calls)

            self._direct = {h: f for h, f in single.items() if h in API and API[h].access is Access.READ}
        else:
            self._direct = single

    def implements(self, hook: str) -> bool:
        return hook in self._implemented

    def never_blocks(self, hook: str) -> bool:
        """Whether a call of ``hook`` returns without waiting for anything (a lock, a file, a guest, a job).

        The driver declares it per hook in its ``pyvirt_never_blocks`` (names of
        hooks that only read its in-memory tables); pyvirtd answers those on its
        event loop instead of handing them to a worker, which costs a lookup
        more than the lookup itself. Only a hook the driver answers alone
        qualifies: a wrapper (audit, user hooks) may wait for anything.
        """
        return hook in self._never_blocks

    def _call(self, hook: str, **kwargs: Any) -> Any:
        fn = self._direct.get(hook)
        if fn is not None:
            return fn(**kwargs)
        if self._binder is not None and not self.read_only and hook in self._implemented:
            return self._single[hook](**kwargs)  # bound now, at its first call (see direct_calls)
        return self._dispatch(hook, kwargs)

    def _dispatch(self, hook: str, kwargs: dict[str, Any]) -> Any:
        """Read-only check, then the driver, the storage or network driver of the same mode, or NO_SUPPORT."""
        from pyvirt.plugin.api import API, Access, api_name, read_only_denial

        row = API[hook]
        if self.read_only:
            denial = read_only_denial(row, kwargs)
            if denial is not None:
                raise denial
        fn = self._single.get(hook)
        if fn is None and self._binder is not None and hook in self._implemented:
            fn = self._single[hook]
            if row.access is Access.READ:  # a read-only connection calls it directly from now on
                self._direct[hook] = fn
        if fn is not None:
            return fn(**kwargs)
        if hook not in self._implemented:
            kind = (
                "storage" if hook.startswith(("pool_", "volume_")) else "network" if hook.startswith("network_") else ""
            ) or ("nwfilter" if hook.startswith("nwfilter_") else "")
            if kind and self._secondary_opener is not None:
                if kind not in self._secondary:
                    self._secondary[kind] = self._secondary_opener(kind)
                calls = self._secondary[kind]
                if calls is not None:
                    return calls._call(hook, **kwargs)
            raise NotSupportedError(ErrorCode.NO_SUPPORT, api_name(row, kwargs))
        return getattr(self._hook, hook)(**kwargs)


class _Forwarding(CallsBase):
    """A ``DriverCalls`` whose typed methods are not loaded: a hook's call is forwarded by name.

    ``calls.domain_destroy(dom=ref, flags=0)`` is what the facade's method
    does, ``self._call("domain_destroy", dom=ref, flags=0)``; on a read-write
    connection, where that always reaches the driver, the attribute is the
    driver's bound call itself. The facade is loaded (and its method used)
    for a hook in :data:`ENTRY_CHECKED`, one the driver does not implement
    (its NO_SUPPORT error names the libvirt API), a call by position on a
    read-only connection (only the method knows the parameters' names), and
    any other name, which then fails as on the facade.
    """

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in ENTRY_CHECKED or name not in self._implemented:
            return self._method(name)

        if not self.read_only:
            # What _call would find at every call, found once: on a read-write connection every call goes
            # straight to the driver, so the attribute is the driver's own call (pyvirtd's per-call path
            # loses two frames and two keyword dicts). By position too: these drivers take the spec's
            # parameters in the spec's order (core/tests/plugin/test_facade_forwarding.py holds them to it).
            fn: Any = self._single[name]  # (bound here, on first use, by direct_calls' ``bind``)
            self.__dict__[name] = fn
            return fn

        # Read-only: only reads go straight to the driver; the rest pass _call's read-only check.
        def forward(*args: Any, **kwargs: Any) -> Any:
            if args:
                return self._method(name)(*args, **kwargs)
            return self._call(name, **kwargs)

        forward.__name__ = forward.__qualname__ = name
        self.__dict__[name] = forward
        return forward

    def _method(self, name: str) -> Any:
        from pyvirt.plugin.facade import DriverCalls

        return getattr(DriverCalls, name).__get__(self)


if TYPE_CHECKING:
    _Hooks = dict[str, Callable[..., Any]]
else:
    _Hooks = dict  # (Any is for mypy only)


class _BoundOnFirstUse(_Hooks):
    """Hook name -> the driver's call, made by ``bind`` when the name is first looked up (``direct_calls``)."""

    __slots__ = ("_bind", "_hooks")

    def __init__(self, bind: Callable[[str], Callable[..., Any]], hooks: set[str]) -> None:
        super().__init__()
        self._bind = bind
        self._hooks = hooks

    def __missing__(self, hook: str) -> Callable[..., Any]:
        if hook not in self._hooks:
            raise KeyError(hook)
        fn = self[hook] = self._bind(hook)
        return fn


def direct_calls(
    driver: object,
    *,
    read_only: bool = False,
    hooks: Iterable[str] | None = None,
    bind: Callable[[str], Callable[..., Any]] | None = None,
) -> DriverCalls:
    """Calls bound straight to ``driver``'s methods named after hooks of the API table, no plugin manager.

    Why: only for drivers whose hooks are checked against the specs by
    pluggy in a test (the remote driver's generated ones, see
    ``pyvirt.remote.stubgen``; core's test driver, see
    ``pyvirt.opening._open_core_test_driver``), where pluggy's registration
    would only re-check, at every open, what the test already proved; it cost
    a short ``pyvirsh`` run more than its commands. There are no wrappers and
    no secondary drivers on this path: the daemon behind a remote connection
    runs those, and the test driver has none.

    ``hooks``: the hook names ``driver`` implements, when it knows them (the
    remote driver's ``HOOKS``, checked against the table by a test); then a
    read-write connection never loads the API table, 2 million instructions
    of a short ``pyvirsh`` run. Without it, every hook of the table is looked for.

    ``bind``: makes ``driver``'s call of one hook (of ``hooks``) by name; each
    hook is then bound on its first call instead of all of them here, and
    ``driver`` need not have a method per hook (the remote driver binds its
    call table's rows: importing 150 generated methods cost a short run 1.7
    million instructions to call three of them). With ``hooks`` too, the
    calls come without the facade's typed methods either (see
    ``_Forwarding``).
    """
    if bind is not None and hooks is not None:
        lazy = _Forwarding.__new__(_Forwarding)
        lazy._hook = None
        lazy._secondary_opener = None
        lazy._secondary = {}
        lazy._binder = bind
        lazy._implemented = set(hooks)
        lazy._bind(_BoundOnFirstUse(bind, lazy._implemented), read_only)
        return cast("DriverCalls", lazy)
    from pyvirt.plugin.facade import DriverCalls

    calls = DriverCalls.__new__(DriverCalls)
    calls._hook = None
    calls._secondary_opener = None
    calls._secondary = {}
    calls._binder = bind
    if hooks is None:
        from pyvirt.plugin.api import API

        hooks = API
    single = {name: fn for name in hooks if callable(fn := getattr(driver, name, None))}
    calls._implemented = set(single)
    calls._bind(single, read_only)
    return calls
