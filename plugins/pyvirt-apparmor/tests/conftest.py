import os

import pytest


@pytest.fixture
def root_only() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: writes profiles under a private apparmor.d and runs apparmor_parser")
