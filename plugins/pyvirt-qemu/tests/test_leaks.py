"""A long-lived program opens and closes qemu:/// connections while guests run: nothing may pile up."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyvirt
from pyvirt import DomainState

PYVIRSH = os.path.join(os.path.dirname(sys.executable), "pyvirsh")


def threads_and_fds() -> tuple[int, int, int]:
    """Python's threads, the kernel's tasks and our fds. A joined thread is finished for Python a moment
    before the kernel lets its task go: wait (briefly) until both agree. Garbage first: an earlier test's
    objects in a reference cycle hold descriptors until the collector runs, which made the count *drop*
    during the loop in a full run (15 before, 11 after)."""
    gc.collect()
    deadline = time.monotonic() + 5
    while len(os.listdir("/proc/self/task")) != threading.active_count() and time.monotonic() < deadline:
        time.sleep(0.01)
    return threading.active_count(), len(os.listdir("/proc/self/task")), len(os.listdir("/proc/self/fd"))


def test_two_hundred_opens_and_closes_leave_no_thread_or_fd(qemu_root: Path, virt_type: str) -> None:
    """The counts must come back exactly, so a thread or fd leaked per open shows at any number of cycles;
    200 (it was 1,000, most of a minute of CI) leaves room for one that leaks only now and then."""
    uri = f"qemu:///embed?root={qemu_root}"
    with pyvirt.open(uri) as conn:
        conn.define_domain(f"""<domain type='{virt_type}'><name>steady</name><memory unit='MiB'>64</memory>
<vcpu>1</vcpu><os><type>hvm</type></os><devices><serial type='pty'/></devices></domain>""")
    # started by another process: every open here finds the guest again (monitor, watcher), every close lets go
    subprocess.run([PYVIRSH, "-c", uri, "start", "steady"], check=True, capture_output=True, timeout=120)
    for _ in range(3):  # lazily loaded plugins and caches, once per process
        with pyvirt.open(uri) as conn:
            conn.lookup_domain_by_name("steady").state()
    before = threads_and_fds()
    for _ in range(200):
        with pyvirt.open(uri) as conn:
            assert conn.lookup_domain_by_name("steady").state()[0] == DomainState.RUNNING
    after = threads_and_fds()
    assert after == before, f"threads (threading, /proc) and fds before {before}, after 200 cycles {after}"
    with pyvirt.open(uri) as conn:  # and the guest is still ours to drive
        dom = conn.lookup_domain_by_name("steady")
        dom.suspend()
        assert dom.state()[0] == DomainState.PAUSED
        dom.destroy()
