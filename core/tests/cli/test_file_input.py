"""Files named on pyvirsh's command line: read at most 10 MiB as virsh reads them, and bytes that are not UTF-8.

``pyvirsh define /dev/zero`` once grew to 14 GB; a 200 MB file took a second
and 430 MB. virsh refuses anything past 10 MiB at once ("Value too large for
defined data type"), whatever the file is, and so must pyvirsh: the checks
run against /dev/zero, a sparse file and a FIFO fed without end, each timed
and with the process's peak memory measured. A file that is not UTF-8 is a
parse error as virsh's is, and the rest of a ``;`` line still runs.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

VIRSH = shutil.which("virsh")
PYVIRSH = [sys.executable, "-m", "pyvirt.cli.main"]
LIMIT = 10 * 1024 * 1024
TOO_LARGE = "Value too large for defined data type"
DOMAIN = "<domain type='test'><name>caf\xe9</name><memory>1024</memory><os><type>hvm</type></os></domain>\n"


def _env() -> dict[str, str]:
    env = dict(os.environ, LC_ALL="C")
    env.pop("LIBVIRT_DEFAULT_URI", None)
    return env


def run_measured(tool: list[str], command: str, tmp: Path) -> tuple[str, str, int, float, int]:
    """stdout, stderr, exit status, wall seconds and peak RSS (KiB) of one run, reaped with wait4."""
    out_path, err_path = tmp / "stdout", tmp / "stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen([*tool, "-c", "test:///default", command], stdout=out, stderr=err, env=_env())
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return out_path.read_text(), err_path.read_text(), proc.returncode, wall, usage.ru_maxrss


def run(tool: list[str], command: str) -> tuple[str, str, int]:
    p = subprocess.run([*tool, "-c", "test:///default", command], capture_output=True, env=_env(), timeout=60,
                       check=False)  # fmt: skip
    return p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"), p.returncode


def _feed_fifo(path: str, total: int) -> threading.Thread:
    """A writer that offers ``total`` bytes and gives up quietly once the reader has gone."""

    def write() -> None:
        try:
            fd = os.open(path, os.O_WRONLY)
        except OSError:
            return
        try:
            chunk = b"\0" * 65536
            sent = 0
            while sent < total:
                sent += os.write(fd, chunk)
        except OSError as exc:
            assert exc.errno == errno.EPIPE
        finally:
            os.close(fd)

    t = threading.Thread(target=write, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize("kind", ["dev-zero", "sparse-200MB", "fifo"])
def test_endless_and_huge_files_are_refused_at_once(kind: str, tmp_path: Path) -> None:
    """Refused with virsh's error within 2 s, having held no more than the 10 MiB it may read."""
    if kind == "dev-zero":
        path = "/dev/zero"
    elif kind == "sparse-200MB":
        path = str(tmp_path / "sparse.xml")
        with open(path, "wb") as f:
            f.truncate(200 * 1024 * 1024)
    else:
        path = str(tmp_path / "fifo.xml")
        os.mkfifo(path)
        writer = _feed_fifo(path, 64 * 1024 * 1024)
    baseline = run_measured(PYVIRSH, "uri", tmp_path)
    out, err, status, wall, rss = run_measured(PYVIRSH, f"define {path}", tmp_path)
    if kind == "fifo":
        writer.join(10)
    assert (out.strip(), err, status) == ("", f"error: Failed to read file '{path}': {TOO_LARGE}\n", 1)
    assert wall < 2.0, f"took {wall:.2f} s"
    grown_kib = rss - baseline[4]
    assert grown_kib < 3 * LIMIT // 1024, f"peak RSS grew by {grown_kib} KiB reading {kind}"


def test_the_limit_is_virshs_ten_mebibytes(tmp_path: Path) -> None:
    """10 MiB of blanks reach the parser; one byte more is refused before parsing."""
    at_limit = tmp_path / "at-limit.xml"
    at_limit.write_bytes(b" " * LIMIT)
    over = tmp_path / "over.xml"
    over.write_bytes(b" " * (LIMIT + 1))
    _out, err, status = run(PYVIRSH, f"define {at_limit}")
    assert status == 1 and TOO_LARGE not in err and "(domain_definition)" in err
    _out, err, status = run(PYVIRSH, f"define {over}")
    assert (err, status) == (f"error: Failed to read file '{over}': {TOO_LARGE}\n", 1)


@pytest.mark.parametrize("declared", [False, True], ids=["no-declaration", "latin-1-declared"])
def test_a_latin1_file_is_a_parse_error_and_the_line_goes_on(declared: bool, tmp_path: Path) -> None:
    """libvirt parses as UTF-8 whatever the document declares; pyvirsh gives libvirt's error, not a traceback."""
    path = tmp_path / "latin1.xml"
    head = "<?xml version='1.0' encoding='ISO-8859-1'?>\n" if declared else ""
    path.write_bytes((head + DOMAIN).encode("latin-1"))
    out, err, status = run(PYVIRSH, f"define {path}; domname 1")
    line = 2 if declared else 1
    assert status == 0  # as virsh's: the status of the line's last command
    assert out == "\ntest\n\n"  # virsh too prints an empty line for the failed command
    assert err.startswith(f"error: Failed to define domain from {path}\nerror: (domain_definition):{line}: "
                          "Input is not proper UTF-8, indicate encoding !\nBytes: 0xE9 0x3C 0x2F 0x6E\n")  # fmt: skip
    assert "Traceback" not in err


@pytest.mark.skipif(VIRSH is None, reason="Debian's virsh (libvirt-clients) is needed as the reference")
@pytest.mark.parametrize(
    "case", ["dev-zero", "over-limit", "latin1", "latin1-declared", "network-latin1", "missing", "directory"]
)
def test_file_errors_read_as_virshs(case: str, tmp_path: Path) -> None:
    """Byte for byte what Debian's virsh 9.0 prints for the same files."""
    assert VIRSH is not None
    command = {"network-latin1": "net-define"}.get(case, "define")
    if case == "dev-zero":
        path = "/dev/zero"
    elif case == "missing":
        path = str(tmp_path / "missing.xml")
    elif case == "directory":
        path = str(tmp_path)
    else:
        path = str(tmp_path / f"{case}.xml")
        if case == "over-limit":
            data = b"<" * (LIMIT + 1)
        elif case == "network-latin1":
            data = "<network><name>n\xe9</name></network>".encode("latin-1")
        else:
            head = "<?xml version='1.0' encoding='ISO-8859-1'?>\n" if case == "latin1-declared" else ""
            data = (head + DOMAIN).encode("latin-1")
        Path(path).write_bytes(data)
    assert run(PYVIRSH, f"{command} {path}; list --all") == run([VIRSH], f"{command} {path}; list --all")


def test_an_endless_configuration_file_is_refused_at_once(tmp_path: Path) -> None:
    """pyvirt.conf is read as libvirt reads its configuration files: 1 MiB at most (virConfReadFile)."""
    env = dict(_env(), PYVIRT_CONFIG="/dev/zero")
    t0 = time.monotonic()
    p = subprocess.run([*PYVIRSH, "uri"], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert time.monotonic() - t0 < 2.0
    assert (p.returncode, p.stderr) == (
        1,
        f"error: failed to connect to the hypervisor\nerror: Failed to read file '/dev/zero': {TOO_LARGE}\n",
    )
