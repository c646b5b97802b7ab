"""pyvirtd owns its QEMU driver state alone, and drops what several processes on one root need.

Before pyvirtd, every process that opened ``qemu:///system`` kept its own
copy of the state, so each guest got a second QMP monitor for "the other
processes", its monitor connection held an owner lock file, and each start
held a per-domain lock file. Inside the daemon there is one owner: it holds
``run/driver.pid`` (libvirtd's QEMU driver holds the same file) and its guests
carry none of that. ``?mode=direct`` and embedded URIs used by several
processes keep it all; while a daemon owns the paths, such a process is
refused as libvirt refuses a second driver on one state directory.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

import pyvirt
from pyvirt import DomainState, ErrorCode
from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.local_driver.paths import paths_for_uri
from pyvirt.uri import parse_uri

from .test_start_races import guest, pyvirsh, qemus_of


def run_dir(root: Path) -> Path:
    return Path(paths_for_uri(parse_uri(f"qemu:///embed?root={root}"), "qemu").run)


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def test_the_daemons_guests_have_one_monitor_and_no_lock_files(qemu_root: Path, virt_type: str) -> None:
    with PrivateDaemon(qemu_root) as daemon:
        run = run_dir(qemu_root)
        with pyvirt.open(daemon.uri("qemu:///system")) as conn:
            dom = conn.define_domain(guest(virt_type, "solo"))  # (the daemon has initialised its drivers)
            assert daemon.proc is not None and (run / "driver.pid").read_text() == f"{daemon.proc.pid}\n"
            dom.start()
            dom.suspend()
            dom.resume()
            (pid,) = qemus_of(qemu_root, "solo")
            args = cmdline(pid)
            assert not any("monitor-shared" in a for a in args), "a second monitor nobody will use"
            left = sorted(p.name for p in run.iterdir() if p.name.startswith("solo"))
            assert left == ["solo.monitor", "solo.pid", "solo.xml"]  # no .shared.monitor, .monitor.owner, .lock
            assert "shared" not in (run / "solo.xml").read_text().split("<monitor", 1)[-1].split(">", 1)[0]

            # another process on the daemon's paths would find guests not prepared for it: refused
            with pytest.raises(pyvirt.Error) as err:
                pyvirt.open(f"qemu:///embed?root={qemu_root}")
            assert err.value.code == ErrorCode.SYSTEM_ERROR
            assert err.value.message == (
                f"Failed to acquire pid file '{run}/driver.pid': {os.strerror(errno.EAGAIN)}"
            )  # fmt: skip
            assert dom.state()[0] == DomainState.RUNNING and qemus_of(qemu_root, "solo") == [pid]
    # the daemon is gone, its guest runs on: a process of its own may take the paths over and end it
    with pyvirt.open(f"qemu:///embed?root={qemu_root}") as conn:
        dom = conn.lookup_domain_by_name("solo")
        assert dom.state()[0] == DomainState.RUNNING
        dom.destroy()
    assert qemus_of(qemu_root, "solo") == []


def test_a_daemon_that_finds_other_processes_on_its_paths_shares_them(qemu_root: Path, virt_type: str) -> None:
    with pyvirt.open(f"qemu:///embed?root={qemu_root}") as direct:
        with PrivateDaemon(qemu_root) as daemon, pyvirt.open(daemon.uri("qemu:///system")) as conn:
            dom = conn.define_domain(guest(virt_type, "shared"))
            assert (run_dir(qemu_root) / "driver.pid").read_text() == ""  # nobody owns them alone
            dom.start()
            (pid,) = qemus_of(qemu_root, "shared")
            assert any("monitor-shared" in a for a in cmdline(pid))  # the other process may need it
            # another process pauses the daemon's guest, through the shared monitor, and the daemon sees it
            pyvirsh(qemu_root, "suspend", "shared")
            assert dom.state()[0] == DomainState.PAUSED
            pyvirsh(qemu_root, "resume", "shared")
            assert dom.state()[0] == DomainState.RUNNING
            dom.destroy()
        assert direct.get_type() == "QEMU"  # the direct process's connection was never disturbed
