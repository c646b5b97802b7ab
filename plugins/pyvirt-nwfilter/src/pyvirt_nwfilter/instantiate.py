"""From a binding to the rules its port gets: the filter tree walked, variables resolved, lists expanded.

libvirt's ``virNWFilterInstantiateFilter`` (``nwfilter_gentech_driver.c``):
the binding's filter and every filter it references (depth first, each
filterref's parameters added to its parent's, the parent's winning over the filterref's own as libvirt's
``virNWFilterCreateVarsFrom`` merges them), each rule with the chain of
the filter it came from, and a rule naming list variables instantiated once
per combination of their values (``virNWFilterVarCombIter``: variables under
one iterator id advance together, distinct iterator ids combine). ``MAC`` is
the binding's MAC when no parameter gives it. Variables without a value,
gathered over the whole tree first (virNWFilterDetermineMissingVarsRec), are
libvirt's "Cannot instantiate filter due to unresolvable variables" error,
except ``IP`` alone: that one is learned from the guest's traffic
(:mod:`pyvirt_nwfilter.learn`), so :class:`UnknownIPError` tells the caller to
learn it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from pyvirt.conf.nwfilter import FilterRef, Item, NWFilter, Rule
from pyvirt.conf.nwfilter_binding import Binding
from pyvirt.conf.nwfilter_values import format_mac
from pyvirt.errors import Error, ErrorCode, ErrorDomain

__all__ = ["Instance", "UnknownIPError", "filter_closure", "instantiate"]


@dataclass
class Instance:
    """One rule with every variable replaced by a value (``values``: attribute -> text), in its filter's chain."""

    rule: Rule
    chain: str
    chain_priority: int
    values: dict[str, str]


class UnknownIPError(Error):
    """The binding's filters need ``IP`` and nothing else is missing: libvirt learns it (CTRL_IP_LEARNING)."""

    def __init__(self) -> None:
        super().__init__(ErrorCode.INTERNAL_ERROR, "Cannot instantiate filter due to unresolvable variables or "
                         "unavailable list elements: IP", domain=ErrorDomain.NWFILTER)  # fmt: skip


def _error(code: ErrorCode, detail: str) -> Error:
    return Error(code, detail, domain=ErrorDomain.NWFILTER)


def filter_closure(name: str, lookup: Callable[[str], NWFilter | None]) -> list[str]:
    """The names of ``name`` and every filter it references, transitively (each once)."""
    seen: list[str] = []
    stack = [name]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.append(current)
        found = lookup(current)
        if found is not None:
            stack.extend(reversed(found.refs()))
    return seen


def _missing(name: str) -> Error:
    return _error(ErrorCode.INTERNAL_ERROR, f"referenced filter '{name}' is missing")


def _combinations(rule: Rule, params: dict[str, list[str]], missing: list[str]) -> list[dict[str, str]]:
    """Every assignment of the rule's variables (libvirt's combination iterator); none when one has no value, its
    name (as libvirt prints the access, ``FOO[1]``) added to ``missing``."""
    variables = {name: item for name, item in rule.items.items() if item.var is not None}
    if not variables:
        return [{}]
    unresolved = []
    for item in variables.values():
        var = item.var
        assert var is not None
        values = params.get(var.name)
        if values is None or (var.index is not None and var.index >= len(values)):
            unresolved.append(str(var))
    if unresolved:
        missing.extend(u for u in unresolved if u not in missing)
        return []
    groups: dict[int, list[str]] = {}
    for item in variables.values():
        var = item.var
        assert var is not None
        if var.index is None and var.name not in groups.setdefault(var.iterator or 0, []):
            groups[var.iterator or 0].append(var.name)
    axes = []
    for names in groups.values():
        length = max(len(params[n]) for n in names)
        axes.append([{n: params[n][min(i, len(params[n]) - 1)] for n in names} for i in range(length)])
    result = []
    for combo in itertools.product(*axes):
        chosen: dict[str, str] = {}
        for part in combo:
            chosen.update(part)
        assignment: dict[str, str] = {}
        for attr, item in variables.items():
            var = item.var
            assert var is not None
            assignment[attr] = params[var.name][var.index] if var.index is not None else chosen[var.name]
        result.append(assignment)
    return result


def instantiate(binding: Binding, lookup: Callable[[str], NWFilter | None], ip: str | None = None) -> list[Instance]:
    """The binding's rule instances, in the order libvirt walks the filter tree (``ip``: the learned address,
    used when the binding gives no IP, as libvirt's virNWFilterIPAddrMap)."""
    params = {k: list(v) for k, v in binding.params.items()}
    params.setdefault("MAC", [format_mac(binding.mac)])
    if ip is not None:
        params.setdefault("IP", [ip])
    out: list[Instance] = []
    missing: list[str] = []

    def walk(name: str, params: dict[str, list[str]], path: tuple[str, ...]) -> None:
        nwfilter = lookup(name)
        if nwfilter is None:
            raise _missing(name)
        if name in path:  # define refuses loops; a filter changed on disk since is refused here too
            raise _error(ErrorCode.OPERATION_FAILED, "filter would introduce a loop")
        for entry in nwfilter.entries:
            if isinstance(entry, FilterRef):
                walk(entry.filter, {**entry.params, **params}, (*path, name))
                continue
            for values in _combinations(entry, params, missing):
                out.append(Instance(entry, nwfilter.chain, nwfilter.priority, values))

    walk(binding.filter, params, ())
    if missing == ["IP"]:
        raise UnknownIPError()
    if missing:
        # virNWFilterPrintVars leaves IP out of the list
        shown = ", ".join(sorted(m for m in missing if m != "IP"))
        raise _error(ErrorCode.INTERNAL_ERROR, "Cannot instantiate filter due to unresolvable variables or "
                                               f"unavailable list elements: {shown}")  # fmt: skip
    return out


def item_text(instance: Instance, name: str) -> str | None:
    """An attribute's value as text: the variable's value, or None when the rule does not have it."""
    item: Item | None = instance.rule.items.get(name)
    if item is None:
        return None
    return instance.values[name] if item.var is not None else None
