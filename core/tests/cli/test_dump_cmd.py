"""dump beside Debian's virsh on test:///default: messages, option checks, the file written, CRASH.

libvirt's test driver (testDomainCoreDumpWithFormat) writes its 15-byte test
magic, takes only VIR_DUMP_CRASH, refuses a format other than raw after
writing the file, and with CRASH stops the guest (shut off, crashed). The
public API refuses CRASH with LIVE or RESET, LIVE with RESET and an unknown
format before any driver, and makes the path absolute where the caller runs.

virsh 9.0's dump hangs now and then on its own (its job watcher can miss the
worker's end, a race in virshWatchJob): its runs here are retried when one
does not end within a few seconds.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from virsh_compare import PYVIRSH, SKIP_WITHOUT_VIRSH, VIRSH, try_timeouts

import pyvirt
from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.errors import Error, ErrorCode, ErrorDomain

_MAGIC = b"TestGuestMagic\0"


def _run(argv: list[str], line: str, cwd: Path, uri: str = "test:///default") -> tuple[str, str, int]:
    for timeout in try_timeouts(argv[0]):  # virsh's own hang (see the module's docstring)
        try:
            done = subprocess.run([*argv, "-c", uri, line], capture_output=True, text=True, timeout=timeout, cwd=cwd,
                                  env=dict(os.environ, LC_ALL="C"), check=False)  # fmt: skip
        except subprocess.TimeoutExpired:
            continue
        return done.stdout, done.stderr, done.returncode
    raise AssertionError(f"{argv[0]} never ended: {line}")


def _both(line: str, tmp_path: Path) -> tuple[tuple[str, str, int], dict[str, bytes]]:
    """pyvirsh's and virsh's runs of ``line`` in two fresh directories must print and write the same."""
    assert VIRSH is not None
    seen = []
    for name, argv in (("virsh", [VIRSH]), ("pyvirsh", PYVIRSH)):
        where = tmp_path / name
        where.mkdir()
        out, err, status = _run(argv, line, where)
        result = (out.replace(str(where), "DIR"), err.replace(str(where), "DIR"), status)  # absolute paths named
        files = {str(p.relative_to(where)): p.read_bytes() for p in sorted(where.rglob("*")) if p.is_file()}
        modes = {str(p.relative_to(where)): p.stat().st_mode for p in where.rglob("*") if p.is_file()}
        seen.append((result, files, modes))
    assert seen[1] == seen[0]
    return seen[0][0], seen[0][1]


@pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)
@pytest.mark.parametrize(
    "line",
    [
        "dump test core; list --all",
        "dump 1 sub/../core",  # folded as g_canonicalize_filename folds it: sub need not exist
        "dump test core --verbose",
        "dump test core --live",
        "dump test core --bypass-cache",
        "dump test core --reset",
        "dump test core --memory-only",
        "dump test core --memory-only --format kdump-zlib",
        "dump test core --memory-only --format ''",
        "dump test core --memory-only --format bogus",
        "dump test core --format elf",
        "dump test core --crash --live",
        "dump test core --crash --reset",
        "dump test core --live --reset",
        "destroy test; dump test core",
        "dump nope core",
        "dump test missing/core",
        "dump test",
        "help dump",
    ],
)
def test_same_words_and_file_as_virsh(line: str, tmp_path: Path) -> None:
    (out, _err, status), files = _both(line, tmp_path)
    if status == 0 and "help" not in line:
        assert "dumped to" in out and files == {"core": _MAGIC}


def test_crash_stops_the_guest_as_libvirt(tmp_path: Path) -> None:
    """virsh hangs after --crash every time (its watcher asks a domain that stopped): libvirt-python is the
    reference for the state the guest is left in; pyvirsh prints virsh's success line."""
    script = (
        "import libvirt, sys; c = libvirt.open('test:///default'); d = c.lookupByName('test');"
        "d.coreDump(sys.argv[1], libvirt.VIR_DUMP_CRASH); print(d.state(), d.isActive(), d.ID())"
    )
    reference = subprocess.run(["/usr/bin/python3", "-c", script, str(tmp_path / "ref")], capture_output=True,
                               text=True, timeout=60, check=False)  # fmt: skip
    if reference.returncode != 0 and "No module named 'libvirt'" in reference.stderr:
        pytest.skip("python3-libvirt is the reference")
    assert reference.stdout == "[5, 3] 0 -1\n"  # shut off, crashed
    events: list[tuple[int, int]] = []
    with pyvirt.open("test:///default") as conn:
        dom = conn.lookup_domain_by_name("test")
        conn.register_domain_event(lambda ev: events.append((int(ev.event), int(ev.detail))))
        dom.core_dump(str(tmp_path / "core"), 1)
        assert [int(v) for v in dom.state()] == [5, 3] and not dom.is_active() and dom.id == -1
    assert (tmp_path / "core").read_bytes() == (tmp_path / "ref").read_bytes() == _MAGIC
    assert events == [(5, 2)]  # STOPPED, CRASHED
    done = subprocess.run([*PYVIRSH, "-c", "test:///default", f"dump test {tmp_path / 'c2'} --crash; domstate test"],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert (done.stdout, done.stderr, done.returncode) == (
        f"\nDomain 'test' dumped to {tmp_path / 'c2'}\n\nshut off\n\n",
        "",
        0,
    )


@pytest.mark.parametrize(
    ("dumpformat", "flags", "message"),
    [
        (5, 0, "dumpformat '5' is not supported"),
        (0, 1 | 2, "Flags 'VIR_DUMP_CRASH' and 'VIR_DUMP_LIVE' are mutually exclusive"),
        (0, 1 | 8, "Flags 'VIR_DUMP_CRASH' and 'VIR_DUMP_RESET' are mutually exclusive"),
        (0, 2 | 8, "Flags 'VIR_DUMP_LIVE' and 'VIR_DUMP_RESET' are mutually exclusive"),
    ],
)
def test_public_api_checks_before_the_driver(dumpformat: int, flags: int, message: str, tmp_path: Path) -> None:
    with pyvirt.open("test:///default") as conn, pytest.raises(Error) as info:
        conn.lookup_domain_by_name("test").core_dump_with_format(str(tmp_path / "core"), dumpformat, flags)
    assert info.value.code == ErrorCode.INVALID_ARG and str(info.value.message) == message
    assert info.value.domain == ErrorDomain.DOMAIN  # libvirt-domain.c's VIR_FROM_THIS
    assert not (tmp_path / "core").exists()


def test_non_raw_format_refused_after_the_file_is_written(tmp_path: Path) -> None:
    """What testDomainCoreDumpWithFormat does when a caller passes a kdump format without MEMORY_ONLY."""
    with pyvirt.open("test:///default") as conn, pytest.raises(Error) as info:
        conn.lookup_domain_by_name("test").core_dump_with_format(str(tmp_path / "core"), 1, 0)
    assert info.value.code == ErrorCode.OPERATION_UNSUPPORTED and info.value.domain == ErrorDomain.TEST
    assert info.value.message == "Operation not supported: kdump-compressed format is not supported here"
    assert (tmp_path / "core").read_bytes() == _MAGIC


def test_relative_path_is_made_absolute_by_the_caller(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pyvirt.open("test:///default") as conn:
        conn.lookup_domain_by_name("test").core_dump("a/../core")
    assert (tmp_path / "core").read_bytes() == _MAGIC


@pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)
def test_virsh_through_pyvirtd(tmp_path: Path) -> None:
    """The daemon's dispatch of both procedures: virsh sends DOMAIN_CORE_DUMP for the raw format and
    DOMAIN_CORE_DUMP_WITH_FORMAT for the others; its client makes the path absolute in its own directory."""
    assert VIRSH is not None
    line = "dump test core; dump test core2 --memory-only --format kdump-lzo; dump test core3 --live"
    (tmp_path / "direct").mkdir()
    expected = _run([VIRSH], line, tmp_path / "direct")
    assert expected[0].count("dumped to") == 1
    with PrivateDaemon(tmp_path / "d") as daemon:
        for argv, name in (([VIRSH], "virsh"), (PYVIRSH, "pyvirsh")):
            (tmp_path / name).mkdir()
            assert _run(argv, line, tmp_path / name, uri=daemon.uri()) == expected
            assert (tmp_path / name / "core").read_bytes() == _MAGIC
            assert not (tmp_path / name / "core2").exists()  # MEMORY_ONLY refused before the file is opened
