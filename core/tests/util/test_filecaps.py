"""File capabilities: decoding real xattrs and predicting what survives exec.

Each prediction is checked against the kernel: the binary really runs as an
unprivileged uid through Command and its /proc status is read.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyvirt.errors import ErrorCode, NotSupportedError
from pyvirt.util.caps import parse_capabilities, read_process_caps
from pyvirt.util.command import Command, CommandFailedError
from pyvirt.util.filecaps import (
    decode_file_caps,
    predict_exec_capabilities,
    read_file_caps,
    require_capabilities_after_exec,
)

pytestmark = pytest.mark.usefixtures("root_only")
NOBODY = 65534
RAWIO = parse_capabilities(["sys_rawio"])


@pytest.fixture
def emulator() -> Iterator[Path]:
    """A copy of /bin/sleep that an unprivileged uid can execute (stands in for QEMU)."""
    if not shutil.which("setcap"):
        pytest.skip("setcap (libcap2-bin) is not installed")
    d = tempfile.mkdtemp(prefix="pyvirt-fcaps-", dir="/var/tmp")
    os.chmod(d, 0o755)
    binary = Path(d) / "fake-qemu"
    shutil.copy2("/bin/sleep", binary)
    os.chmod(binary, 0o755)
    yield binary
    shutil.rmtree(d)


def setcap(spec: str, path: Path, *extra: str) -> None:
    subprocess.run(["setcap", *extra, spec, str(path)], check=True)


def run_as_nobody_with_rawio(binary: Path) -> frozenset[int] | None:
    """The child's effective set, or None when the kernel refuses the exec."""
    cmd = Command([str(binary), "30"]).set_uid(NOBODY).set_gid(NOBODY).set_groups([]).set_capabilities(["sys_rawio"])
    try:
        cmd.run_async()
    except CommandFailedError as exc:
        assert (exc.step, exc.child_errno) == ("exec", errno.EPERM)
        return None
    try:
        return read_process_caps(cmd.pid).effective  # type: ignore[arg-type]
    finally:
        cmd.abort()


def test_no_file_caps_ambient_carries_rawio(emulator: Path) -> None:
    assert read_file_caps(str(emulator)) is None
    predicted = predict_exec_capabilities(str(emulator), NOBODY, RAWIO, RAWIO, RAWIO)
    assert predicted == RAWIO == run_as_nobody_with_rawio(emulator)
    require_capabilities_after_exec(str(emulator), NOBODY, ["sys_rawio"], "disk 'sda' (rawio='yes')")


def test_file_caps_without_effective_bit_silently_lose_rawio(emulator: Path) -> None:
    setcap("cap_net_raw+p", emulator)
    fc = read_file_caps(str(emulator))
    assert fc is not None and fc.version == 2 and not fc.effective
    assert fc.permitted == parse_capabilities(["net_raw"])
    real = run_as_nobody_with_rawio(emulator)
    assert real is not None and not (real & RAWIO)  # the trap is real: it runs, without rawio
    assert predict_exec_capabilities(str(emulator), NOBODY, RAWIO, RAWIO, RAWIO) == real
    with pytest.raises(NotSupportedError) as e:
        require_capabilities_after_exec(str(emulator), NOBODY, ["sys_rawio"], "disk 'sda' (rawio='yes')")
    assert e.value.code == ErrorCode.CONFIG_UNSUPPORTED
    assert "disk 'sda' (rawio='yes') needs cap_sys_rawio" in e.value.message
    assert f"setcap cap_sys_rawio+ep {emulator}" in e.value.message
    assert f"setcap -r {emulator}" in e.value.message


def test_file_caps_with_effective_bit_make_the_exec_fail(emulator: Path) -> None:
    setcap("cap_net_raw+ep", emulator)
    assert run_as_nobody_with_rawio(emulator) is None  # EPERM from execve, as predicted
    assert predict_exec_capabilities(str(emulator), NOBODY, RAWIO, RAWIO, RAWIO) is None
    with pytest.raises(NotSupportedError) as e:
        require_capabilities_after_exec(str(emulator), NOBODY, ["sys_rawio"], "disk 'sda'")
    assert "refuse to exec" in e.value.message and "'cap_net_raw+ep'" in e.value.message


def test_file_caps_with_rawio_keep_it(emulator: Path) -> None:
    setcap("cap_sys_rawio+ep", emulator)
    predicted = predict_exec_capabilities(str(emulator), NOBODY, RAWIO, RAWIO, RAWIO)
    assert predicted == RAWIO == run_as_nobody_with_rawio(emulator)
    require_capabilities_after_exec(str(emulator), NOBODY, ["sys_rawio"], "disk 'sda'")


def test_root_runs_need_no_file_caps(emulator: Path) -> None:
    setcap("cap_net_raw+ep", emulator)
    require_capabilities_after_exec(str(emulator), 0, ["sys_rawio"], "disk 'sda'")


def test_v3_namespaced_file_caps_carry_a_rootid(emulator: Path) -> None:
    setcap("cap_sys_rawio+ep", emulator, "-n", "100000")
    fc = read_file_caps(str(emulator))
    assert fc is not None and fc.version == 3 and fc.rootid == 100000
    assert fc.permitted == RAWIO


def test_decoding_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        decode_file_caps(b"\x00\x00\x00\x09" + b"\0" * 16)
    with pytest.raises(ValueError):
        decode_file_caps(b"\x01")


def test_a_rawio_lun_disk_asks_for_cap_sys_rawio_and_the_check_explains_the_fix(emulator: Path) -> None:
    from pyvirt.conf.domain import parse_domain, required_capabilities

    xml = """<domain type='kvm'><name>g</name><memory>1024</memory><os><type>hvm</type></os><devices>
      <disk type='block' device='lun' rawio='yes'><source dev='/dev/sdb'/><target dev='sda' bus='scsi'/></disk>
    </devices></domain>"""
    wanted = required_capabilities(parse_domain(xml))
    assert wanted == {"sys_rawio"}
    assert required_capabilities(parse_domain(xml.replace(" rawio='yes'", ""))) == frozenset()
    setcap("cap_net_admin+p", emulator)
    with pytest.raises(NotSupportedError) as e:
        require_capabilities_after_exec(str(emulator), NOBODY, wanted, "disk 'sda' (device='lun' rawio='yes')")
    assert f"setcap cap_sys_rawio+ep {emulator}" in e.value.message
