"""pyvirt's contract suite, run against this driver as its author would (the kit ships with the core)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pyvirt.testing.hypervisor import HypervisorDriverContract


class TestExampleDriver(HypervisorDriverContract):
    @pytest.fixture
    def contract_uri(self, tmp_path: Path) -> str:
        return f"example:///embed?root={tmp_path}"

    @pytest.fixture
    def contract_domain_xml(self) -> Callable[[str], str]:
        return lambda name: (
            f"<domain type='kvm'><name>{name}</name><memory>65536</memory><os><type>hvm</type></os></domain>"
        )
