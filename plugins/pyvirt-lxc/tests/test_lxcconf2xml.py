"""libvirt 9.0.0's lxcconf2xml test data through ``pyvirsh domxml-from-native lxc-tools FILE``.

28 configs (14 in LXC's legacy key names, 14 in LXC 3.0's), all fetched from
Debian's libvirt source package. 26 must give libvirt's XML; the two fstab
ones (``lxc.mount``/``lxc.mount.fstab``) must fail with libvirt's message.
Through pyvirsh two things are normalised before comparing: the ``<uuid>``
(random, libvirt's test fixes it) and the ``<emulator>`` (libvirt's test
capabilities name libvirt's own libvirt_lxc helper; pyvirt names the
interpreter that runs its controller). ``conformance_lxcconf2xml.py`` runs
the corpus exactly as libvirt's test program does, byte for byte, with the
test's emulator and UUID: its pass count is held at a floor here.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from pyvirt.conf.xml_compare import canonical
from pyvirt.testing.sources import libvirt_source

PYVIRSH = os.path.join(os.path.dirname(sys.executable), "pyvirsh")


def _data() -> Path | None:
    src = libvirt_source()
    return None if src is None else src / "tests" / "lxcconf2xmldata"


DATA = _data()
CONFIGS = sorted(p.name for p in DATA.glob("*.config")) if DATA else []


def _normalise(xml: str) -> str:
    return canonical(re.sub(r"<(uuid|emulator)>[^<]*</\1>", "", xml))


@pytest.mark.skipif(DATA is None, reason="libvirt 9.0.0's source package could not be fetched (apt-get source)")
def test_all_twenty_eight_configs_are_there() -> None:
    assert len(CONFIGS) == 28


@pytest.mark.parametrize("config", CONFIGS)
def test_lxcconf2xml(config: str, tmp_path: Path) -> None:
    assert DATA is not None
    expected = DATA / (config.removesuffix(".config").removesuffix("-v3") + ".xml")
    out = subprocess.run([PYVIRSH, "-c", f"lxc:///embed?root={tmp_path}", "domxml-from-native", "lxc-tools",
                          str(DATA / config)], capture_output=True, text=True, check=False)  # fmt: skip
    if not expected.exists():
        assert out.returncode == 1
        assert "lxc.mount.fstab or lxc.mount found, use lxc.mount.entry lines instead" in out.stderr
        return
    assert out.returncode == 0, out.stderr
    assert _normalise(out.stdout) == _normalise(expected.read_text())
    assert re.search(r"<uuid>[0-9a-f-]{36}</uuid>", out.stdout)
    assert re.search(r"<emulator>/[^<]*python[^<]*</emulator>", out.stdout), "the controller's interpreter"


# libvirt 9.0.0 lists 28 cases (26 convert, the two fstab ones must fail); all 28 pass, byte for byte
FLOOR = 28


def _harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("conformance_lxcconf2xml", Path(__file__).parent /
                                                  "conformance_lxcconf2xml.py")  # fmt: skip
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(DATA is None, reason="libvirt 9.0.0's source package could not be fetched (apt-get source)")
def test_lxcconf2xml_as_libvirts_test_runs_it_holds_its_floor() -> None:
    harness = _harness()
    outcomes = harness.run_all(libvirt_source())
    failed = [f"{o.name}: {o.why}" for o in outcomes if not o.passed]
    print(f"lxcconf2xml: {len(outcomes) - len(failed)}/{len(outcomes)}")
    assert len(outcomes) == 28
    assert len(outcomes) - len(failed) >= FLOOR, failed


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"lxc.uts.name = a\0b\nlxc.rootfs.path = /srv/c\n", "NUL byte at line 1"),
        (b"lxc.uts.name = c\nlxc.rootfs.path = /srv/c\n# a comment\0\n", "NUL byte at line 3"),
        (b"# made by hand\nlxc.uts.name = caf\xe9\nlxc.rootfs.path = /srv/c\n", "invalid UTF-8 at line 2"),
        (b"lxc.uts.name = c\nlxc.rootfs.path = /srv/\x0bc\n", "invalid character U+000B at line 2"),
    ],
)
def test_bytes_no_xml_can_hold_are_a_syntax_error_not_a_traceback(tmp_path: Path, content: bytes, words: str) -> None:
    """A NUL byte, bytes that are not UTF-8 and control characters give an error naming the line."""
    config = tmp_path / "c.config"
    config.write_bytes(content)
    out = subprocess.run([PYVIRSH, "-c", f"lxc:///embed?root={tmp_path}", "domxml-from-native", "lxc-tools",
                          str(config)], capture_output=True, text=True, check=False)  # fmt: skip
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.strip() == f"error: configuration file syntax error: {words}"


def test_the_same_checks_through_the_api_and_latin1_in_a_comment_is_fine(tmp_path: Path) -> None:
    import pyvirt
    from pyvirt.errors import Error, ErrorCode

    with pyvirt.open(f"lxc:///embed?root={tmp_path}") as conn:
        with pytest.raises(Error) as exc:
            conn.domain_xml_from_native("lxc-tools", "lxc.uts.name = c\0\nlxc.rootfs.path = /srv/c\n")
        assert exc.value.code == ErrorCode.CONF_SYNTAX
        assert str(exc.value) == "configuration file syntax error: NUL byte at line 1"
        comment = b"# Jos\xe9's container\nlxc.uts.name = c\nlxc.rootfs.path = /srv/c\n".decode(
            "utf-8", "surrogateescape"
        )
        assert "<name>c</name>" in conn.domain_xml_from_native("lxc-tools", comment)
