"""The on-disk entry-point index: used while valid, rebuilt when sys.path changes, never trusted blindly."""

from __future__ import annotations

import marshal
import os
import sys
from pathlib import Path

import pytest

from pyvirt.errors import Error, ErrorCode
from pyvirt.plugin import entry_point_index
from pyvirt.plugin.registry import load_driver


@pytest.fixture
def private_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache directory of our own and an extra (empty) sys.path directory we can touch."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    extra = tmp_path / "site"
    extra.mkdir()
    monkeypatch.setattr(sys, "path", [*sys.path, str(extra)])
    return extra


def test_index_is_written_and_matches_the_installed_entry_points(private_index: Path) -> None:
    assert entry_point_index.entry_point_value("pyvirt.hypervisor", "test") == "pyvirt.drivers.test.driver:TestDriver"
    doc = marshal.loads(Path(entry_point_index._cache_file()).read_bytes())
    assert doc["entry_points"] == entry_point_index.scan_installed()
    assert entry_point_index.entry_point_value("pyvirt.hypervisor", "nosuch") is None


def test_a_valid_index_is_believed_without_scanning(private_index: Path) -> None:
    entry_point_index.entry_point_value("pyvirt.hypervisor", "test")
    path = Path(entry_point_index._cache_file())
    doc = marshal.loads(path.read_bytes())
    doc["entry_points"]["pyvirt.hypervisor"]["test"] = "pyvirt_no_such_module:Driver"
    path.write_bytes(marshal.dumps(doc))
    with pytest.raises(Error) as exc:
        load_driver("hypervisor", "test")
    assert exc.value.code == ErrorCode.NO_CONNECT
    assert "failed to load: ModuleNotFoundError" in str(exc.value)


def test_a_changed_sys_path_directory_rebuilds_the_index(private_index: Path) -> None:
    entry_point_index.entry_point_value("pyvirt.hypervisor", "test")
    path = Path(entry_point_index._cache_file())
    doc = marshal.loads(path.read_bytes())
    doc["entry_points"]["pyvirt.hypervisor"]["test"] = "pyvirt_no_such_module:Driver"
    path.write_bytes(marshal.dumps(doc))
    # Installing a distribution creates a *.dist-info directory: its parent's mtime moves.
    (private_index / "toy-1.0.dist-info").mkdir()
    st = os.stat(private_index)
    os.utime(private_index, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert load_driver("hypervisor", "test").pyvirt_contract


def test_a_corrupt_or_unwritable_index_falls_back_to_scanning(private_index: Path) -> None:
    path = Path(entry_point_index._cache_file())
    path.parent.mkdir(parents=True)
    # Garbage, a torn write (marshal raises EOFError) and a valid marshal of the wrong shape.
    for bad in (b"{not an index", marshal.dumps({"format": 2, "stamp": [["x", 1]]})[:9], marshal.dumps([1, 2])):
        path.write_bytes(bad)
        assert entry_point_index.entry_point_value("pyvirt.hypervisor", "test") is not None
    path.unlink()
    path.parent.chmod(0o500)
    try:
        if os.access(path.parent, os.W_OK):  # root ignores the mode: make the directory a file instead
            path.parent.chmod(0o700)
            path.parent.rename(path.parent.with_name("moved"))
            path.parent.write_text("")
        assert entry_point_index.entry_point_value("pyvirt.hypervisor", "test") is not None
        assert not path.exists()
    finally:
        if path.parent.is_dir():
            path.parent.chmod(0o700)
