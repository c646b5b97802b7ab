"""Key codesets as libvirt 9.0 has them: the generated tables, names to codes, and which codes exist."""

from __future__ import annotations

from pathlib import Path

from pyvirt.testing.sources import require
from pyvirt.util.keycodegen import generate_keycodes
from pyvirt.util.keycodes import CODESET_NAMES, codes_of, codeset_from_name, value_from_name

GENERATED = Path(__file__).resolve().parents[2] / "src" / "pyvirt" / "util" / "_keycodes.py"


def test_tables_regenerate_byte_for_byte_from_libvirts_keymap_database() -> None:
    assert GENERATED.read_text() == generate_keycodes(require("libvirt")), "run tools/generate-keycodes"


def test_names_give_the_codes_of_their_codeset() -> None:
    linux, osx, win32, usb = (codeset_from_name(n) for n in ("linux", "os_x", "win32", "usb"))
    assert (linux, osx, win32, usb) == (0, 5, 8, 7)
    assert value_from_name(0, "KEY_A") == 30 and value_from_name(0, "KEY_LEFTCTRL") == 29
    assert value_from_name(5, "ANSI_A") == 0  # the OS X code of A is 0, a real code
    assert value_from_name(8, "VK_RETURN") == 0x0D
    assert value_from_name(0, "ANSI_A") is None and value_from_name(7, "KEY_A") is None  # usb has no names


def test_codes_exist_per_codeset_and_aliases_share_tables() -> None:
    assert 30 in codes_of(0) and 0x04 in codes_of(7)  # A in linux and in usb
    assert 0xFFFF not in codes_of(0)
    assert codes_of(1) == codes_of(2)  # xt is AT set 1, as libvirt has it
    assert codeset_from_name("rfb") == CODESET_NAMES.index("qnum") and codeset_from_name("nosuch") is None
