"""Driver configuration files: one parser, typed settings, errors that name file, line and key."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from pyvirt.errors import Error, ErrorCode
from pyvirt.local_driver.driver_config import ConfBool, SecuritySettings, load_driver_config
from pyvirt.security.stack import load_security_stack
from pyvirt.testing.doubles import EventRecorder, RecordingSecurityDriver


class Settings(SecuritySettings):
    libvirt_keys: ClassVar[frozenset[str]] = frozenset({"max_files"})
    dynamic_ownership: ConfBool = True
    user: str = "root"


def _load(tmp_path: Path, text: str) -> Settings:
    conf = tmp_path / "x.conf"
    conf.write_text(text)
    return load_driver_config(str(conf), Settings)


def test_a_missing_file_is_the_defaults(tmp_path: Path) -> None:
    s = load_driver_config(str(tmp_path / "absent.conf"), Settings)
    assert (s.dynamic_ownership, s.security_driver, s.security_default_confined) == (True, (), True)


def test_libvirt_syntax_and_types(tmp_path: Path) -> None:
    s = _load(tmp_path, 'user = "qemu" # who\ndynamic_ownership = 0\nsecurity_driver = [ "selinux",\n "dac" ]\n')
    assert (s.user, s.dynamic_ownership, s.security_driver) == ("qemu", False, ("selinux", "dac"))
    assert _load(tmp_path, 'security_driver = "none"\n').security_driver == ("none",)
    assert _load(tmp_path, 'user = "ab#cd"\n').user == "ab#cd"  # a '#' inside a string is not a comment


@pytest.mark.parametrize(
    ("text", "line", "key", "why"),
    [
        ('user = "root"\ndynamic_ownership = "1"\n', 2, "dynamic_ownership", "expected a bool (0 or 1)"),
        ("\n\ndynamic_ownership = 2\n", 3, "dynamic_ownership", "must be 0 or 1"),
        ("dynamic_ownershp = 0\n", 1, "dynamic_ownershp", "unknown setting"),
        ("security_driver = 5\n", 1, "security_driver", "expected a string or a list of strings"),
    ],
)
def test_bad_values_name_file_line_and_key(tmp_path: Path, text: str, line: int, key: str, why: str) -> None:
    with pytest.raises(Error) as info:
        _load(tmp_path, text)
    assert info.value.code == ErrorCode.CONF_SYNTAX
    assert info.value.message.endswith(f"{tmp_path / 'x.conf'}:{line}: {key}: {why}")


def test_a_libvirt_key_pyvirt_does_not_implement_is_ignored(tmp_path: Path) -> None:
    assert _load(tmp_path, "max_files = 32768\nuser = 'a'\n").user == "a"


def test_security_driver_orders_the_stack(tmp_path: Path) -> None:
    stack = load_security_stack(_load(tmp_path, 'security_driver = [ "none" ]\n').security_config())
    assert [e.name for e in stack._entries] == ["none", "dac"]
    with pytest.raises(Error) as info:
        load_security_stack(_load(tmp_path, 'security_driver = "nosuch"\n').security_config())
    assert (info.value.code, info.value.message) == (
        ErrorCode.INTERNAL_ERROR,
        "internal error: Security driver nosuch not found",
    )


def test_the_recording_double_fails_where_told() -> None:
    drv = RecordingSecurityDriver(fail_at="security_set_all_label")
    from pyvirt.conf.domain import parse_domain

    dom = parse_domain("<domain type='test'><name>d</name><memory>1024</memory><os><type>hvm</type></os></domain>")
    drv.security_gen_label(dom)
    with pytest.raises(Error) as info:
        drv.security_set_all_label(dom, None)
    assert info.value.code == ErrorCode.OPERATION_FAILED
    assert [c.hook for c in drv.calls] == ["security_gen_label", "security_set_all_label"]


def test_the_event_recorder_keeps_and_waits() -> None:
    rec = EventRecorder()
    seen: list[object] = []
    rec.register_typed("reboot", seen.append)
    rec.reboot("dom")  # type: ignore[arg-type]
    assert rec.wait_for("reboot", timeout=1).domain == "dom" and len(seen) == 1
    with pytest.raises(TimeoutError, match="recorded: reboot"):
        rec.wait_for("pool-refresh", timeout=0.05)
