"""libvirt's typed parameters: checked construction, virTypedParamsValidate, virTypedParamsAddFromString."""

from __future__ import annotations

import pytest

from pyvirt.errors import ErrorCode, InvalidArgumentError
from pyvirt.plugin.typed_params import (
    TypedParam,
    TypedParamType,
    check_live_or_config,
    check_typed_params,
    format_typed_value,
    typed_param,
    typed_param_from_string,
)

UINT, LLONG, STRING = TypedParamType.UINT, TypedParamType.LLONG, TypedParamType.STRING


def test_values_must_fit_their_c_type() -> None:
    assert typed_param("weight", 2, 4294967295) == TypedParam("weight", UINT, 4294967295)
    assert typed_param("flag", 6, 1).value is True
    assert typed_param("ratio", 5, 2).value == 2.0
    for kind, value in ((2, -1), (2, 2**32), (1, 2**31), (3, "7"), (7, 7), (6, 2)):
        with pytest.raises(InvalidArgumentError) as info:
            typed_param("f", kind, value)
        assert info.value.code == ErrorCode.INVALID_ARG
    with pytest.raises(InvalidArgumentError, match="unknown parameter type: 9"):
        typed_param("f", 9, 1)


def test_field_names_longer_than_c_holds_are_refused_in_libvirts_words() -> None:
    typed_param("x" * 79, 2, 1)
    with pytest.raises(InvalidArgumentError) as info:
        typed_param("x" * 80, 2, 1)
    assert info.value.message == f"string parameter name '{'x' * 80}' too long"


def test_validate_reports_like_virTypedParamsValidate() -> None:
    allowed = {"weight": UINT, "cap": LLONG}
    check_typed_params([TypedParam("weight", UINT, 1), TypedParam("cap", LLONG, -1)], allowed)
    cases = [
        ([TypedParam("shares", UINT, 1)], ErrorCode.ARGUMENT_UNSUPPORTED,
         "argument unsupported: parameter 'shares' not supported"),
        ([TypedParam("weight", LLONG, 1)], ErrorCode.INVALID_ARG,
         "invalid argument: invalid type 'llong' for parameter 'weight', expected 'uint'"),
        ([TypedParam("weight", UINT, 1), TypedParam("weight", UINT, 2)], ErrorCode.INVALID_ARG,
         "invalid argument: parameter 'weight' occurs multiple times"),
        # libvirt walks the list sorted by name: the first wrong one by name is reported
        ([TypedParam("zz", UINT, 1), TypedParam("cap", UINT, 1)], ErrorCode.INVALID_ARG,
         "invalid argument: invalid type 'uint' for parameter 'cap', expected 'llong'"),
    ]  # fmt: skip
    for params, code, message in cases:
        with pytest.raises(InvalidArgumentError) as info:
            check_typed_params(params, allowed)
        assert (info.value.code, info.value.message) == (code, message)


def test_values_from_strings_follow_virStrToLong() -> None:
    assert typed_param_from_string("w", UINT, "-1").value == 2**32 - 1  # virsh's shorthand for the maximum
    assert typed_param_from_string("w", UINT, " +7").value == 7
    assert typed_param_from_string("w", TypedParamType.ULLONG, "-1").value == 2**64 - 1
    assert typed_param_from_string("w", TypedParamType.INT, "-5").value == -5
    assert typed_param_from_string("b", TypedParamType.BOOLEAN, "TRUE").value is True
    assert typed_param_from_string("s", STRING, "any text").value == "any text"
    bad = [(UINT, "abc", "unsigned int"), (UINT, "4294967296", "unsigned int"), (UINT, "-4294967296", "unsigned int"),
           (UINT, "7x", "unsigned int"), (TypedParamType.INT, "2147483648", "int"), (LLONG, "", "long long"),
           (TypedParamType.DOUBLE, "one", "double")]  # fmt: skip
    for kind, text, expected in bad:
        with pytest.raises(InvalidArgumentError) as info:
            typed_param_from_string("weight", kind, text)
        assert info.value.message == f"invalid argument: Invalid value for field 'weight': expected {expected}"
    with pytest.raises(InvalidArgumentError, match="Invalid boolean value for field 'b'"):
        typed_param_from_string("b", TypedParamType.BOOLEAN, "yes")


def test_values_print_as_virsh_prints_them() -> None:
    assert format_typed_value(TypedParam("d", TypedParamType.DOUBLE, 1.5)) == "1.500000"
    assert format_typed_value(TypedParam("b", TypedParamType.BOOLEAN, False)) == "no"
    assert format_typed_value(TypedParam("u", UINT, 50)) == "50"


def test_live_and_config_together_are_refused() -> None:
    check_live_or_config(1)
    check_live_or_config(2)
    with pytest.raises(InvalidArgumentError) as info:
        check_live_or_config(3)
    assert info.value.message == "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive"
