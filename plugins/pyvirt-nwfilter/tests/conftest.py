"""Fixtures: a private pyvirtd and a private libvirtd 9.0 with its nwfilter driver, one each per module."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pyvirt.daemon.instance import PrivateDaemon


@pytest.fixture(scope="module")
def pyvirtd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateDaemon]:
    with PrivateDaemon(tmp_path_factory.mktemp("pyvirtd")) as daemon:
        yield daemon


def _harness() -> Any:
    harness = Path(__file__).parents[3] / "bench" / "private_libvirtd.py"
    if not harness.exists() or not shutil.which("virsh"):
        pytest.skip("needs the repository's bench/private_libvirtd.py and Debian's virsh")
    spec = importlib.util.spec_from_file_location("private_libvirtd", harness)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not os.path.exists(module.LIBVIRTD):
        pytest.skip("needs Debian's libvirtd")
    if not any((Path(d) / "libvirt_driver_nwfilter.so").exists() for d in module.DRIVER_DIRS):
        pytest.skip("needs libvirt's nwfilter driver (libvirt-daemon-driver-nwfilter)")
    return module


@pytest.fixture(scope="module")
def libvirtd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URI of a private libvirtd 9.0 serving nwfilter:///system (its /etc/libvirt a private copy)."""
    harness = _harness()
    proc, uri = harness.start_libvirtd(tmp_path_factory.mktemp("libvirtd"), "nwfilter")
    try:
        yield uri
    finally:
        harness.stop_libvirtd(proc)
