"""Tests import the oracle helpers beside them (vmx_oracle) and the vSphere simulator fixtures (vcsim).

The vSphere logins the driver keeps between runs (pyvirt_esx.session_cache)
go to a cache directory of the test session's own, not the user's.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

# fixtures shared by the modules here; imported (not pytest_plugins), which pytest allows in any conftest
from vcsim import auth_file, esx_sim, libvirt_esx_sim, vpx_sim  # noqa: F401


@pytest.fixture(scope="session", autouse=True)
def own_cache_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache-home")))
        yield
