"""pyvirsh's two output streams read in order through one pipe, and a reader that leaves early ends it quietly.

A script runs ``pyvirsh "cmd1; cmd2" 2>&1 | tee log`` and expects cmd1's error
next to cmd1, not after cmd2's output; ``pyvirsh help | head`` must not end
in a traceback. virsh flushes standard output after every print and before
every error, and dies of SIGPIPE (nothing on stderr) when its reader goes
away; these tests hold pyvirsh to the same, against Debian's virsh where the
output can be compared.

Python keeps a pipe's stdout block-buffered unless PYTHONUNBUFFERED is set,
so every run here drops that variable: with it set, the bugs are invisible.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time

import pytest

PYVIRSH = [sys.executable, "-m", "pyvirt.cli.main"]
VIRSH = shutil.which("virsh")


def _env() -> dict[str, str]:
    env = dict(os.environ, LC_ALL="C")
    env.pop("PYTHONUNBUFFERED", None)
    env.pop("LIBVIRT_DEFAULT_URI", None)
    env.pop("VIRSH_DEFAULT_CONNECT_URI", None)
    return env


def _combined(tool: list[str], command: str) -> tuple[str, int]:
    """stdout and stderr through one pipe, as ``2>&1 |`` gives them."""
    done = subprocess.run([*tool, "-c", "test:///default", command], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, env=_env(), timeout=60, check=False)  # fmt: skip
    return done.stdout, done.returncode


@pytest.mark.skipif(VIRSH is None, reason="Debian's virsh (libvirt-clients) is the reference")
def test_an_error_sits_between_the_outputs_around_it_as_with_virsh() -> None:
    command = "list; dominfo nosuch; list --name"
    assert VIRSH is not None
    ours, status = _combined(PYVIRSH, command)
    assert (ours, status) == _combined([VIRSH], command)
    assert (
        ours.index(" 1    test   running") < ours.index("error: failed to get domain 'nosuch'") < ours.index("\ntest\n")
    )


def test_libxml_style_messages_follow_earlier_output() -> None:
    """``--xpath`` errors are written without ``error:``; they too wait for stdout to be flushed."""
    out, _ = _combined(PYVIRSH, "list; dumpxml test --xpath '//['; domname 1")
    assert (
        out.index("running") < out.index("XPath error : Invalid expression") < out.index("test\n\n", out.index("XPath"))
    )


def test_a_command_output_leaves_before_the_next_command_runs() -> None:
    """``list; event --timeout 5``: the list shows at once, not five seconds later at exit (virsh's behaviour)."""
    proc = subprocess.Popen([*PYVIRSH, "-c", "test:///default", "list --name; event --all --timeout 5"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_env())  # fmt: skip
    assert proc.stdout is not None
    try:
        seen = b""
        deadline = time.monotonic() + 4
        while b"test\n" not in seen and time.monotonic() < deadline:
            if select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))[0]:
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                seen += chunk
        assert b"test\n" in seen, f"list's output was still held back while the next command ran: {seen!r}"
        assert proc.poll() is None  # the event command was still waiting: the output came from the flush
    finally:
        proc.kill()
        proc.wait(timeout=60)
        proc.stdout.close()


@pytest.mark.parametrize("command", ["capabilities", "help", "list; list", "dumpxml test; dominfo nosuch"])
def test_a_reader_gone_ends_pyvirsh_quietly_by_sigpipe_as_virsh(command: str) -> None:
    results = []
    tools = [PYVIRSH, *([[VIRSH]] if VIRSH else [])]
    for tool in tools:
        proc = subprocess.Popen([*tool, "-c", "test:///default", command], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=_env())  # fmt: skip
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # `| head` that has already read what it wanted
        err = proc.stderr.read().decode()
        proc.stderr.close()
        results.append((proc.wait(timeout=60), err))
    assert results[0] == (-signal.SIGPIPE, ""), f"pyvirsh: {results[0]}"
    assert len(set(results)) == 1, f"pyvirsh and virsh differ: {results}"


def test_head_reads_the_first_line_and_the_shell_sees_what_virsh_gives() -> None:
    """``pyvirsh help | head -1`` in a real shell pipeline: one line, no traceback, status 141 or 0."""
    script = f"{sys.executable} -m pyvirt.cli.main help | head -1; echo status=${{PIPESTATUS[0]}}"
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=_env(), timeout=60, check=False)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    status = done.stdout.rsplit("status=", 1)[1].strip()
    assert status in {"0", "141"}  # 0 when pyvirsh finished writing before head closed the pipe
    assert done.stdout.count("\n") == 2
