"""Storage pool events through pyvirtd, seen by Debian's ``virsh pool-event`` and by pyvirsh's.

libvirt's storage driver queues a lifecycle event for pool-define, start,
destroy and undefine and a refresh event for pool-refresh; libvirtd sends
them to every client registered with ``connectStoragePoolEventRegisterAny``.
A virsh that only waits (one process) must see what another virsh does
(another process), in order, printed as virsh prints libvirt's; pyvirsh,
through pyvirt's remote client, prints the same lines.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pyvirt.daemon.instance import PrivateDaemon

pytestmark = pytest.mark.skipif(not shutil.which("virsh"), reason="Debian's virsh (libvirt-clients) is not installed")


class Watcher:
    """``virsh pool-event --loop`` in the background, its lines collected as they come."""

    def __init__(self, uri: str, event: str, timeout: int, client: str = "virsh") -> None:
        self.proc = subprocess.Popen(
            [client, "-c", uri, "pool-event", "--loop", "--timeout", str(timeout), "--event", event],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def finish(self) -> tuple[list[str], str]:
        self.proc.wait(60)
        self._reader.join(10)  # the reader alone reads stdout, to its end
        assert self.proc.stderr is not None
        return self.lines, self.proc.stderr.read()


WATCH = 8  # seconds: the watchers' --timeout


def test_virsh_pool_event_sees_another_clients_pool_lifecycle(tmp_path: Path) -> None:
    target = tmp_path / "pooldir"
    target.mkdir()
    xml = tmp_path / "p1.xml"
    xml.write_text(f"<pool type='dir'><name>p1</name><target><path>{target}</path></target></pool>")
    with PrivateDaemon(tmp_path / "root") as daemon:
        uri = daemon.uri("storage:///system")

        def virsh(*args: str) -> None:
            run = subprocess.run(["virsh", "-c", uri, *args], capture_output=True, text=True, timeout=60, check=False)
            assert run.returncode == 0, f"virsh {' '.join(args)}: {run.stderr}"

        # The watchers end at their --timeout (the "event loop timed out" lines are part of what is compared), so
        # the whole test waits for it: long enough for the events below (about 2 s), not the 20 s it once was.
        began = time.monotonic()
        lifecycle = Watcher(uri, "lifecycle", WATCH)
        refresh = Watcher(uri, "refresh", WATCH)
        pyvirsh = Watcher(uri, "lifecycle", WATCH, str(Path(sys.executable).with_name("pyvirsh")))
        # the watchers register asynchronously: define (again) until both lifecycle watchers report it
        deadline = began + WATCH - 3
        while not lifecycle.lines or not pyvirsh.lines:
            assert time.monotonic() < deadline, "virsh pool-event never saw pool-define"
            virsh("pool-define", str(xml))
            time.sleep(0.3)
        time.sleep(0.5)  # the refresh watcher started with the other one; give it the same head start
        defined, pyvirsh_defined = len(lifecycle.lines), len(pyvirsh.lines)
        virsh("pool-start", "p1")
        virsh("pool-refresh", "p1")
        virsh("pool-destroy", "p1")
        virsh("pool-undefine", "p1")
        assert time.monotonic() - began < WATCH - 0.5, "the events came too close to the watchers' timeout"
        lines, err = lifecycle.finish()
        refreshed, _ = refresh.finish()
        theirs, pyvirsh_err = pyvirsh.finish()
    assert lines[:defined] == ["event 'lifecycle' for storage pool p1: Defined"] * defined, err
    assert lines[defined:] == [
        "event 'lifecycle' for storage pool p1: Started",
        "event 'lifecycle' for storage pool p1: Stopped",
        "event 'lifecycle' for storage pool p1: Undefined",
        "event loop timed out",
        f"events received: {defined + 3}",
        "",  # virsh ends its output with an empty line
    ], err
    assert refreshed == ["event 'refresh' for storage pool p1", "event loop timed out", "events received: 1", ""]
    # pyvirsh (pyvirt's remote client) prints what virsh printed, for the same events
    assert theirs[pyvirsh_defined:] == [
        *lines[defined : defined + 3],
        "event loop timed out",
        f"events received: {pyvirsh_defined + 3}",
        "",
    ], pyvirsh_err
