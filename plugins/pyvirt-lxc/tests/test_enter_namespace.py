"""lxc-enter-namespace: virDomainLxcOpenNamespace hands out the container init's namespaces; the client runs the
command inside them (virsh 9.0's cmdLxcEnterNamespace, libvirt-lxc.c).

One container per module, driven by one pyvirtd: pyvirt's own client (the
public API and pyvirsh) and Debian's virsh reach it over libvirt's RPC, where
the descriptors come in the reply (libvirt-lxc's program 0x68000,
REPLY_WITH_FDS). libvirtd's own LXC driver cannot start containers on this
host's cgroup layout, so nothing here is compared with libvirtd; the expected
output is what the container itself shows (its hostname, its namespaces'
inodes, its pid 1).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyvirt_lxc.namespaces import NAMESPACES

import pyvirt
from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.testing.sources import require

VIRSH = shutil.which("virsh")
PYVIRSH = [sys.executable, "-m", "pyvirt.cli.main"]
APPLETS = ("sh", "sleep", "cat", "ls", "hostname", "true")
INIT = """\
hostname inside-ct
echo up > /out/ready
while true; do sleep 1 & wait $!; done
"""


def _rootfs(where: Path) -> Path:
    for d in ("bin", "sbin", "proc", "sys", "dev", "etc", "tmp", "out"):
        (where / d).mkdir(parents=True, exist_ok=True)
    shutil.copy(require("guest-linux") / "busybox", where / "bin" / "busybox")
    (where / "bin" / "busybox").chmod(0o755)
    for applet in APPLETS:
        (where / "bin" / applet).symlink_to("busybox")
    (where / "sbin" / "init").write_text("#!/bin/sh\n" + textwrap.dedent(INIT))
    (where / "sbin" / "init").chmod(0o755)
    return where


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateDaemon]:
    if os.geteuid() != 0:
        pytest.skip("containers need root (namespaces, cgroups, mounts)")
    base = tmp_path_factory.mktemp("enterns")
    rootfs = _rootfs(base / "rootfs")
    xml = f"""<domain type='lxc'><name>ct</name><memory unit='MiB'>64</memory>
<os><type>exe</type><init>/sbin/init</init></os><devices>
<filesystem type='mount'><source dir='{rootfs}'/><target dir='/'/></filesystem><console type='pty'/></devices></domain>"""
    with PrivateDaemon(base / "root") as d, pyvirt.open(d.uri("lxc:///system")) as conn:
        conn.define_domain(xml).create()
        conn.define_domain(xml.replace("<name>ct<", "<name>off<"))
        deadline = time.monotonic() + 20
        while not (rootfs / "out" / "ready").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        try:
            yield d
        finally:
            conn.lookup_domain_by_name("ct").destroy()


def _run(tool: list[str], uri: str, *args: str) -> tuple[str, str, int]:
    p = subprocess.run([*tool, "-c", uri, *args], capture_output=True, text=True, timeout=60, check=False,
                       env=dict(os.environ, LC_ALL="C"), stdin=subprocess.DEVNULL)  # fmt: skip
    return p.stdout, p.stderr, p.returncode


def test_open_namespace_gives_the_inits_namespaces_in_libvirts_order(daemon: PrivateDaemon) -> None:
    with pyvirt.open(daemon.uri("lxc:///system")) as conn:
        dom = conn.lookup_domain_by_name("ct")
        init = dom.id  # the controller's pid (libvirt's id); its child in the container is the init
        fds = dom.lxc_open_namespace()
        try:
            got = [os.fstat(fd).st_ino for fd in fds]
        finally:
            for fd in fds:
                os.close(fd)
        children = Path(f"/proc/{init}/task/{init}/children").read_text().split()
        inits = [p for p in children if os.stat(f"/proc/{p}/ns/pid").st_ino != os.stat("/proc/self/ns/pid").st_ino]
        assert inits
        assert got == [os.stat(f"/proc/{inits[0]}/ns/{ns}").st_ino for ns in NAMESPACES]
        with pytest.raises(pyvirt.OperationInvalidError, match="domain is not running"):
            conn.lookup_domain_by_name("off").lxc_open_namespace()
        with pytest.raises(pyvirt.InvalidArgumentError, match="unsupported flags"):
            dom.lxc_open_namespace(1)
    denied = "read only access prevents virDomainLxcOpenNamespace"
    with pyvirt.open(daemon.uri("lxc:///system", read_only=True)) as ro, pytest.raises(pyvirt.Error, match=denied):
        ro.lookup_domain_by_name("ct").lxc_open_namespace()
    assert not daemon.tracebacks()


@pytest.mark.parametrize("tool", ["pyvirsh", "virsh"])
def test_a_command_runs_inside_the_container(daemon: PrivateDaemon, tool: str) -> None:
    """Its hostname, its pid namespace (pid 1 is the container's init) and its root file system."""
    if tool == "virsh" and VIRSH is None:
        pytest.skip("Debian's virsh (libvirt-clients) is the other client")
    argv = PYVIRSH if tool == "pyvirsh" else [VIRSH or "virsh"]
    uri = daemon.uri("lxc:///system")
    line = "lxc-enter-namespace ct --noseclabel -- /bin/sh -c 'hostname; cat /proc/1/comm; ls /out'"
    # (virsh ends a command's output with an empty line, as after any successful command)
    assert _run(argv, uri, line) == ("inside-ct\ninit\nready\n\n", "", 0)
    out, err, rc = _run(argv, uri, "lxc-enter-namespace ct -- /bin/cat /proc/sys/kernel/hostname")  # label: none
    assert (out, err, rc) == ("inside-ct\n\n", "", 0)


def test_failures_read_as_virshs(daemon: PrivateDaemon) -> None:
    if VIRSH is None:
        pytest.skip("Debian's virsh (libvirt-clients) is the reference")
    uri = daemon.uri("lxc:///system")
    for line in (
        "lxc-enter-namespace off -- /bin/true",  # not running
        "lxc-enter-namespace nosuch -- /bin/true",
        "lxc-enter-namespace ct",  # the command is required
        "lxc-enter-namespace ct -- /bin/sh -c 'exit 3'",
        "lxc-enter-namespace ct -- /nonexistent",
        "lxc-enter-namespace ct -- hostname",  # execv: no PATH search
    ):
        mine, theirs = _run(PYVIRSH, uri, line), _run([VIRSH], uri, line)
        pid = re.compile(r"Child process \(\d+\)")
        assert (mine[0], pid.sub("Child process (N)", mine[1]), mine[2]) == (
            theirs[0], pid.sub("Child process (N)", theirs[1]), theirs[2]
        ), line  # fmt: skip
