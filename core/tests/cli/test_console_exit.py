"""pyvirsh leaves without interpreter teardown, yet nothing a normal exit does is lost."""

from __future__ import annotations

import signal
import subprocess
import sys

SCRIPT = """
import atexit, gc, sys, threading
atexit.register(lambda: sys.stdout.write(f"atexit ran, young GC threshold {gc.get_threshold()[0]}\\n"))
if "thread" in sys.argv:
    threading.Thread(target=lambda: (__import__("time").sleep(0.3), print("thread finished"))).start()
sys.argv = ["pyvirsh", "-c", "test:///default"] + sys.argv[1].split()
from pyvirt.cli.console import console_main
console_main()
"""


def _run(command: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", SCRIPT, command, *extra], capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip


def test_output_status_and_atexit_survive_the_fast_exit() -> None:
    done = _run("domname 1")
    assert (done.stdout, done.returncode) == ("test\n\natexit ran, young GC threshold 100000\n", 0)
    failed = _run("domname 42")
    assert failed.returncode == 1 and failed.stdout == "\natexit ran, young GC threshold 100000\n"
    assert failed.stderr == "error: failed to get domain '42'\n"


def test_a_running_thread_is_waited_for() -> None:
    """A non-daemon thread still running takes the normal exit, which joins it."""
    done = _run("domname 1", "thread")
    assert done.returncode == 0 and "thread finished" in done.stdout and "atexit ran" in done.stdout


def test_a_closed_pipe_ends_the_process_as_virsh_ends() -> None:
    """The reader left: death by SIGPIPE and an empty stderr, not a BrokenPipeError traceback (test_output_order)."""
    proc = subprocess.Popen([sys.executable, "-m", "pyvirt.cli.main", "-c", "test:///default", "capabilities"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader goes away before pyvirsh writes
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert (proc.wait(timeout=60), err) == (-signal.SIGPIPE, "")
