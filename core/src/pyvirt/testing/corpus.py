"""Scoring a driver against one of libvirt's test corpora, the way its test programs run them.

libvirt's tests (``qemuxml2xmltest``, ``networkxml2conftest``, ...) run a
fixed list of cases, input to expected output, and a case passes or fails
with a reason.  Each conformance script in pyvirt (and a third-party
driver's, measuring itself against the same corpora) only needs to say how
one case is run; the outcome record and the report that ``nox -s
conformance`` prints live here, so every corpus is reported the same way
and a floor test can read the numbers back.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from pyvirt.testing.sources import libvirt_source

__all__ = ["Outcome", "report", "run_corpora"]


@dataclass(frozen=True)
class Outcome:
    """One case of a corpus: its name, whether it matched libvirt's expected output, and why not."""

    name: str
    passed: bool
    why: str = ""


def report(title: str, outcomes: Sequence[Outcome], out: TextIO | None = None) -> int:
    """Print ``TITLE: PASSED/TOTAL`` and one indented line per failing case; return the pass count."""
    stream = sys.stdout if out is None else out
    passed = sum(o.passed for o in outcomes)
    print(f"{title}: {passed}/{len(outcomes)}", file=stream)
    for o in outcomes:
        if not o.passed:
            print(f"    {o.name}: {o.why}", file=stream)
    return passed


def run_corpora(corpora: Mapping[str, Callable[[Path], Sequence[Outcome]]]) -> int:
    """A conformance script's ``main``: run each corpus over libvirt 9.0.0's source tree and report it.

    Returns the process exit status: 1 when the source tree cannot be had
    (the cache is empty and fetching is not allowed), else 0; a corpus
    below its floor is the floor test's to fail, not the report's.
    """
    src = libvirt_source()
    if src is None:
        print("libvirt 9.0.0 source is not available (pyvirt.testing.sources cannot fetch it here)")
        return 1
    for title, run in corpora.items():
        report(title, run(src))
    return 0
