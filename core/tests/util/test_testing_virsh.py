"""pyvirt.testing.virsh: a line runs as a script runs it, whatever the caller's shell holds."""

from __future__ import annotations

import sys

import pytest

from pyvirt.testing.virsh import run_line

# ``python -c CODE ARG``: the "URI" is the program, so the child reports what the tool would have seen
_SHOW = "import os, sys; print(os.environ.get('LIBVIRT_DEFAULT_URI'), os.environ.get('LC_ALL'), sys.argv[1:])"


def test_a_line_sees_the_c_locale_and_no_default_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIBVIRT_DEFAULT_URI", "qemu:///system")
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")
    out, err, rc = run_line([sys.executable], _SHOW, "list --all; net-list")
    assert (out, err, rc) == ("None C ['list --all; net-list']\n", "", 0)


def test_stderr_and_the_exit_status_stay_apart() -> None:
    out, err, rc = run_line([sys.executable], "import sys; print('out'); sys.exit('error: failed')", "x")
    assert (out, err, rc) == ("out\n", "error: failed\n", 1)
