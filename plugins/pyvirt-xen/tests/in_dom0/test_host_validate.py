"""``pyvirsh host-validate xen`` in a real dom0: every check passes (these run inside the nested dom0).

Outside a dom0 the group warns (``../test_host_needs.py``); here the dom0 is
recognised as libvirt's libxl driver recognises it, and the toolstack that
system-deps.toml declares (``install = false``: only a dom0 has it) is found.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pyvirt_xen.host_validate import check_xen, is_xen_dom0

from pyvirt.util.host_validate import Status

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from nested_xen import in_dom0

pytestmark = pytest.mark.skipif(not in_dom0(), reason="runs inside the nested Xen dom0 (test_nested_xen.py boots it)")


def test_the_xen_group_passes_in_a_dom0() -> None:
    assert is_xen_dom0()
    results = list(check_xen())
    assert [r.description for r in results if r.status is not Status.PASS] == []
    assert len(results) == 4  # the dom0 check and the three declared programs
