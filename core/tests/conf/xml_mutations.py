"""Deterministic mutations of libvirt's corpus XML, shared by the fuzz and the libvirt-comparison tests.

Each mutation changes one thing a user (or an attacker) could get wrong: a
number out of range, negative or spelled in hex, an enumerated word nobody
knows, a required element removed, an element given twice, an address
attribute spelled ``-0x1``. The random generator is seeded per case, so a
failing case is named by its number and replayed alone.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

__all__ = ["Mutation", "mutate", "mutations"]

BIG_NUMBERS = ("-1", "0", "4294967295", "4294967296", str(2**31), str(2**63 - 1), str(2**63), str(2**64),
               str(2**70), "-0x1", "0x-1", "0xffffffffffffffffff", "1e3", "+5", " 7", "0x", "q", "")  # fmt: skip
BOGUS_WORDS = ("bogus", "", "YES", "on ", "-1")
_NUMBER = re.compile(r"^(?:-?\d+|0x[0-9a-fA-F]+)$")
_WORD = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]*$")
# Names are another piece of work (object-name rules, issue 20 item 7 and its newline-in-a-name part of
# item 16): a mutated name says nothing about the rest, so the guest's name is left alone.
NAME_PATHS = frozenset({("domain", "name")})


@dataclass(frozen=True)
class Mutation:
    kind: str
    where: str
    value: str
    xml: str


def _path(elem: etree._Element) -> str:
    parts = []
    cur: etree._Element | None = elem
    while cur is not None:
        parts.append(str(cur.tag))
        cur = cur.getparent()
    return "/".join(reversed(parts))


def _targets(root: etree._Element) -> tuple[list[tuple[etree._Element, str | None]], list[etree._Element]]:
    """(element, attribute or None for its text) for every leaf value; and every element but the root."""
    values: list[tuple[etree._Element, str | None]] = []
    elems: list[etree._Element] = []
    for el in root.iter("*"):
        if el is not root:
            elems.append(el)
        for attr in el.attrib:
            values.append((el, str(attr)))
        if el.text and el.text.strip() and len(el) == 0:
            parent = el.getparent()
            if parent is None or (str(parent.tag), str(el.tag)) not in NAME_PATHS:
                values.append((el, None))
    return values, elems


def mutate(xml: str, rng: random.Random) -> Mutation:
    """One mutation of ``xml`` chosen with ``rng``."""
    root = etree.fromstring(xml.encode())
    values, elems = _targets(root)
    numbers = [(e, a) for e, a in values if _NUMBER.match((e.get(a) if a else e.text or "").strip() or "")]
    words = [(e, a) for e, a in values if _WORD.match((e.get(a) if a else e.text or "").strip() or "")]
    addresses = [(e, a) for e, a in values if e.tag == "address" and a != "type" and a is not None]
    kinds = ["number"] * 4 + ["word"] * 3 + ["remove", "duplicate", "address"]
    kind = rng.choice(kinds)
    if kind == "number" and numbers:
        el, attr = rng.choice(numbers)
        value = rng.choice(BIG_NUMBERS)
    elif kind == "address" and addresses:
        el, attr = rng.choice(addresses)
        value = rng.choice(("-0x1", "0x-1", "-1", "0x10000", "0xzz", str(2**64), "0x100000000"))
    elif kind in ("remove", "duplicate") and elems:
        el = rng.choice(elems)
        parent = el.getparent()
        assert parent is not None
        where = _path(el)
        if kind == "remove":
            parent.remove(el)
        else:
            el.addnext(etree.fromstring(etree.tostring(el)))
        return Mutation(kind, where, "", etree.tostring(root, encoding="unicode"))
    else:
        pool = words or values
        el, attr = rng.choice(pool)
        value = rng.choice(BOGUS_WORDS)
        kind = "word"
    if attr is None:
        el.text = value
    else:
        el.set(attr, value)
    where = _path(el) + (f"/@{attr}" if attr else "")
    return Mutation(kind, where, value, etree.tostring(root, encoding="unicode"))


def mutations(bases: list[str], count: int, seed: int) -> Iterator[Mutation]:
    """``count`` mutations of documents drawn from ``bases``, reproducible from ``seed``."""
    for i in range(count):
        rng = random.Random(f"{seed}:{i}")
        yield mutate(rng.choice(bases), rng)
