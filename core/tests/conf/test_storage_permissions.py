"""``<permissions>`` of pools and volumes as libvirt's virStorageDefParsePerms reads them.

The mode is an octal number from 0 to 0777 and nothing else: libvirt refuses
4777 (setuid), 2777, 1777, 7777 and -1 as "malformed octal mode", so a
definition can never ask for a setuid or setgid file. Owner and group are a
uid/gid or -1. Compared with Debian's libvirt on ``test:///default`` (pools
there; volumes use the very same function) when libvirt-python is installed.
"""

from __future__ import annotations

import pytest
from libvirt_oracle import libvirt_available, libvirt_verdicts

from pyvirt import ErrorCode
from pyvirt.conf.storage import format_pool, format_volume, parse_pool, parse_volume
from pyvirt.errors import Error

# (mode text, libvirt's normalized mode or None when it refuses), measured against libvirt 9.0
MODES = [
    ("4777", None), ("2777", None), ("1777", None), ("7777", None), ("-1", None), ("1000", None), ("8", None),
    ("0x1ff", None), ("0755 ", None), ("0755\n", None), ("07777", None), ("-0777", None), ("4294967295", None),
    ("0777", "0777"), ("777", "0777"), (" 0755", "0755"), ("+755", "0755"), ("0", "00"), ("-0", "00"),
    ("00000000755", "0755"), ("0600", "0600"),
]  # fmt: skip
OWNERS = [
    ("-1", True), ("4294967295", True), (" 5", True), ("107", True), ("+5", True),
    ("abc", False), ("", False), ("4294967296", False), ("-2", False), ("5 ", False), ("0x5", False),
]  # fmt: skip


def _volume(perms: str) -> str:
    return (
        f"<volume><name>v</name><capacity>1024</capacity><target><permissions>{perms}</permissions></target></volume>"
    )


def _pool(perms: str) -> str:
    return (
        f"<pool type='dir'><name>p</name><target><path>/tmp/p</path><permissions>{perms}</permissions></target></pool>"
    )


@pytest.mark.parametrize(("text", "expected"), MODES)
def test_mode_only_from_0_to_0777(text: str, expected: str | None) -> None:
    for parse, doc in ((parse_volume, _volume), (parse_pool, _pool)):
        if expected is None:
            with pytest.raises(Error) as info:
                parse(doc(f"<mode>{text}</mode>"))
            assert (info.value.code, info.value.message) == (ErrorCode.XML_ERROR, "XML error: malformed octal mode")
        else:
            model = parse(doc(f"<mode>{text}</mode>"))
            assert model.target is not None and model.target.permissions is not None
            assert model.target.permissions.mode == expected


def test_normalized_permissions_are_what_libvirt_writes() -> None:
    vol = parse_volume(_volume("<mode>+755</mode><owner>-1</owner><group>107</group>"))
    text = format_volume(vol)
    assert "<mode>0755</mode>" in text and "<owner>" not in text and "<group>107</group>" in text
    assert parse_volume(text) == vol  # what is dumped defines again
    pool = parse_pool(_pool("<mode>0</mode><owner>4294967295</owner>"))
    assert "<mode>00</mode>" in format_pool(pool) and "<owner>" not in format_pool(pool)
    assert parse_volume(_volume("<mode></mode>")).target.permissions.mode is None  # type: ignore[union-attr]


@pytest.mark.parametrize(("text", "accepted"), OWNERS)
@pytest.mark.parametrize("tag", ["owner", "group"])
def test_owner_and_group_are_an_id_or_minus_one(tag: str, text: str, accepted: bool) -> None:
    doc = _volume(f"<{tag}>{text}</{tag}>")
    if accepted:
        parse_volume(doc)
        return
    with pytest.raises(Error) as info:
        parse_volume(doc)
    assert (info.value.code, info.value.message) == (ErrorCode.XML_ERROR, f"XML error: malformed {tag} element")


@pytest.mark.skipif(not libvirt_available(), reason="Debian's python3-libvirt is needed for the comparison")
def test_same_verdicts_as_libvirt() -> None:
    docs = [("pool", _pool(f"<mode>{text}</mode>")) for text, _expected in MODES]
    docs += [("pool", _pool(f"<{tag}>{text}</{tag}>")) for tag in ("owner", "group") for text, _ok in OWNERS]
    expected = [(e is not None, "" if e is not None else "XML error: malformed octal mode") for _t, e in MODES]
    expected += [(ok, "" if ok else f"XML error: malformed {tag} element") for tag in ("owner", "group")
                 for _t, ok in OWNERS]  # fmt: skip
    assert libvirt_verdicts(docs) == expected
