"""Descriptors handed to a container at start (virDomainCreateWithFiles): the init's fds 3, 4, ...

libvirt's LXC driver renumbers the caller's descriptors, in order and without
gaps, from fd 3 of the container's init, and closes every other descriptor
before the exec (lxcContainerSetupFDs). The caller keeps its own: nothing of
them may stay open in the driver's process, or in pyvirtd's once the call is
answered. The init of these containers writes what it sees to ``/out``.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import pyvirt
from pyvirt.daemon.instance import PrivateDaemon

# The init reports which of its descriptors 3..9 are open and where they lead, copies what fd 3 holds to
# /out/from3 and writes to fd 4; then it waits to be stopped.
REPORT = """\
for n in 3 4 5 6 7 8 9; do
  if [ -e /proc/$$/fd/$n ]; then echo "$n $(readlink /proc/$$/fd/$n)"; fi
done > /out/fds.tmp
cat <&3 > /out/from3
echo "written by the init" >&4
mv /out/fds.tmp /out/fds
while true; do sleep 1 & wait $!; done
"""


def container_xml(name: str, rootfs: Path) -> str:
    return f"""<domain type='lxc'><name>{name}</name><memory unit='MiB'>64</memory>
<os><type>exe</type><init>/sbin/init</init></os><devices>
<filesystem type='mount'><source dir='{rootfs}'/><target dir='/'/></filesystem><console type='pty'/></devices></domain>"""


def wait_for(path: Path, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"the container's init never wrote {path}")
        time.sleep(0.02)
    return path.read_text()


def open_fds(pid: int | str = "self") -> set[str]:
    return set(os.listdir(f"/proc/{pid}/fd"))


def holders(targets: set[str], pid: int | str = "self") -> list[str]:
    """The descriptors of ``pid`` that lead to one of ``targets`` (paths, ``pipe:[inode]``)."""
    found = []
    for fd in open_fds(pid):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") in targets:
                found.append(fd)
        except OSError:
            continue
    return sorted(found, key=int)


def test_descriptors_become_the_inits_3_and_4_in_order(
    conn: pyvirt.Connection, make_rootfs: Callable[..., Path], tmp_path: Path
) -> None:
    rootfs = make_rootfs(REPORT)
    data = tmp_path / "data"
    data.write_text("from the host's file\n")
    dom = conn.define_domain(container_xml("passfd", rootfs))
    before = open_fds()
    read_end, write_end = os.pipe()
    with data.open() as src:
        try:
            dom.create_with_files([src.fileno(), write_end])
        finally:
            os.close(write_end)
        # the caller holds what it passed, and the driver (in this process) no copy of it
        pipe = f"pipe:[{os.fstat(read_end).st_ino}]"
        assert holders({str(data), pipe}) == sorted([str(src.fileno()), str(read_end)], key=int)
    try:
        fds = wait_for(rootfs / "out" / "fds").splitlines()
        assert fds == [f"3 {data}", f"4 {pipe}"], "only 3 and 4, in the order given"
        assert (rootfs / "out" / "from3").read_text() == "from the host's file\n"
        assert os.read(read_end, 100) == b"written by the init\n"
        dom.destroy()
        # every writer of the pipe is gone: the container's init had the last one
        assert os.read(read_end, 100) == b""
    finally:
        os.close(read_end)
        if dom.is_active():
            dom.destroy()
    assert open_fds() == before


def test_same_descriptor_twice_and_a_transient_container(
    conn: pyvirt.Connection, make_rootfs: Callable[..., Path], tmp_path: Path
) -> None:
    """libvirt's renumbering copes with one descriptor given twice (and with one already at its number)."""
    rootfs = make_rootfs(REPORT)
    data = tmp_path / "data"
    data.write_text("twice\n")
    before = open_fds()
    with data.open() as src:
        dom = conn.create_xml_with_files(container_xml("passfd2", rootfs), [src.fileno(), src.fileno()])
    try:
        fds = wait_for(rootfs / "out" / "fds").splitlines()
        assert fds == [f"3 {data}", f"4 {data}"]
        assert (rootfs / "out" / "from3").read_text() == "twice\n"
    finally:
        dom.destroy()
    assert open_fds() == before


def test_a_bad_descriptor_fails_the_start_and_leaves_nothing(
    conn: pyvirt.Connection, make_rootfs: Callable[..., Path]
) -> None:
    rootfs = make_rootfs(REPORT)
    dom = conn.define_domain(container_xml("passfd3", rootfs))
    before = open_fds()
    unused = 4000  # far above anything the start itself opens
    assert str(unused) not in before
    with pytest.raises(pyvirt.Error) as err:
        dom.create_with_files([unused])
    assert err.value.code == pyvirt.ErrorCode.SYSTEM_ERROR
    assert not dom.is_active()
    assert open_fds() == before


def test_virsh_start_pass_fds_through_pyvirtd(lxc_root: Path, make_rootfs: Callable[..., Path], tmp_path: Path) -> None:
    """Debian's virsh sends the descriptors over libvirt's RPC (CALL_WITH_FDS, SCM_RIGHTS); pyvirtd hands
    them to the container and keeps none of them."""
    rootfs = make_rootfs(REPORT)
    xml = tmp_path / "c.xml"
    xml.write_text(container_xml("viafd", rootfs))
    data = tmp_path / "data"
    data.write_text("through the daemon\n")
    out = tmp_path / "from-init"
    with PrivateDaemon(lxc_root) as daemon:
        uri = daemon.uri("lxc:///system")
        assert daemon.proc is not None
        daemon_pid = daemon.proc.pid

        def virsh(line: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                ["sh", "-c", f"virsh -c '{uri}' \"$0\" 3<'{data}' 4>'{out}'", line],
                capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip

        assert virsh(f"define {xml}").returncode == 0, daemon.log()
        assert virsh("list").returncode == 0  # the daemon's own descriptors settle (driver loaded)
        daemon_fds = open_fds(daemon_pid)
        run = virsh("start viafd --pass-fds 3,4")
        assert (run.returncode, run.stdout, run.stderr) == (0, "Domain 'viafd' started\n\n", ""), daemon.log()
        fds = wait_for(rootfs / "out" / "fds").splitlines()
        assert fds == [f"3 {data}", f"4 {out}"]
        assert (rootfs / "out" / "from3").read_text() == "through the daemon\n"
        assert out.read_text() == "written by the init\n"
        assert holders({str(data), str(out)}, daemon_pid) == [], "pyvirtd kept a descriptor of the call"
        # a start that fails in the driver: the descriptors it brought are closed all the same
        bad = tmp_path / "bad.xml"
        bad.write_text(container_xml("viafd-bad", rootfs).replace("/sbin/init", "/no/such/init"))
        assert virsh(f"define {bad}").returncode == 0
        run = virsh("start viafd-bad --pass-fds 3,4")
        assert run.returncode == 1 and "cannot find init path '/no/such/init'" in run.stderr, run.stderr
        assert holders({str(data), str(out)}, daemon_pid) == []
        assert virsh("destroy viafd").returncode == 0
        assert open_fds(daemon_pid) == daemon_fds  # what the running container held went with it
