"""Every hook spec carries the reference documentation a driver author reads (pytest's hookspec style).

The specs are the contract's documentation (the API reference is generated
from them), so each must say, in the same places: what the hook does (a
summary line), every parameter (``:param NAME:``), what it returns
(``:returns:``, unless it returns None), how pluggy calls it ("Stops at
first non-None result." exactly when it is ``firstresult``), the contract
version that added it ("Added in contract X.Y.", from the API table or the
typed bases, so the text cannot disagree with what registration checks)
and, for a ``flags`` parameter, the :mod:`pyvirt.flags` enum of the
hook's libvirt API. A new spec without them fails here.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import pyvirt.flags
import pyvirt.plugin.specs
from pyvirt.plugin import PROJECT
from pyvirt.plugin.api import API
from pyvirt.plugin.bases import contract_for

FIRSTRESULT = "Stops at first non-None result."
NO_FLAGS = "libvirt defines no flags"
# the module's classes (all its public names but the two tables): IntFlags to mypy, built on first read at run time
_FLAG_ENUMS = set(pyvirt.flags.__all__) - {"API_FLAGS", "BY_LIBVIRT_NAME"}


def _specs() -> Iterator[tuple[str, Callable[..., Any]]]:
    # every module of the package, so that a new spec module is checked without being listed here
    for info in pkgutil.iter_modules(pyvirt.plugin.specs.__path__):
        mod = importlib.import_module(f"pyvirt.plugin.specs.{info.name}")
        for name, func in vars(mod).items():
            if inspect.isfunction(func) and hasattr(func, f"{PROJECT}_spec"):
                yield name, func


SPECS = dict(_specs())


def _since(hook: str) -> str | None:
    if hook in API:
        return API[hook].since
    for kind in ("hypervisor", "security"):
        for h in contract_for(kind).hooks:
            if h.name == hook:
                return h.since
    return None


def _field(doc: str, head: str) -> str | None:
    """The text of one ``:param x:``/``:returns:`` field, up to the next field or paragraph."""
    m = re.search(rf"^\s*{re.escape(head)}(.*?)(?=^\s*:\w|^\s*$|\Z)", doc, re.M | re.S)
    return " ".join(m.group(1).split()) if m else None


def test_the_specs_are_found() -> None:
    # the modules' own lists: a spec module left out of this walk would escape every check below
    assert {"connect_open", "domain_create", "network_create", "security_gen_label", "state_initialize",
            "host_validate"} <= set(SPECS)  # fmt: skip
    assert len(SPECS) > 100


@pytest.mark.parametrize("hook", sorted(SPECS))
def test_spec_is_documented(hook: str) -> None:
    func = SPECS[hook]
    doc = inspect.getdoc(func) or ""
    problems = []
    summary = doc.split("\n", 1)[0]
    if not summary or summary.startswith(":"):
        problems.append("a one-line summary first")
    sig = inspect.signature(func)
    for param in sig.parameters:
        if _field(doc, f":param {param}:") is None:
            problems.append(f":param {param}:")
    if sig.return_annotation not in ("None", None) and _field(doc, ":returns:") is None:
        problems.append(f":returns: (it returns {sig.return_annotation})")
    firstresult = getattr(func, f"{PROJECT}_spec")["firstresult"]
    if firstresult and FIRSTRESULT not in doc:
        problems.append(f'"{FIRSTRESULT}" (it is firstresult)')
    if not firstresult and FIRSTRESULT in doc:
        problems.append(f'no "{FIRSTRESULT}" (every driver of the stack is called)')
    since = _since(hook)
    if since is None:
        problems.append("a row in pyvirt.plugin.api (or a hook in pyvirt.plugin.bases) saying when it was added")
    elif f"Added in contract {since}." not in doc:
        problems.append(f'"Added in contract {since}."')
    for other in re.findall(r"Added in contract (\d+\.\d+)\.", doc):
        if other != since:
            problems.append(f"no other version than {since} (it says {other})")
    assert not problems, f"spec {hook} lacks: " + "; ".join(problems)


@pytest.mark.parametrize("hook", sorted(h for h, f in SPECS.items() if "flags" in inspect.signature(f).parameters))
def test_flags_name_their_enum(hook: str) -> None:
    text = _field(inspect.getdoc(SPECS[hook]) or "", ":param flags:") or ""
    named = set(re.findall(r":class:`~?pyvirt\.flags\.(\w+)`", text))
    assert named <= _FLAG_ENUMS, f"{hook}: {named - _FLAG_ENUMS} are not enums of pyvirt.flags"
    api = API[hook].api if hook in API else None
    expected = pyvirt.flags.API_FLAGS.get(api) if api else None
    if expected is not None:
        assert expected.__name__ in named, f"{hook}: flags must name :class:`~pyvirt.flags.{expected.__name__}` ({api})"
    else:
        assert named or NO_FLAGS in text, f"{hook}: flags must name its enum or say '{NO_FLAGS}' ({api})"
