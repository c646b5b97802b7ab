"""From a binding to the rules its port gets: the filter tree walked, variables resolved, lists expanded.

libvirt's ``virNWFilterInstantiateFilter`` (``nwfilter_gentech_driver.c``):
the binding's filter and every filter it references (depth first, each
filterref's parameters added to its parent's), each rule with the chain of
the filter it came from, and a rule naming list variables instantiated once
per combination of their values (``virNWFilterVarCombIter``: variables under
one iterator id advance together, distinct iterator ids combine). ``MAC`` is
the binding's MAC when no parameter gives it. A variable without a value is
libvirt's "Cannot instantiate filter due to unresolvable variables" error;
libvirt learns a missing ``IP`` from the guest's traffic, which pyvirt does not
do, so that case is refused as unsupported.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from pyvirt.conf.nwfilter import FilterRef, Item, NWFilter, Rule
from pyvirt.conf.nwfilter_binding import Binding
from pyvirt.conf.nwfilter_values import format_mac
from pyvirt.errors import Error, ErrorCode, ErrorDomain

__all__ = ["Instance", "filter_closure", "instantiate"]


@dataclass
class Instance:
    """One rule with every variable replaced by a value (``values``: attribute -> text), in its filter's chain."""

    rule: Rule
    chain: str
    chain_priority: int
    values: dict[str, str]


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


def _combinations(rule: Rule, params: dict[str, list[str]]) -> list[dict[str, str]]:
    """Every assignment of the rule's variables (libvirt's combination iterator)."""
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
        if any(u.split("[")[0] == "IP" for u in unresolved):
            # libvirt learns it from the guest's traffic (nwfilter_learnipaddr.c); pyvirt does not
            raise _error(ErrorCode.NO_SUPPORT, "learning the IP address of a guest port (give the filter its IP "
                                               "parameter)")  # fmt: skip
        raise _error(ErrorCode.INTERNAL_ERROR, "Cannot instantiate filter due to unresolvable variables or "
                                               f"unavailable list elements: {', '.join(sorted(set(unresolved)))}")  # fmt: skip
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


def instantiate(binding: Binding, lookup: Callable[[str], NWFilter | None]) -> list[Instance]:
    """The binding's rule instances, in the order libvirt walks the filter tree."""
    params = {k: list(v) for k, v in binding.params.items()}
    params.setdefault("MAC", [format_mac(binding.mac)])
    out: list[Instance] = []

    def walk(name: str, params: dict[str, list[str]], path: tuple[str, ...]) -> None:
        nwfilter = lookup(name)
        if nwfilter is None:
            raise _missing(name)
        if name in path:  # define refuses loops; a filter changed on disk since is refused here too
            raise _error(ErrorCode.OPERATION_FAILED, "filter would introduce a loop")
        for entry in nwfilter.entries:
            if isinstance(entry, FilterRef):
                walk(entry.filter, {**params, **entry.params}, (*path, name))
                continue
            for values in _combinations(entry, params):
                out.append(Instance(entry, nwfilter.chain, nwfilter.priority, values))

    walk(binding.filter, params, ())
    return out


def item_text(instance: Instance, name: str) -> str | None:
    """An attribute's value as text: the variable's value, or None when the rule does not have it."""
    item: Item | None = instance.rule.items.get(name)
    if item is None:
        return None
    return instance.values[name] if item.var is not None else None
