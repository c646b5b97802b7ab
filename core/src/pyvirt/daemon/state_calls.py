"""The typed facade over one driver's state hooks (``pyvirt.plugin.specs.state``), for pyvirtd.

pluggy's ``pm.hook.state_initialize(...)`` is untyped, and the rule for the
connection hooks (:class:`pyvirt.plugin.facade.DriverCalls`) holds here too:
nothing outside a facade calls ``pm.hook`` directly, so mypy sees the
signatures of the specs and a driver's answers are read one way (``None``
from ``state_shutdown_wait`` is "nothing left to wait for", as from a driver
whose work ended). One manager per driver, as
:func:`pyvirt.plugin.registry.bind_state_driver` explains: the daemon calls
each driver in its own order and goes on when one fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pluggy

__all__ = ["StateCalls"]


class StateCalls:
    """The state hooks of one driver object (libvirt's ``virStateDriver``), with the specs' signatures."""

    def __init__(self, name: str, pm: pluggy.PluginManager) -> None:
        self.name = name
        self._hook = pm.hook

    @classmethod
    def bind(cls, driver: Any, name: str) -> StateCalls | None:
        """The facade for ``driver`` (the object behind its entry point); None when it has no state hooks."""
        from pyvirt.plugin.registry import bind_state_driver

        pm = bind_state_driver(driver, name)
        if not pm.hook.state_initialize.get_hookimpls():
            return None
        return cls(name, pm)

    def initialize(self, privileged: bool, root: str | None) -> bool:
        """True once the driver holds its state; False when it does not serve this kind of instance."""
        return bool(self._hook.state_initialize(privileged=privileged, root=root))

    def reload(self) -> None:
        self._hook.state_reload()

    def shutdown_prepare(self) -> None:
        self._hook.state_shutdown_prepare()

    def shutdown_wait(self, timeout: float) -> bool:
        """Whether the driver's work in flight ended within ``timeout`` seconds."""
        return self._hook.state_shutdown_wait(timeout=timeout) is not False

    def cleanup(self) -> None:
        self._hook.state_cleanup()
