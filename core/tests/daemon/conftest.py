"""A private pyvirtd per test module: ``pyvirtd --root TMP``, its sockets under TMP/run/pyvirt."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pyvirt.daemon.instance import PrivateDaemon


@pytest.fixture(scope="module")
def pyvirtd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateDaemon]:
    with PrivateDaemon(tmp_path_factory.mktemp("pyvirtd")) as daemon:
        yield daemon
