"""Tests import the oracle helpers beside them (vmx_oracle) and the vSphere simulator fixtures (vcsim)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# fixtures shared by the modules here; imported (not pytest_plugins), which pytest allows in any conftest
from vcsim import auth_file, esx_sim, vpx_sim  # noqa: F401
