"""The test driver's hook marker: pluggy's ``HookimplMarker("pyvirt")`` mark, made without importing pluggy.

Why: ``test:///`` is opened in-process by every short ``pyvirsh`` run on it, and
core binds its own test driver's hooks directly (:mod:`pyvirt.opening`), so
nothing on that path needs pluggy except the marks on the hooks; importing
pluggy (and the ``inspect``, ``ast`` and ``dis`` it pulls in) cost a fifth of
such a run. The mark is the attribute pluggy reads (``pyvirt_impl``, a dict of
pluggy's options at their defaults): pluggy still finds and validates every
hook when the driver is registered with a plugin manager, as
``core/tests/drivers/test_test_driver_binding.py`` does, and a test there
compares the mark with pluggy's own so a pluggy that changed its format is
noticed. Only the bare ``@hookimpl`` form exists: the test driver needs no
wrappers or ordering options.
"""

from __future__ import annotations

from pyvirt.plugin import PROJECT

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeVar

    _F = TypeVar("_F")

__all__ = ["hookimpl"]

_ATTRIBUTE = f"{PROJECT}_impl"


def hookimpl(function: _F) -> _F:
    """Mark ``function`` as a hook implementation, as ``@pyvirt.plugin.hookimpl`` does with no options."""
    setattr(function, _ATTRIBUTE, {"wrapper": False, "hookwrapper": False, "optionalhook": False,
                                   "tryfirst": False, "trylast": False, "specname": None})  # fmt: skip
    return function
