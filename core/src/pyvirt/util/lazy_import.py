"""A module imported when one of its attributes is first used.

Why: a short ``pyvirsh`` run against ``test:///default`` (``list --all``)
needs none of the XML models, yet the test driver's modules name them
everywhere. Importing the models means importing lxml and building a hundred
model classes, which costs several times what virsh takes for the whole
command. Binding the module lazily keeps the code reading as ordinary
module attribute access (``conf_domain.parse_domain(...)``) while the import
happens only on the paths that parse or format XML.

The stand-in is a small proxy rather than :class:`importlib.util.LazyLoader`:
that needs ``importlib.util`` loaded up front and puts a half-made module in
``sys.modules`` for everyone; the proxy imports the real module through the
normal machinery on first use and then only forwards attribute reads (a
dictionary lookup each). Type checkers see an ordinary import::

    if TYPE_CHECKING:
        from pyvirt.conf import domain as conf_domain
    else:
        conf_domain = lazy_module("pyvirt.conf.domain")
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not typing's: this module is on every short pyvirsh run, which typing would slow
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any

__all__ = ["lazy_module"]


class _LazyModule:
    __slots__ = ("_module", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        module = self._module
        if module is None:
            # __import__ and sys.modules, not importlib.import_module: the importlib package (and the warnings
            # module it loads) cost every run that binds a lazy module 1.5 million instructions up front
            __import__(self._name)
            module = self._module = sys.modules[self._name]
        return getattr(module, attr)

    def __repr__(self) -> str:
        state = "loaded" if self._module is not None else "not loaded yet"
        return f"<lazy module {self._name!r} ({state})>"


def lazy_module(name: str) -> Any:
    """``name``'s module if it is imported already, else a stand-in that imports it on first attribute use."""
    return sys.modules.get(name) or _LazyModule(name)
