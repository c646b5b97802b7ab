"""The host's architecture as libvirt's esxSupportsLongMode reads it: bit 29 of EDX in CPUID leaf 0x80000001."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from pyvirt_esx.capabilities import supports_long_mode

from pyvirt.errors import Error, ErrorCode


def leaf(level: int, edx: str) -> SimpleNamespace:
    return SimpleNamespace(level=level, edx=edx)


# an AMD64 host's leaf 0x80000001 EDX (bit 31 first): long mode (bit 29) set, and the same without it
WITH_LM = "0010:1000:0001:0000:0000:1000:0000:0000"
WITHOUT_LM = "0000:1000:0001:0000:0000:1000:0000:0000"


def test_long_mode_bit_decides_the_architecture() -> None:
    basic = leaf(0, "0000:0000:0000:0000:0000:0000:0000:0001")
    assert supports_long_mode([basic, leaf(-2147483647, WITH_LM)]) is True
    assert supports_long_mode([leaf(-2147483647, WITHOUT_LM)]) is False


@pytest.mark.parametrize(
    ("edx", "words"),
    [("0010:1000", "unexpected length"), ("00-0:1000:0001:0000:0000:1000:0000:0000", "unexpected value '-'")],
)
def test_malformed_register_is_refused_with_libvirts_words(edx: str, words: str) -> None:
    with pytest.raises(Error) as err:
        supports_long_mode([leaf(-2147483647, edx)])
    assert err.value.code == ErrorCode.INTERNAL_ERROR and words in err.value.message


def test_no_extended_leaf_is_an_error_not_a_guess() -> None:
    with pytest.raises(Error) as err:
        supports_long_mode([leaf(0, WITH_LM)])
    assert "0x80000001" in err.value.message
