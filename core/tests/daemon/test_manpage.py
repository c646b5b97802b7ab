"""``pyvirtd(8)``: rendered by man without a warning, and saying what the program does.

The page is generated from pyvirtd's parser, its path functions and its
configuration model; these tests read the page as an administrator would
(through ``man``) and check it against those sources, so an option, a key
or a path added to the daemon shows up in its manual or fails here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

needs_man = pytest.mark.skipif(shutil.which("man") is None, reason="man-db renders the page")


def _rendered(tmp_path: Path) -> str:
    page = subprocess.run([sys.executable, "-m", "pyvirt.daemon.manpage"], capture_output=True, text=True, timeout=60,
                          check=True).stdout  # fmt: skip
    path = tmp_path / "pyvirtd.8"
    path.write_text(page)
    env = dict(os.environ, LC_ALL="C", MANWIDTH="200")
    shown = subprocess.run(["man", "--warnings", "-l", str(path)], capture_output=True, text=True, env=env, timeout=60,
                           check=True)  # fmt: skip
    assert shown.stderr == "", f"man warns about pyvirtd.8:\n{shown.stderr}"
    return shown.stdout


@needs_man
def test_every_option_of_pyvirtd_is_in_its_manual(tmp_path: Path) -> None:
    from pyvirt.daemon.main import _parser

    text = _rendered(tmp_path)
    flat = " ".join(text.split())
    assert text.startswith("PYVIRTD(8)")
    options = text[text.index("\nOPTIONS\n") : text.index("\nOPERATION\n")]
    for action in _parser()._actions:
        for name in action.option_strings:
            assert f" {name}" in options, f"pyvirtd {name} is missing from the manual's OPTIONS"
        assert " ".join(str(action.help).split()) in flat, action.help


@needs_man
def test_the_manual_names_the_files_and_keys_the_daemon_uses(tmp_path: Path) -> None:
    from pyvirt.daemon.config import DaemonConfig
    from pyvirt.daemon.sockets import daemon_paths

    text = _rendered(tmp_path)
    system = daemon_paths(system=True)
    files = text[text.index("\nFILES\n") : text.index("\nENVIRONMENT\n")]
    for path in (system.config_file, system.rw_socket, system.ro_socket, system.pid_file):
        assert f"\n       {path}\n" in files, path
    config = text[text.index("\nCONFIGURATION\n") : text.index("\nFILES\n")]
    for key in DaemonConfig.model_fields:
        assert f" {key} = " in config, key
    # permissions as libvirtd.conf writes them, not as the integers the model holds
    assert 'unix_sock_rw_perms = "0700"' in config
    assert "max_clients = 5000" in config
    for section in ("SIGNALS", "SOCKET ACTIVATION", "EXIT STATUS", "SEE ALSO"):
        assert f"\n{section}\n" in text, section
