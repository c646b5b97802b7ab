"""The guest's master key and private directory go when it stops, whatever else QEMU left there."""

from __future__ import annotations

import os
from pathlib import Path

from pyvirt_qemu.master_key import KEY_FILE, guest_private_dir, remove_master_key, write_master_key


def test_key_and_directory_removed(tmp_path: Path) -> None:
    private = guest_private_dir(str(tmp_path), "g")
    key = write_master_key(private, os.getuid(), os.getgid())
    assert os.path.basename(key) == KEY_FILE and os.path.getsize(key) == 32
    remove_master_key(private)
    assert not os.path.exists(private), "the private directory of a stopped guest is still there"


def test_other_files_of_the_run_go_too(tmp_path: Path) -> None:
    # QEMU may leave more in its private directory (a channel socket, a swtpm log): the whole tree goes
    private = guest_private_dir(str(tmp_path), "g")
    write_master_key(private, os.getuid(), os.getgid())
    (Path(private) / "channel").mkdir()
    (Path(private) / "channel" / "org.qemu.guest_agent.0").write_text("")
    remove_master_key(private)
    assert not os.path.exists(private)


def test_directory_without_key_or_no_directory(tmp_path: Path) -> None:
    private = guest_private_dir(str(tmp_path), "g")
    remove_master_key(private)  # never started: nothing to do, no error
    os.makedirs(private)
    remove_master_key(private)  # started, failed before the key was written
    assert not os.path.exists(private)
