"""vol-upload / vol-download through pyvirtd: libvirt's write and read streams over the wire.

Debian's virsh and python3-libvirt (clients nobody here wrote) and pyvirsh
through pyvirt's remote driver each send a few MiB of random bytes into a dir
pool's volume of a private pyvirtd and read them back, byte for byte; the
volume file itself is the oracle.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyvirt.daemon.instance import PrivateDaemon

pytestmark = [
    pytest.mark.skipif(shutil.which("virsh") is None, reason="Debian's virsh (libvirt-clients) is needed"),
    # the daemon serves the volumes through the storage driver, not installed when the core is tested alone
    pytest.mark.skipif(importlib.util.find_spec("pyvirt_storage") is None, reason="needs pyvirt-storage installed"),
]

MIB = 1 << 20
URI = "qemu:///system"
PYVIRSH = [sys.executable, "-m", "pyvirt.cli.main"]


def _run(tool: list[str], uri: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*tool, "-c", uri, *args], capture_output=True, text=True, timeout=120, check=False,
                          env=dict(os.environ, LC_ALL="C"))  # fmt: skip


@pytest.fixture(scope="module")
def pool_dir(pyvirtd: PrivateDaemon, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    images = tmp_path_factory.mktemp("images")
    run = _run(["virsh"], pyvirtd.uri(URI), "pool-create-as", "streams", "dir", "--target", str(images))
    assert run.returncode == 0, run.stderr
    yield images
    _run(["virsh"], pyvirtd.uri(URI), "pool-destroy", "streams")


@pytest.mark.parametrize("tool", [["virsh"], PYVIRSH], ids=["virsh", "pyvirsh"])
def test_upload_and_download_round_trip(pyvirtd: PrivateDaemon, pool_dir: Path, tmp_path: Path,
                                        tool: list[str]) -> None:  # fmt: skip
    name = "virsh.raw" if tool[0] == "virsh" else "pyvirsh.raw"
    uri = pyvirtd.uri(URI)
    run = _run(tool, uri, "vol-create-as", "streams", name, "4M")
    assert run.returncode == 0, run.stderr
    data = os.urandom(3 * MIB + 4321)
    (tmp_path / "in").write_bytes(data)
    run = _run(tool, uri, "vol-upload", name, str(tmp_path / "in"), "--pool", "streams")
    assert (run.returncode, run.stdout.strip(), run.stderr) == (0, "", "")  # virsh prints nothing but its newline
    assert (pool_dir / name).read_bytes() == data + bytes(4 * MIB - len(data))  # in place, not truncated
    run = _run(tool, uri, "vol-download", name, str(tmp_path / "out"), "--pool", "streams")
    assert (run.returncode, run.stdout.strip(), run.stderr) == (0, "", "")  # virsh prints nothing but its newline
    assert (tmp_path / "out").read_bytes() == (pool_dir / name).read_bytes()
    # a range: 1000 bytes at 1 MiB, then the 3000 bytes around them
    (tmp_path / "patch").write_bytes(b"p" * 1000)
    run = _run(tool, uri, "vol-upload", name, str(tmp_path / "patch"), "--pool", "streams", "--offset", str(MIB))
    assert run.returncode == 0, run.stderr
    patched = data[:MIB] + b"p" * 1000 + data[MIB + 1000 :]
    assert (pool_dir / name).read_bytes()[: len(data)] == patched  # stored before virsh's finish returned
    run = _run(tool, uri, "vol-download", name, str(tmp_path / "part"), "--pool", "streams",
               "--offset", str(MIB - 1000), "--length", "3000")  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "part").read_bytes() == patched[MIB - 1000 : MIB + 2000]


def test_errors_match_between_virsh_and_pyvirsh(pyvirtd: PrivateDaemon, pool_dir: Path, tmp_path: Path) -> None:
    uri = pyvirtd.uri(URI)
    assert _run(["virsh"], uri, "vol-create-as", "streams", "errors.raw", "1M").returncode == 0
    (tmp_path / "in").write_bytes(b"e" * 5000)
    seen = []
    for tool in (["virsh"], PYVIRSH):
        runs = [
            _run(tool, uri, "vol-upload", "errors.raw", str(tmp_path / "in"), "--pool", "streams", "--sparse"),
            _run(tool, uri, "vol-download", "errors.raw", str(tmp_path / "gone"), "--pool", "streams", "--sparse"),
            _run(tool, uri, "vol-upload", "errors.raw", str(tmp_path / "in"), "--pool", "streams", "--length", "100"),
        ]
        seen.append([(r.returncode, r.stderr) for r in runs])
        assert not (tmp_path / "gone").exists()  # the file a failed download created is removed
    assert seen[1] == seen[0]
    assert "error: unsupported flags (0x1) in function storageVolUpload" in seen[0][0][1]
    assert "error: unsupported flags (0x1) in function storageVolDownload" in seen[0][1][1]
    assert "cannot write to stream: No space left on device" in seen[0][2][1]
    assert (pool_dir / "errors.raw").read_bytes()[:101] == b"e" * 100 + b"\0"  # up to --length, no further


def test_read_only_socket_refuses_both(pyvirtd: PrivateDaemon, pool_dir: Path, tmp_path: Path) -> None:
    """virsh without -r on the read-only socket: the daemon itself refuses, with libvirt's words."""
    assert _run(["virsh"], pyvirtd.uri(URI), "vol-create-as", "streams", "ro.raw", "1M").returncode == 0
    (tmp_path / "in").write_bytes(b"r" * 10)
    ro = pyvirtd.uri(URI, read_only=True)
    up = _run(["virsh"], ro, "vol-upload", "ro.raw", str(tmp_path / "in"), "--pool", "streams")
    down = _run(["virsh"], ro, "vol-download", "ro.raw", str(tmp_path / "out"), "--pool", "streams")
    assert "operation forbidden: read only access prevents virStorageVolUpload" in up.stderr, up.stderr
    assert "operation forbidden: read only access prevents virStorageVolDownload" in down.stderr, down.stderr
    assert (pool_dir / "ro.raw").read_bytes() == bytes(MIB)


LIBVIRT_PYTHON = """\
import sys, libvirt
conn = libvirt.open(sys.argv[1])
vol = conn.storagePoolLookupByName("streams").storageVolLookupByName("libvirt-python.raw")
data = sys.stdin.buffer.read()
stream = conn.newStream()
vol.upload(stream, 0, 0, 0)
stream.sendAll(lambda st, n, src: src.read(n), __import__("io").BytesIO(data))
stream.finish()
stream = conn.newStream()
vol.download(stream, 0, len(data), 0)
chunks = []
stream.recvAll(lambda st, d, out: out.append(d) or len(d), chunks)
stream.finish()
sys.stdout.buffer.write(b"".join(chunks))
"""


@pytest.mark.skipif(not os.path.exists("/usr/lib/python3/dist-packages/libvirt.py"), reason="needs python3-libvirt")
def test_libvirt_python_round_trips(pyvirtd: PrivateDaemon, pool_dir: Path, tmp_path: Path) -> None:
    assert _run(["virsh"], pyvirtd.uri(URI), "vol-create-as", "streams", "libvirt-python.raw", "4M").returncode == 0
    script = tmp_path / "streams.py"
    script.write_text(LIBVIRT_PYTHON)
    data = os.urandom(2 * MIB + 99)
    run = subprocess.run(["/usr/bin/python3", str(script), pyvirtd.uri(URI)], input=data, capture_output=True,
                         timeout=120, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    assert run.stdout == data
    assert (pool_dir / "libvirt-python.raw").read_bytes()[: len(data)] == data
