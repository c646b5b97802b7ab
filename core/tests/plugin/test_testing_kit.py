"""The kit third parties run against their drivers (``pyvirt.testing``), run here against core's own drivers.

If these fail, the kit or core is wrong, not a third party's driver; the
second half shows the kit does catch a driver that breaks the contract.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pyvirt.security.dac import DacDriver
from pyvirt.security.none import NoneDriver
from pyvirt.testing.hypervisor import HypervisorDriverContract
from pyvirt.testing.security import SecurityDriverContract


class TestTheTestDriver(HypervisorDriverContract):
    @pytest.fixture
    def contract_uri(self) -> str:
        return "test:///default"

    @pytest.fixture
    def contract_domain_xml(self) -> Callable[[str], str]:
        return lambda name: (
            f"<domain type='test'><name>{name}</name><memory>8192</memory><os><type>hvm</type></os></domain>"
        )


class TestTheNoneDriver(SecurityDriverContract):
    @pytest.fixture
    def security_driver(self) -> Any:
        return NoneDriver()


class TestTheDacDriver(SecurityDriverContract):
    @pytest.fixture
    def security_driver(self) -> Any:
        return DacDriver(65534, 65534, True)  # nobody: the image really changes owner, and must get it back


BROKEN_SECURITY = '''
import os
import pytest
from pyvirt.security.dac import DacDriver
from pyvirt.plugin import hookimpl
from pyvirt.testing.security import SecurityDriverContract


class ForgetfulDac(DacDriver):
    """Labels like DAC but never gives the files back."""

    @hookimpl
    def security_restore_all_label(self, domain, migrated):
        pass


class TestForgetful(SecurityDriverContract):
    @pytest.fixture
    def security_driver(self):
        return ForgetfulDac(65534, 65534, True)
'''


def test_the_kit_fails_a_driver_that_does_not_restore_labels(tmp_path: Path) -> None:
    (tmp_path / "test_forgetful.py").write_text(textwrap.dedent(BROKEN_SECURITY))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "test_forgetful.py")],
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout
    assert "2 failed, 2 passed" in proc.stdout, proc.stdout
    assert "test_the_label_lifecycle_gives_every_file_its_label_back FAILED" in proc.stdout or (
        "FAILED test_forgetful.py::TestForgetful::test_the_label_lifecycle_gives_every_file_its_label_back"
        in proc.stdout
    ), proc.stdout
