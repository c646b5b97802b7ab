"""start --console, create --console and console on a real terminal, beside Debian's virsh 9.0.

Both tools run on a pseudo-terminal (python's pty: stdin, stdout and stderr
are a real terminal), as a person runs them. libvirt's test driver has no
console stream: virsh checks that the guest runs and that stdin is a
terminal, prints its banner, and only then fails to open the console
(virDomainOpenConsole is not supported). pyvirsh must show the same screen.
Debian's virsh also starts polkit's pkttyagent on a terminal, which prints
"Authorization not available..." on a host without polkitd: that line is
the host's, not virsh's, and is left out of the comparison.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from virsh_compare import PYVIRSH, SKIP_WITHOUT_VIRSH, VIRSH, on_pty, run_line

GUEST = "<domain type='test'><name>j1</name><memory>1024</memory><os><type>hvm</type></os></domain>"
POLKIT = (
    b"Authorization not available. Check if polkit service is running or see debug message for more information.\r\n"
)


def _screen(argv: list[str], line: str, cwd: Path) -> tuple[bytes, int]:
    shown, status = on_pty([*argv, "-c", "test:///default", line], dict(os.environ, LC_ALL="C"), timeout=60,
                           cwd=str(cwd))  # fmt: skip
    return shown.replace(POLKIT, b""), status


@pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)
@pytest.mark.parametrize(
    "line",
    [
        "destroy test; start test --console",
        "destroy test; start test --console; list",
        "create guest.xml --console; list --name",
        "console test",
        "console test --force --safe",
        "destroy test; console test",
        "console nosuch",
        "destroy test; start test --console --paused; domstate test",
    ],
)
def test_console_on_a_terminal_like_virsh(line: str, tmp_path: Path) -> None:
    assert VIRSH is not None
    (tmp_path / "guest.xml").write_text(GUEST)
    expected = _screen([VIRSH], line, tmp_path)
    assert b"\r\n" in expected[0]  # a terminal's line ends: the pty really was one
    assert _screen(PYVIRSH, line, tmp_path) == expected


@pytest.mark.skipif(VIRSH is None, reason=SKIP_WITHOUT_VIRSH)
@pytest.mark.parametrize("line", ["console test", "destroy test; console test", "destroy test; start test --console"])
def test_console_without_a_terminal_like_virsh(line: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On pipes the state check still comes first, then the terminal check (virsh's cmdRunConsole order)."""
    assert VIRSH is not None
    monkeypatch.chdir(tmp_path)
    assert run_line(PYVIRSH, line) == run_line([VIRSH], line)
