"""PYVIRT_DEBUG / PYVIRT_LOG_FILTERS / PYVIRT_LOG_OUTPUTS, as libvirt's LIBVIRT_* variables: clients and pyvirtd."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pyvirt.errors import Error, ErrorCode
from pyvirt.util.logsetup import configure_logging

CLIENT = """
import pyvirt
from pyvirt.util.command import Command
with pyvirt.open("test:///default") as c:
    c.list_all_domains()
Command(["true", "--from-the-test"]).run()
"""


def _client(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PYVIRT_")}
    return subprocess.run([sys.executable, "-c", CLIENT], capture_output=True, text=True, timeout=60,
                          env={**clean, **env}, check=False)  # fmt: skip


def test_a_client_logs_the_commands_it_runs_to_the_output_named(tmp_path: Path) -> None:
    out = tmp_path / "log"
    p = _client({"PYVIRT_LOG_FILTERS": "1:pyvirt.util.command", "PYVIRT_LOG_OUTPUTS": f"1:file:{out}"})
    assert p.returncode == 0, p.stderr
    assert "DEBUG : pyvirt.util.command: About to run true --from-the-test" in out.read_text()


def test_debug_alone_logs_to_stderr_and_nothing_set_logs_nothing() -> None:
    p = _client({"PYVIRT_DEBUG": "debug"})
    assert p.returncode == 0 and "About to run true --from-the-test" in p.stderr
    p = _client({})
    assert p.returncode == 0 and p.stderr == ""


def test_a_bad_level_is_refused_at_open() -> None:
    p = _client({"PYVIRT_DEBUG": "loud"})
    assert p.returncode == 1 and "PYVIRT_DEBUG: invalid log level 'loud'" in p.stderr


def test_the_environment_wins_over_the_daemon_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "daemon.log"
    monkeypatch.setenv("PYVIRT_LOG_OUTPUTS", f"2:file:{out}")
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging(4, "", "4:stderr")
        logging.getLogger("pyvirt.daemon.x").info("from the test")
        for h in root.handlers:
            h.flush()
        assert "INFO : pyvirt.daemon.x: from the test" not in out.read_text()  # log_level 4 still filters
        configure_logging(2, "", "4:stderr")
        logging.getLogger("pyvirt.daemon.x").info("from the test")
        for h in root.handlers:
            h.flush()
        assert "INFO : pyvirt.daemon.x: from the test" in out.read_text()
        monkeypatch.setenv("PYVIRT_DEBUG", "7")
        with pytest.raises(Error) as info:
            configure_logging(2, "", "")
        assert info.value.code == ErrorCode.CONF_SYNTAX
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
            h.close()
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
