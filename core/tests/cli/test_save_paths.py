"""save and restore with a relative file name, beside Debian's virsh 9.0: the name means the caller's directory.

libvirt's public virDomainSave(Flags) and virDomainRestore(Flags) make the
path absolute (g_canonicalize_filename) before any driver sees it, so the
driver's messages name the absolute file, ``sub/../f`` needs no ``sub``, and
through a daemon the file lands where the client runs, not where the daemon
runs. virsh's save on test:/// may hang on its own (virsh_compare's
try_timeouts): its runs are retried.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from virsh_compare import PYVIRSH, SKIP_WITHOUT_VIRSH, VIRSH, try_timeouts

import pyvirt
from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.errors import Error, ErrorCode


def _run(argv: list[str], line: str, cwd: Path, uri: str = "test:///default") -> tuple[str, str, int]:
    for timeout in try_timeouts(argv[0]):
        try:
            done = subprocess.run([*argv, "-c", uri, line], capture_output=True, text=True, timeout=timeout, cwd=cwd,
                                  env=dict(os.environ, LC_ALL="C"), check=False)  # fmt: skip
        except subprocess.TimeoutExpired:
            continue
        return done.stdout.replace(str(cwd), "DIR"), done.stderr.replace(str(cwd), "DIR"), done.returncode
    raise AssertionError(f"{argv[0]} never ended: {line}")


def _files(where: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(where)): (p.read_bytes(), p.stat().st_mode) for p in where.rglob("*") if p.is_file()}


@pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)
@pytest.mark.parametrize(
    "line",
    [
        "restore nosuch.img",
        "restore sub/../nosuch.img",
        "restore ./nosuch.img --paused",
        "save test sub/../saved.img; list --all",
        "save test saved.img; restore ./saved.img; list --all",
        "save test missing/saved.img",
    ],
)
def test_same_words_and_file_as_virsh(line: str, tmp_path: Path) -> None:
    assert VIRSH is not None
    seen = []
    for name, argv in (("virsh", [VIRSH]), ("pyvirsh", PYVIRSH)):
        (tmp_path / name).mkdir()
        seen.append((_run(argv, line, tmp_path / name), _files(tmp_path / name)))
    assert seen[1] == seen[0]


def test_library_call_means_the_callers_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pyvirt.open("test:///default") as conn:
        conn.lookup_domain_by_name("test").save("sub/../saved.img")
        assert (tmp_path / "saved.img").is_file()
        with pytest.raises(Error) as info:
            conn.restore_domain("nosuch.img")
        assert info.value.code == ErrorCode.SYSTEM_ERROR  # testDomainRestoreFlags: virReportSystemError
        assert f"'{tmp_path}/nosuch.img'" in str(info.value)
        conn.restore_domain("./saved.img")
        assert conn.lookup_domain_by_name("test").is_active()


@pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)
def test_through_pyvirtd_the_file_is_the_clients(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The daemon runs elsewhere: a relative name sent as typed would land in its directory, not the client's."""
    assert VIRSH is not None
    line = "save test saved.img; restore sub/../saved.img; list --all; restore gone.img"
    (tmp_path / "direct").mkdir()
    expected = _run([VIRSH], line, tmp_path / "direct")
    assert "restored from" in expected[0] and "cannot read domain image 'DIR/gone.img'" in expected[1]
    (tmp_path / "daemon-cwd").mkdir()
    monkeypatch.chdir(tmp_path / "daemon-cwd")  # the daemon's working directory
    with PrivateDaemon(tmp_path / "d") as daemon:
        for argv, name in (([VIRSH], "virsh"), (PYVIRSH, "pyvirsh")):
            (tmp_path / name).mkdir()
            assert _run(argv, line, tmp_path / name, uri=daemon.uri()) == expected
            assert (tmp_path / name / "saved.img").is_file()
    assert not list((tmp_path / "daemon-cwd").iterdir())
