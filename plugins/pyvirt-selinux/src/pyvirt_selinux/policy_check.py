"""Ask a compiled SELinux policy, offline, whether one context may act on another.

Runs wherever setools is importable (Debian's python3-setools, i.e. the
system ``python3``); it imports nothing from pyvirt so that it can:

    python3 -m pyvirt_selinux.policy_check POLICY SCONTEXT TCONTEXT CLASS PERM
    python3 -m pyvirt_selinux.policy_check POLICY --valid CONTEXT

An access is allowed when a type-enforcement allow rule grants it *and* every
constraint (``constrain`` and the MCS ``mlsconstrain`` rules) for the class and
permission holds; the constraints are evaluated from their postfix form with
MLS dominance over sensitivity and category sets, which is what keeps one
guest's ``svirt_t:s0:c1,c2`` away from another's ``svirt_image_t:s0:c3,c4``.
Exit status 0 = allowed (or valid), 1 = denied (or invalid), 2 = usage error.
"""

from __future__ import annotations

import sys
from typing import Any

_OPERANDS = {"u1", "u2", "r1", "r2", "t1", "t2", "l1", "l2", "h1", "h2"}


def _split(ctx: str) -> tuple[str, str, str, str]:
    user, role, type_, level = ctx.split(":", 3)
    return user, role, type_, level


def _level(text: str) -> tuple[int, frozenset[int]]:
    sens, _, cats = text.partition(":")
    out: set[int] = set()
    for part in filter(None, cats.split(",")):
        lo, dot, hi = part.partition(".")
        if dot:
            out.update(range(int(lo[1:]), int(hi[1:]) + 1))
        else:
            out.add(int(lo[1:]))
    return int(sens[1:]), frozenset(out)


def _range(level: str) -> tuple[tuple[int, frozenset[int]], tuple[int, frozenset[int]]]:
    low, _, high = level.partition("-")
    return _level(low), _level(high or low)


def _dom(a: tuple[int, frozenset[int]], b: tuple[int, frozenset[int]]) -> bool:
    return a[0] >= b[0] and a[1] >= b[1]


def _names(item: Any) -> set[str]:
    names: set[str] = set()
    for obj in item:
        expand = getattr(obj, "expand", None)
        names.update(str(t) for t in expand()) if expand else names.add(str(obj))
    return names


def _evaluate(postfix: list[Any], s: tuple[str, str, str, str], t: tuple[str, str, str, str]) -> bool:
    (sl, sh), (tl, th) = _range(s[3]), _range(t[3])
    values = {"u1": s[0], "u2": t[0], "r1": s[1], "r2": t[1], "t1": s[2], "t2": t[2],
              "l1": sl, "l2": tl, "h1": sh, "h2": th}  # fmt: skip
    stack: list[Any] = []
    for tok in postfix:
        if isinstance(tok, str) and tok in _OPERANDS:
            stack.append(("operand", values[tok]))
        elif not isinstance(tok, str):
            stack.append(("set", _names(tok)))
        elif tok == "not":
            stack.append(not stack.pop())
        elif tok in ("and", "or"):
            b, a = stack.pop(), stack.pop()
            stack.append((a and b) if tok == "and" else (a or b))
        else:
            (_, right), (_, left) = stack.pop(), stack.pop()
            if isinstance(right, set):
                result = left in right
                stack.append(result if tok == "==" else not result)
            elif tok in ("==", "eq"):
                stack.append(left == right)
            elif tok in ("!=", "neq"):
                stack.append(left != right)
            elif tok == "dom":
                stack.append(_dom(left, right))
            elif tok == "domby":
                stack.append(_dom(right, left))
            elif tok == "incomp":
                stack.append(not _dom(left, right) and not _dom(right, left))
            else:
                raise ValueError(f"unknown constraint operator {tok}")
    return bool(stack.pop())


def allowed(policy_path: str, scontext: str, tcontext: str, tclass: str, perm: str) -> tuple[bool, str]:
    import setools

    policy = setools.SELinuxPolicy(policy_path)
    s, t = _split(scontext), _split(tcontext)
    te = list(
        setools.TERuleQuery(
            policy, ruletype=["allow"], source=s[2], target=t[2], tclass=[tclass], perms=[perm]
        ).results()
    )
    if not te:
        return False, f"no allow rule: {s[2]} {t[2]}:{tclass} {perm}"
    for rule in setools.ConstraintQuery(policy, tclass=[tclass], perms=[perm]).results():
        if not _evaluate(list(rule.expression), s, t):
            return False, f"constraint denies: {rule.ruletype} {tclass} {perm}: {rule.expression}"
    return True, "allowed"


def valid(policy_path: str, context: str) -> tuple[bool, str]:
    import setools

    policy = setools.SELinuxPolicy(policy_path)
    user, role, type_, level = _split(context)
    try:
        u, r, t = policy.lookup_user(user), policy.lookup_role(role), policy.lookup_type(type_)
    except Exception as exc:
        return False, str(exc)
    if role != "object_r" and str(r) not in {str(x) for x in u.roles}:  # object_r: every user's, for files
        return False, f"role {role} is not authorized for user {user}"
    if role != "object_r" and str(t) not in {str(x) for x in r.types()}:
        return False, f"type {type_} is not authorized for role {role}"
    user_low, user_high = _range(str(u.mls_range).replace(" ", ""))
    low, high = _range(level)
    if not (_dom(low, user_low) and _dom(user_high, high) and _dom(high, low)):
        return False, f"level {level} is outside user {user}'s range {u.mls_range}"
    return True, "valid"


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[1] == "--valid":
        ok, why = valid(argv[0], argv[2])
    elif len(argv) == 5:
        ok, why = allowed(*argv)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(why)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
