from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # conformance_xen is a script beside the tests

from conformance_xen import libvirt_tests


@pytest.fixture(scope="session")
def corpus() -> Path:
    """libvirt 9.0.0's tests directory (fetched once by tools/fetch-libvirt-source)."""
    try:
        return libvirt_tests()
    except (OSError, Exception) as exc:
        pytest.skip(f"libvirt 9.0.0's source could not be fetched: {exc}")
