"""A program that is not installed is named, with libvirt's words and the Debian package to install.

The story: on a fresh machine without ``qemu-utils``, creating a qcow2 volume
said "No such file or directory" about the volume. Now the error says which
program is missing and which package provides it, whether the program was
looked up in ``PATH`` or given by absolute path, on both of ``Command``'s
spawn paths (CPython's fork_exec, and pyvirt's own fork when hooks, limits
or capabilities are asked for).
"""

from __future__ import annotations

import errno
import importlib.util
from pathlib import Path

import pytest

from pyvirt.errors import ErrorCode, OperationFailedError
from pyvirt.util.command import EXIT_ENOENT, Command, CommandFailedError, ProgramNotFoundError
from pyvirt.util.host_programs import PROGRAMS, missing_program_hint, package_of


def _both_paths(argv: list[str]) -> list[Command]:
    """The same child through the fast spawn path and through pyvirt's own fork (a pre-exec hook forces it)."""
    return [Command(list(argv)), Command(list(argv)).add_pre_exec_hook("noop", lambda: None)]


# The package hints come from the plugins' system-deps.toml (qemu-img from pyvirt-storage/-qemu, dnsmasq from
# pyvirt-network): the core tested alone has neither.
needs_plugin_tables = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("pyvirt_storage", "pyvirt_network")),
    reason="the core tested alone (tox -e core) has no plugin system-deps: needs pyvirt-storage and pyvirt-network",
)


@needs_plugin_tables
def test_a_program_missing_from_path_names_its_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: nothing can be found
    for cmd in _both_paths(["qemu-img", "create", "-q", "-f", "qcow2", str(tmp_path / "demo.qcow2"), "1M"]):
        with pytest.raises(ProgramNotFoundError) as e:
            cmd.run()
        assert e.value.message == (
            "Cannot find 'qemu-img' in path: No such file or directory (install the Debian package 'qemu-utils')"
        )
        assert (e.value.code, e.value.errno, e.value.program, e.value.package) == (
            ErrorCode.SYSTEM_ERROR,
            errno.ENOENT,
            "qemu-img",
            "qemu-utils",
        )
        assert cmd.pid is None  # nothing was forked
    assert not (tmp_path / "demo.qcow2").exists()


@needs_plugin_tables
def test_a_missing_absolute_path_names_its_package(tmp_path: Path) -> None:
    missing = str(tmp_path / "sbin" / "dnsmasq")
    for cmd in _both_paths([missing, "--test"]):
        with pytest.raises(ProgramNotFoundError) as e:
            cmd.run()
        assert e.value.message == (
            f"cannot execute binary {missing}: No such file or directory (install the Debian package 'dnsmasq-base')"
        )
        assert (e.value.code, e.value.step, e.value.child_errno, e.value.exit_status) == (
            ErrorCode.SYSTEM_ERROR,
            "exec",
            errno.ENOENT,
            EXIT_ENOENT,
        )
        # callers that catch the older, wider classes still catch it
        assert isinstance(e.value, CommandFailedError) and isinstance(e.value, OperationFailedError)


def test_an_unknown_program_gets_libvirts_words_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ProgramNotFoundError) as e:
        Command(["no-such-program-pyvirt"]).run()
    assert e.value.message == "Cannot find 'no-such-program-pyvirt' in path: No such file or directory"
    assert e.value.package is None


def test_a_script_whose_interpreter_is_missing_is_not_called_missing(tmp_path: Path) -> None:
    """execve's ENOENT there is about ``#!``'s interpreter: the script exists, so no package is blamed on it."""
    script = tmp_path / "dnsmasq"
    script.write_text("#!/nonexistent/interpreter\n")
    script.chmod(0o755)
    for cmd in _both_paths([str(script)]):
        with pytest.raises(CommandFailedError) as e:
            cmd.run()
        assert not isinstance(e.value, ProgramNotFoundError)
        assert (e.value.step, e.value.child_errno) == ("exec", errno.ENOENT)


@needs_plugin_tables
def test_the_table_answers_by_name_or_path() -> None:
    assert package_of("/usr/bin/qemu-img") == package_of("qemu-img") == "qemu-utils"
    assert package_of("/usr/sbin/nft") == "nftables"
    assert package_of("/opt/thing") is None and missing_program_hint("thing") == ""
    assert all(name == entry.name and "/" not in name for name, entry in PROGRAMS.items())
