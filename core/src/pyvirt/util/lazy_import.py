"""A module that is imported when one of its attributes is first used.

Why: a short ``pyvirsh`` run against ``test:///default`` (``list --all``)
needs none of the XML models, yet the test driver's modules name them
everywhere. Importing the models means importing lxml and building a hundred
model classes, which costs several times what virsh takes for the whole
command. Binding the module lazily keeps the code reading as ordinary
module attribute access (``conf_domain.parse_domain(...)``) while the
import happens only on the paths that parse or format XML.

The standard library's :class:`importlib.util.LazyLoader` does the work;
once loaded, the object is the real module with no indirection left.
Type checkers see an ordinary import: use it as::

    if TYPE_CHECKING:
        from pyvirt.conf import domain as conf_domain
    else:
        conf_domain = lazy_module("pyvirt.conf.domain")
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

__all__ = ["lazy_module"]


def lazy_module(name: str) -> ModuleType:
    """``name``'s module, imported now if it already is, else on first attribute access."""
    found = sys.modules.get(name)
    if found is not None:
        return found
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)  # as the import system binds a submodule on its package
    return module
