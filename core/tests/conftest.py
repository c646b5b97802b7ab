"""Shared fixtures: most util tests need root, because they change identities."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def root_only() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: the test changes uid/gid and capabilities of real children")
