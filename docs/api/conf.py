"""Sphinx configuration of pyvirt's API reference (``nox -s docs``: built with warnings as errors).

The reference is generated from the docstrings of the public API, the
plugin contract (hook specs, typed bases, the API table) and the driver
author's kit, so the documentation is the code's own and cannot drift.

The build runs with ``-n`` (every cross-reference must resolve) and ``-W``.
Builds happen without network access, so intersphinx is not used: names of
the standard library and of third-party libraries (pydantic, lxml, pluggy)
are listed in ``nitpick_ignore_regex`` below, and only those. Every pyvirt
name must resolve to a documented object; a pyvirt name that does not is a
documentation bug the build reports.
"""

from __future__ import annotations

import ast
import builtins
import functools
import importlib.util
import re
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment

import pyvirt

project = "pyvirt"
author = "the pyvirt developers"
release = pyvirt.__version__
version = ".".join(release.split(".")[:2])
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
# pydantic's Annotated validators would otherwise be spelled out field by field
# (``Annotated[bool, BeforeValidator(func=...)]``); the aliases name them once.
autodoc_type_aliases = {
    "ConfBool": "pyvirt.local_driver.driver_config.ConfBool",
    "ConfStrList": "pyvirt.local_driver.driver_config.ConfStrList",
}
napoleon_google_docstring = False
napoleon_numpy_docstring = False
exclude_patterns = ["_build"]
html_theme = "alabaster"
nitpicky = True

# Targets outside pyvirt: the standard library and third-party libraries whose
# inventories cannot be fetched (no intersphinx offline). Only module prefixes
# that are not pyvirt's, so a broken pyvirt reference still fails the build.
_FOREIGN_MODULES = (
    "_collections_abc",
    "abc",
    "collections",
    "collections.abc",
    "concurrent.futures",
    "contextlib",
    "datetime",
    "enum",
    "io",
    "ipaddress",
    "logging",
    "os",
    "pathlib",
    "selectors",
    "socket",
    "ssl",
    "subprocess",
    "threading",
    "types",
    "typing",
    "uuid",
    "lxml",
    "lxml.etree",
    "pluggy",
    "pydantic",
    "pydantic.functional_validators",
    "pydantic.main",
    "_pytest",
    "pytest",
    "stevedore",
)
nitpick_ignore_regex = [(r"py:.*", re.escape(m) + r"\.[A-Za-z_][\w.]*") for m in _FOREIGN_MODULES]


@functools.cache
def _imported_names(modname: str) -> dict[str, str]:
    """The names a pyvirt module imports (``from X import Y``, also under ``TYPE_CHECKING``), qualified."""
    spec = importlib.util.find_spec(modname)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return {}
    package = modname if spec.submodule_search_locations else modname.rpartition(".")[0]
    names: dict[str, str] = {}
    for stmt in ast.walk(ast.parse(Path(spec.origin).read_text(encoding="utf-8"))):
        if isinstance(stmt, ast.ImportFrom):
            base = importlib.util.resolve_name("." * stmt.level + (stmt.module or ""), package)
            for alias in stmt.names:
                names[alias.asname or alias.name] = f"{base}.{alias.name}"
    return names


def _qualify_bare_names(app: Sphinx, doctree: nodes.document) -> None:
    """Give a bare name in an annotation the module it was imported from.

    Modules import the types of their annotations under ``TYPE_CHECKING`` (a
    spec module imports nothing at run time), so autodoc cannot evaluate them
    and leaves the bare name (``Domain``), which Sphinx then looks up by
    suffix: ``Domain`` matched both ``pyvirt.domain.Domain`` and
    ``pyvirt.conf.domain.Domain``, and ``type`` matched three records'
    ``type`` attributes. The module's own import says which one it means;
    a builtin name means the builtin (Sphinx's builtin resolver finds it).
    """
    for node in doctree.findall(pending_xref):
        target = node["reftarget"]
        if node.get("refdomain") != "py" or node.get("refexplicit"):
            continue
        modname = node.get("py:module") or ""
        if "." in target:
            # a dotted name whose first part the module imported (``etree._Element`` after ``from lxml import
            # etree`` under TYPE_CHECKING): that part's module says what it is
            head, _, rest = target.partition(".")
            base = _imported_names(modname).get(head) if modname.startswith("pyvirt") else None
            if base is not None:
                node["reftarget"] = f"{base}.{rest}"
                if node.hasattr("refspecific"):
                    del node["refspecific"]
            continue
        qualified = _imported_names(modname).get(target) if modname.startswith("pyvirt") else None
        if qualified is not None:
            node["reftarget"] = qualified
            node["pyvirt_bare"] = target
        elif not hasattr(builtins, target):
            continue
        # the Python domain searches by suffix whenever the attribute exists, whatever its value
        if node.hasattr("refspecific"):
            del node["refspecific"]


def _resolve_reexported(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.TextElement
) -> nodes.reference | None:
    """A name imported from where it is not documented (a re-export): the one documented object of that name.

    An ambiguous name is not guessed: the Python domain warns about it.
    """
    bare = node.get("pyvirt_bare")
    if node.get("refdomain") != "py" or bare is None:
        return None
    node["refspecific"] = True
    domain = env.get_domain("py")
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], bare, node, contnode)


def _resolve_callable_in_annotation(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.TextElement
) -> nodes.reference | None:
    """A pyvirt function named as a class: the validator inside an ``Annotated`` alias.

    Sphinx renders ``Annotated[bool, BeforeValidator(_conf_bool)]`` with
    ``_conf_bool`` as a class reference; the function is documented, so the
    reference is resolved as the object it is.
    """
    target = node["reftarget"]
    if node.get("refdomain") != "py" or node["reftype"] != "class" or not target.startswith("pyvirt."):
        return None
    domain = env.get_domain("py")
    return domain.resolve_xref(env, node["refdoc"], app.builder, "func", target, node, contnode)


# pyvirt.util.int_enum's private bases stand in for these (start-up cost); mypy and callers see the public ones
_LIGHT_ENUM_BASES = {"_IntEnum": "IntEnum", "_IntFlag": "IntFlag", "_Enum": "Enum"}


def _public_enum_bases(app: Sphinx, name: str, obj: Any, options: Any, bases: list[Any]) -> None:
    """Show ``enum.IntEnum`` (IntFlag, Enum) as the base of a table built by :mod:`pyvirt.util.int_enum`.

    Its classes are light stand-ins that behave as the standard library's for
    everything callers use, and are typed as them; their private base is not
    API, so the reference names the class a reader can rely on.
    """
    import enum

    for i, base in enumerate(bases):
        public = _LIGHT_ENUM_BASES.get(getattr(base, "__name__", ""))
        if public is not None and getattr(base, "__module__", "") == "pyvirt.util.int_enum":
            bases[i] = getattr(enum, public)


def _public_enum_reference(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.TextElement
) -> nodes.Node | None:
    """``_IntFlag`` in a light table's signature (its constructor's return type) read as ``enum.IntFlag``."""
    target = node["reftarget"]
    public = _LIGHT_ENUM_BASES.get(target.removeprefix("pyvirt.util.int_enum."))
    if node.get("refdomain") != "py" or public is None:
        return None
    return nodes.literal(text=f"enum.{public}")


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the qualification of bare names, the fallbacks for re-exports and validators, and the enum bases."""
    app.connect("autodoc-process-bases", _public_enum_bases)
    app.connect("doctree-read", _qualify_bare_names)
    app.connect("missing-reference", _resolve_reexported)
    app.connect("missing-reference", _resolve_callable_in_annotation)
    app.connect("missing-reference", _public_enum_reference)
    return {"parallel_read_safe": True}
