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


def test_define_validate_checks_the_schema_only_when_asked(tmp_path: Path) -> None:
    (tmp_path / "bad.xml").write_text(SECRET.replace("</secret>", "<bogus/></secret>"))
    bad = tmp_path / "bad.xml"
    out, err, rc = run(f"secret-define {bad}; secret-define {bad} --validate", tmp_path)
    assert rc == 1
    assert out.count(f"Secret {UUID} created\n") == 2  # the first define and the one without --validate
    assert err == (
        f"error: Failed to set attributes from {bad}\n"
        "error: XML document failed to validate against schema: Unable to validate doc against "
        "/usr/share/libvirt/schemas/secret.rng\nElement secret has extra content: bogus\n\n"
    )


def test_get_value_plain_prints_the_bytes_as_they_are(tmp_path: Path) -> None:
    (tmp_path / "raw").write_bytes(b"a\0b\xff")
    (tmp_path / "secret.xml").write_text(SECRET)
    line = (
        f"secret-define {tmp_path / 'secret.xml'}; secret-set-value {UUID} --file {tmp_path / 'raw'} --plain; "
        f"secret-get-value {UUID} --plain; secret-get-value {UUID}"
    )
    p = subprocess.run([*PYVIRSH, "-c", "test:///default", line], capture_output=True,
                       env=dict(os.environ, LC_ALL="C"), timeout=60, check=False)  # fmt: skip
    assert (p.stderr, p.returncode) == (b"", 0)
    # no newline of its own (virsh's fwrite): the "\n" after it is the one virsh prints between commands
    assert p.stdout.endswith(b"Secret value set\n\na\0b\xff\nYQBi/w==\n\n")


def test_dumpxml_xpath_and_wrap_as_dumpxml_prints_them(tmp_path: Path) -> None:
    out, err, rc = run(
        f"secret-dumpxml {UUID} --xpath //usage --wrap; secret-dumpxml {UUID} --xpath //@private; "
        f"secret-dumpxml {UUID} --xpath 'count(//usage)'",
        tmp_path,
    )
    assert rc == 1
    assert out.endswith(
        '<nodes>\n  <usage type="ceph">\n    <name>c</name>\n  </usage>\n</nodes>\n\n private="no"\n\n\n'
    )  # the last "\n" is virsh's after the failed command
    assert err == "error: internal error: Incorrect xpath 'count(//usage)'\n"


def test_list_filters_on_ephemeral_and_private(tmp_path: Path) -> None:
    other = "99999999-2222-3333-4444-555555555555"
    (tmp_path / "other.xml").write_text(
        f"<secret ephemeral='yes' private='yes'><uuid>{other}</uuid><usage type='volume'><volume>/v</volume>"
        "</usage></secret>"
    )
    out, err, rc = run(
        f"secret-define {tmp_path / 'other.xml'}; secret-list --ephemeral; secret-list --no-ephemeral; "
        "secret-list --private --no-private; secret-list --no-private --ephemeral",
        tmp_path,
    )
    assert (err, rc) == ("", 0)
    head = " UUID                                   Usage\n"
    ceph = f" {UUID}   ceph c\n"
    vol = f" {other}   volume /v\n"
    assert out.split("created\n\n")[-1] == (
        f"{head}{'-' * 51}\n{vol}\n"  # --ephemeral
        f"{head}{'-' * 48}\n{ceph}\n"  # --no-ephemeral
        f"{head}{'-' * 51}\n{ceph}{vol}\n"  # both of a pair: every secret
        " UUID   Usage\n---------------\n\n"  # groups combine with AND: none is both
    )


def test_list_refuses_a_flag_libvirt_does_not_define() -> None:
    import pytest

    import pyvirt
    from pyvirt.errors import ErrorCode, InvalidArgumentError

    conn = pyvirt.open("test:///default")
    try:
        with pytest.raises(InvalidArgumentError) as caught:
            conn.list_all_secrets(1 << 4)
    finally:
        conn.close()
    assert caught.value.code == ErrorCode.INVALID_ARG
    assert "unsupported flags (0x10) in function secretConnectListAllSecrets" in str(caught.value)
