"""A third party's storage backend with only the required methods serves its pool type; the optional ones are optional.

The story: someone ships ``pyvirt-fsprobe``, a backend for pools of type
``fs`` written from ``pyvirt.plugin.bases.StorageBackend``: ``refresh``,
``volume_names`` and ``volume`` only, no ``check``, ``build``,
``create_volume`` or ``delete_volume``. As with libvirt's backends that
leave those callbacks NULL, the pool starts (building is skipped), its
volumes are listed and looked up, and creating or deleting a volume fails
with libvirt's NO_SUPPORT words instead of an ``AttributeError``. A backend
declaring a storage-backend contract this core does not provide is refused
when a pool of its type is defined, naming both versions.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyvirt.plugin.bases import STORAGE_BACKEND_CONTRACT_VERSION

BACKEND = """
from pyvirt.conf.storage import Bytes, parse_volume
from pyvirt.errors import ErrorCode, ErrorDomain, NotFoundError
from pyvirt.plugin.bases import StorageBackend

NAMES = ["a.img", "b.img"]


class MinimalBackend(StorageBackend):
    pyvirt_contract = "1.0"

    def refresh(self, pool):
        pool.capacity = Bytes(value=1 << 30)
        pool.allocation = Bytes(value=0)
        pool.available = Bytes(value=1 << 30)

    def volume_names(self, pool):
        return list(NAMES)

    def volume(self, pool, name):
        if name not in NAMES:
            raise NotFoundError(ErrorCode.NO_STORAGE_VOL, f"no storage vol with matching name '{name}'",
                                domain=ErrorDomain.STORAGE)
        path = f"{pool.target.path}/{name}"
        return parse_volume(f"<volume><name>{name}</name><key>{path}</key><capacity>1024</capacity>"
                            f"<target><path>{path}</path></target></volume>")


class FutureBackend(MinimalBackend):
    pyvirt_contract = "{future}"
"""

PYPROJECT = """
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "pyvirt-fsprobe"
version = "0.0.1"
dependencies = []

[project.entry-points."pyvirt.storage_backend"]
fs = "pyvirt_fsprobe.backend:MinimalBackend"
netfs = "pyvirt_fsprobe.backend:FutureBackend"

[tool.setuptools]
packages = ["pyvirt_fsprobe"]
"""

MAJOR, MINOR = (int(x) for x in STORAGE_BACKEND_CONTRACT_VERSION.split("."))
FUTURE = f"{MAJOR}.{MINOR + 1}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    src = tmp_path_factory.mktemp("pyvirt-fsprobe-src")
    (src / "pyvirt_fsprobe").mkdir()
    (src / "pyvirt_fsprobe" / "__init__.py").write_text("")
    (src / "pyvirt_fsprobe" / "backend.py").write_text(BACKEND.replace("{future}", FUTURE))
    (src / "pyproject.toml").write_text(PYPROJECT)
    target = tmp_path_factory.mktemp("pyvirt-fsprobe-site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(target),
         str(src)],
        check=True, timeout=300,
    )  # fmt: skip
    yield target


def _run(site: Path, code: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          timeout=120, check=False)  # fmt: skip


def test_a_backend_with_only_the_required_methods_serves_and_refuses_the_rest(site: Path, tmp_path: Path) -> None:
    code = f"""
        import pyvirt
        with pyvirt.open("storage:///embed?root={tmp_path / "embed"}") as conn:
            pool = conn.create_storage_pool(
                "<pool type='fs'><name>p</name><source><device path='/dev/null'/></source>"
                "<target><path>{tmp_path / "mnt"}</path></target></pool>", 1)  # WITH_BUILD: no build(), skipped
            print(pool.is_active(), pool.info().capacity)
            print(sorted(v.name for v in pool.list_all_volumes()))
            print(pool.lookup_volume_by_name("b.img").path())
            for what, call in (
                ("create", lambda: pool.create_volume("<volume><name>c.img</name><capacity>1</capacity></volume>")),
                ("delete", lambda: pool.lookup_volume_by_name("a.img").delete()),
                ("resize", lambda: pool.lookup_volume_by_name("a.img").resize(4096)),
            ):
                try:
                    call()
                except pyvirt.Error as e:
                    print(what, int(e.code), int(e.domain), e.message)
            import re
            caps = conn.get_storage_pool_capabilities()
            print(re.findall(r"<pool type='([^']+)' supported='yes'>", caps))
    """
    proc = _run(site, code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"True {1 << 30}",
        "['a.img', 'b.img']",
        f"{tmp_path / 'mnt'}/b.img",
        "create 3 18 this function is not supported by the connection driver: "
        "storage pool does not support volume creation",
        "delete 3 18 this function is not supported by the connection driver: storage pool does not support vol deletion",
        "resize 3 18 this function is not supported by the connection driver: "
        "storage pool does not support changing of volume capacity",
        # pool-capabilities says yes for the backends that load: this one's fs (its netfs is of a future contract)
        "['dir', 'fs']",
    ]
    assert not (tmp_path / "mnt").exists()  # nothing built it


def test_a_backend_of_another_storage_backend_contract_is_refused_naming_both(site: Path, tmp_path: Path) -> None:
    code = f"""
        import pyvirt
        with pyvirt.open("storage:///embed?root={tmp_path / "embed"}") as conn:
            try:
                conn.define_storage_pool("<pool type='netfs'><name>n</name><source><host name='h'/>"
                                         "<dir path='/x'/></source><target><path>/mnt/n</path></target></pool>")
            except pyvirt.Error as e:
                print(int(e.code), e.message)
    """
    proc = _run(site, code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "1 internal error: missing backend for pool type 'netfs': driver 'netfs' from pyvirt-fsprobe 0.0.1 "
        f"implements pyvirt storage-backend contract {FUTURE}, "
        f"but this pyvirt provides storage-backend contract {STORAGE_BACKEND_CONTRACT_VERSION}\n"
    )


def test_a_backend_of_contract_1_0_builds_nothing_and_cannot_delete(site: Path, tmp_path: Path) -> None:
    """Storage-backend contract 1.1 added ``delete``; a 1.0 backend still loads, and its pools answer as libvirt's
    pools whose backend leaves buildPool and deletePool NULL: building succeeds doing nothing, deleting is refused."""
    code = f"""
        import pyvirt
        with pyvirt.open("storage:///embed?root={tmp_path / "embed"}") as conn:
            pool = conn.define_storage_pool(
                "<pool type='fs'><name>p</name><source><device path='/dev/null'/></source>"
                "<target><path>{tmp_path / "mnt"}</path></target></pool>")
            pool.build()
            print("built", pool.is_active())
            try:
                pool.delete()
            except pyvirt.Error as e:
                print("delete", int(e.code), int(e.domain), e.message)
    """
    proc = _run(site, code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "built False",
        "delete 3 18 this function is not supported by the connection driver: pool does not support pool deletion",
    ]
    assert not (tmp_path / "mnt").exists()
