"""A console client that stops reading must not make pyvirtd buffer the guest's output without bound.

A container prints to its console as fast as it can; a client (Debian's
python3-libvirt) opens the console stream and then never reads it. pyvirtd
must stop relaying (the output waits in the container's pty, as libvirt's
stream back-pressure leaves it in the guest) rather than queue everything in
its own memory; a client that resumes reading gets the stream again.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pyvirt.daemon.instance import PrivateDaemon

pytestmark = pytest.mark.skipif(
    not os.path.exists("/usr/lib/python3/dist-packages/libvirt.py"), reason="Debian's python3-libvirt is not installed"
)

CLIENT = textwrap.dedent(
    """
    import sys, time, libvirt
    conn = libvirt.open(sys.argv[1])
    dom = conn.createXML(open(sys.argv[2]).read(), 0)
    st = conn.newStream(0)
    dom.openConsole(None, st, 0)
    print("opened", flush=True)
    sys.stdin.readline()          # the test measures the daemon while this client reads nothing
    got = 0
    while got < 1 << 20:          # then it reads again: the relay must resume
        got += len(st.recv(65536))
    print("resumed", got, flush=True)
    st.abort()
    dom.destroy()
    """
)


def rss(pid: int) -> int:
    return int(Path(f"/proc/{pid}/status").read_text().split("VmRSS:")[1].split()[0]) * 1024


def test_a_console_nobody_reads_does_not_fill_the_daemon(
    lxc_root: Path, make_rootfs: Callable[..., Path], tmp_path: Path
) -> None:
    rootfs = make_rootfs(
        """\
        line=0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789
        while true; do echo $line$line$line$line$line$line$line$line; done
        """
    )
    xml = tmp_path / "c.xml"
    xml.write_text(
        f"""<domain type='lxc'><name>chatty</name><memory unit='MiB'>64</memory>
<os><type>exe</type><init>/sbin/init</init></os><devices>
<filesystem type='mount'><source dir='{rootfs}'/><target dir='/'/></filesystem><console type='pty'/></devices></domain>"""
    )
    with PrivateDaemon(lxc_root) as daemon:
        assert daemon.proc is not None
        client = subprocess.Popen(
            ["/usr/bin/python3", "-c", CLIENT, daemon.uri("lxc:///system"), str(xml)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert client.stdout is not None and client.stdin is not None
            assert client.stdout.readline().strip() == "opened", client.stderr.read() if client.stderr else ""
            time.sleep(0.5)
            before = rss(daemon.proc.pid)
            time.sleep(3)
            grown = rss(daemon.proc.pid) - before
            assert grown < 16 << 20, f"pyvirtd grew by {grown >> 20} MiB holding console output nobody reads"
            client.stdin.write("go\n")
            client.stdin.flush()
            out, err = client.communicate(timeout=60)
            assert client.returncode == 0, err
            assert out.startswith("resumed"), out
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
        assert not daemon.tracebacks(), daemon.tracebacks()
