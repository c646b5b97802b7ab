"""libvirt's key codesets: names of keys to codes (virsh send-key), and which codes a codeset has.

The tables are libvirt 9.0's own (:mod:`pyvirt.util._keycodes`, generated from
keycodemapdb); the lookups are virKeycodeValueFromString and
virKeycodeValueTranslate (src/util/virkeycode.c): a name is looked up in the
codeset's name table row by row, and a code is valid in a codeset when some
row of that codeset's table carries it. As in libvirt, ``xt`` uses the AT
set 1 table and ``rfb`` is an alias of ``qnum``.
"""

from __future__ import annotations

__all__ = ["CODESET_NAMES", "codes_of", "codeset_from_name", "translate", "value_from_name"]

# virKeycodeSet, in the enum's order (VIR_KEYCODE_SET_LINUX = 0 ... VIR_KEYCODE_SET_QNUM = 9)
CODESET_NAMES = ("linux", "xt", "atset1", "atset2", "atset3", "os_x", "xt_kbd", "usb", "win32", "qnum")
# codeset -> the generated table it reads (virKeymapValues / virKeymapNames)
_VALUES = ("linux", "atset1", "atset1", "atset2", "atset3", "osx", "xtkbd", "usb", "win32", "qnum")
_NAMES: dict[int, str] = {0: "linux", 5: "osx", 8: "win32"}
_CODES_CACHE: dict[int, frozenset[int]] = {}


def codeset_from_name(name: str) -> int | None:
    """virKeycodeSetTypeFromString, with virsh's ``rfb`` alias for qnum; None for an unknown name."""
    if name == "rfb":
        return CODESET_NAMES.index("qnum")
    return CODESET_NAMES.index(name) if name in CODESET_NAMES else None


def value_from_name(codeset: int, name: str) -> int | None:
    """virKeycodeValueFromString: the code of key ``name`` in ``codeset``, None when it has no such name."""
    from pyvirt.util._keycodes import CODES, NAMES

    table = _NAMES.get(codeset)
    if table is None:
        return None
    for i, known in enumerate(NAMES[table]):
        if known == name:
            return CODES[_VALUES[codeset]][i]
    return None


def codes_of(codeset: int) -> frozenset[int]:
    """Every code ``codeset`` has (what virKeycodeValueTranslate accepts from it)."""
    found = _CODES_CACHE.get(codeset)
    if found is None:
        from pyvirt.util._keycodes import CODES

        found = _CODES_CACHE[codeset] = frozenset(CODES[_VALUES[codeset]])
    return found


def translate(from_codeset: int, to_codeset: int, code: int) -> int | None:
    """virKeycodeValueTranslate: the same key's code in ``to_codeset`` (the QEMU driver sends QNUM codes);
    None when ``from_codeset`` has no such code. The first row carrying the code decides, as in libvirt."""
    from pyvirt.util._keycodes import CODES

    if code < 0:
        return None
    source, target = CODES[_VALUES[from_codeset]], CODES[_VALUES[to_codeset]]
    for i, value in enumerate(source):
        if value == code:
            return target[i]
    return None
