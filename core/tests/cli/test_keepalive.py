"""pyvirsh's ``-k``/``-K`` applied as virsh applies them (virshConnect's virConnectSetKeepAlive).

A user who asks for a short keepalive wants a hung daemon noticed quickly:
with ``-k 1 -K 2`` a pyvirsh whose pyvirtd stops answering gives up after
about three seconds instead of waiting on (the default is 5 s x 6 pings).
On a connection without a peer (``test:///``), asking for a keepalive fails
the connection exactly as virsh's does.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PYVIRSH = [sys.executable, "-m", "pyvirt.cli.main"]
instance = pytest.importorskip("pyvirt.daemon.instance", reason="pyvirtd (pyvirt.daemon) is not in this tree")


def _env() -> dict[str, str]:
    env = dict(os.environ, LC_ALL="C")
    env.pop("LIBVIRT_DEFAULT_URI", None)
    return env


def _wait_for_line(proc: subprocess.Popen[str], wanted: str) -> None:
    """Read pyvirsh's output up to the line with ``wanted`` (the shell prints each command's output at once)."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if wanted in line:
            return
    pytest.fail(f"pyvirsh ended before printing {wanted!r}")


@pytest.mark.parametrize(("options", "limit"), [(["-k", "1", "-K", "2"], 12.0), (["-k", "0"], None)])
def test_a_silent_daemon_is_given_up_after_interval_times_count(
    tmp_path: Path, options: list[str], limit: float | None
) -> None:
    with instance.PrivateDaemon(tmp_path / "pyvirtd") as daemon:
        proc = subprocess.Popen([*PYVIRSH, *options, "-c", daemon.uri()], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())  # fmt: skip
        assert proc.stdin is not None and daemon.proc is not None
        try:
            proc.stdin.write("uri\n")
            proc.stdin.flush()
            _wait_for_line(proc, "socket=")  # ``uri`` answered: the connection is open
            os.kill(daemon.proc.pid, signal.SIGSTOP)  # the daemon hangs: it neither answers nor closes
            started = time.monotonic()
            proc.stdin.write("list --all\n")
            proc.stdin.flush()
            try:
                _out, err = proc.communicate(timeout=limit if limit is not None else 8)
            except subprocess.TimeoutExpired:
                assert limit is None, "pyvirsh still waits on a silent daemon: -k/-K were not applied"
                return  # -k 0: no keepalive, so pyvirsh waits as virsh does
            assert limit is not None, f"pyvirsh gave up with the keepalive off: {err}"
            assert time.monotonic() - started < limit
            assert "connection closed due to keepalive timeout: no response after 2 keepalive messages" in err, err
        finally:
            os.kill(daemon.proc.pid, signal.SIGCONT)
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


@pytest.mark.skipif(shutil.which("virsh") is None, reason="Debian's virsh (libvirt-clients) is the reference")
@pytest.mark.parametrize("options", [["-k", "5"], ["-K", "3"], ["-k", "0"], []])
def test_keepalive_options_on_an_in_process_driver_as_virsh(options: list[str]) -> None:
    def run(tool: list[str]) -> tuple[str, str, int]:
        p = subprocess.run([*tool, *options, "-c", "test:///default", "uri"], capture_output=True, text=True,
                           env=_env(), timeout=60, check=False)  # fmt: skip
        return p.stdout, p.stderr, p.returncode

    virsh = shutil.which("virsh")
    assert virsh is not None
    assert run(PYVIRSH) == run([virsh])
