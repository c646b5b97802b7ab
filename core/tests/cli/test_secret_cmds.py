"""secret-set-value's three sources, as virsh 9.0 takes them: --base64 (warned about), --file, the terminal.

libvirt's test driver has no secrets, so these run on pyvirt's test driver
alone; the wording is virsh's (virsh-secret.c).
"""

from __future__ import annotations

import os
import subprocess
import termios
from pathlib import Path

from virsh_compare import PYVIRSH, on_pty

UUID = "11111111-2222-3333-4444-555555555555"
SECRET = f"<secret ephemeral='no' private='no'><uuid>{UUID}</uuid><usage type='ceph'><name>c</name></usage></secret>"


def run(line: str, tmp_path: Path) -> tuple[str, str, int]:
    (tmp_path / "secret.xml").write_text(SECRET)
    line = f"secret-define {tmp_path / 'secret.xml'}; {line}"
    p = subprocess.run([*PYVIRSH, "-c", "test:///default", line], capture_output=True, text=True,
                       env=dict(os.environ, LC_ALL="C"), timeout=60, check=False)  # fmt: skip
    return p.stdout, p.stderr, p.returncode


def test_base64_on_the_command_line_works_with_virshs_warning(tmp_path: Path) -> None:
    out, err, rc = run(f"secret-set-value {UUID} aGVsbG8=; secret-get-value {UUID}", tmp_path)
    assert rc == 0
    assert err == "error: Passing secret value as command-line argument is insecure!\n"
    assert out.endswith("Secret value set\n\naGVsbG8=\n\n")


def test_a_file_holds_base64_unless_plain(tmp_path: Path) -> None:
    (tmp_path / "b64").write_text("aGVs\nbG8=\n")  # g_base64_decode skips the newlines
    (tmp_path / "plain").write_bytes(b"s3cr3t")
    out, err, rc = run(
        f"secret-set-value {UUID} --file {tmp_path / 'b64'}; secret-get-value {UUID}; "
        f"secret-set-value {UUID} --file {tmp_path / 'plain'} --plain; secret-get-value {UUID}",
        tmp_path,
    )
    assert (err, rc) == ("", 0)
    assert "\naGVsbG8=\n" in out  # "hello"
    assert out.endswith("\nczNjcjN0\n\n")  # "s3cr3t", stored as it was in the file


def test_sources_exclude_each_other_and_one_is_needed(tmp_path: Path) -> None:
    _, err, rc = run(
        f"secret-set-value {UUID} --file /x --base64 eA==; secret-set-value {UUID} --interactive --plain; "
        f"secret-set-value {UUID}; secret-set-value {UUID} --file {tmp_path / 'nosuch'}",
        tmp_path,
    )
    assert rc == 1
    assert err == (
        "error: Options --file and --base64 are mutually exclusive\n"
        "error: Options --interactive and --plain are mutually exclusive\n"
        "error: Input secret value is missing\n"
        f"error: Failed to open file '{tmp_path / 'nosuch'}': No such file or directory\n"
    )


def test_interactive_reads_the_terminal_without_echo(tmp_path: Path) -> None:
    (tmp_path / "secret.xml").write_text(SECRET)
    line = f"secret-define {tmp_path / 'secret.xml'}; secret-set-value {UUID} --interactive; secret-get-value {UUID}"
    typed: list[bool] = []

    def type_once_echo_is_off(fd: int, shown: bytes) -> None:
        # type only once echo is off: getpass flushes what was typed before it set the terminal up
        if not typed and b"Enter new value for secret:" in shown and not termios.tcgetattr(fd)[3] & termios.ECHO:
            os.write(fd, b"typed-secret\n")
            typed.append(True)

    shown, rc = on_pty([*PYVIRSH, "-c", "test:///default", line], dict(os.environ, LC_ALL="C"),
                       type_once_echo_is_off, poll=0.05)  # fmt: skip
    assert rc == 0
    assert b"typed-secret" not in shown  # not echoed
    assert b"dHlwZWQtc2VjcmV0" in shown  # base64 of what was typed, read back
