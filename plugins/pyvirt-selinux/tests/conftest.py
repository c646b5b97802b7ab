import os

import pytest


@pytest.fixture
def root_only() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: writes security.* and trusted.* xattrs on real files")
