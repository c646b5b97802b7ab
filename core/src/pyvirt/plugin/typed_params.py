"""libvirt's typed parameters (virTypedParameter): named values that carry their C type.

Scheduler tunables, block and memory tuning and other parameter lists are
passed this way: each value is tagged INT, UINT, LLONG, ULLONG, DOUBLE,
BOOLEAN or STRING, and a driver checks both the names and the types it
accepts (``virTypedParamsValidate``). The tag matters beyond Python's types:
it is what libvirt's wire protocol sends, and "weight" as a UINT is not the
same request as "weight" as an LLONG.
"""

from __future__ import annotations

from _collections_abc import Mapping, Sequence

from pyvirt.errors import ErrorCode, InvalidArgumentError, _int_enum

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import enum
    from typing import NamedTuple

    _IntEnumBody = enum.IntEnum
else:
    from pyvirt.util.named_tuple import NamedTuple

    _IntEnumBody = object

__all__ = [
    "FIELD_LENGTH",
    "STRING_OKAY",
    "TypedParam",
    "TypedParamType",
    "check_live_or_config",
    "check_typed_params",
    "format_typed_value",
    "typed_param",
    "typed_param_from_string",
]

FIELD_LENGTH = 80
"""VIR_TYPED_PARAM_FIELD_LENGTH: a field name is at most 79 bytes (C's ``char field[80]``)."""

STRING_OKAY = 1 << 2  # VIR_TYPED_PARAM_STRING_OKAY
"""VIR_TYPED_PARAM_STRING_OKAY: the flag libvirt's getters add when the caller accepts STRING values."""

AFFECT_LIVE = 1 << 0  # VIR_DOMAIN_AFFECT_LIVE
AFFECT_CONFIG = 1 << 1  # VIR_DOMAIN_AFFECT_CONFIG


def check_live_or_config(flags: int) -> None:
    """libvirt's VIR_EXCLUSIVE_FLAGS check of the tunable getters: LIVE and CONFIG together are refused."""
    if flags & AFFECT_LIVE and flags & AFFECT_CONFIG:
        raise InvalidArgumentError(
            ErrorCode.INVALID_ARG,
            "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive",
            verbatim=True,
        )


class TypedParamType(_IntEnumBody):
    """virTypedParameterType, with libvirt's numbers (the wire's discriminant); an IntEnum to mypy, built
    without the ``enum`` module at run time (every client run loads it: ``pyvirt.util.int_enum``)."""

    INT = 1
    UINT = 2
    LLONG = 3
    ULLONG = 4
    DOUBLE = 5
    BOOLEAN = 6
    STRING = 7

    @property
    def label(self) -> str:
        """The name libvirt's messages use (virTypedParameterTypeToString): ``uint``, ``string``..."""
        return self.name.lower()


if not TYPE_CHECKING:
    TypedParamType = _int_enum(TypedParamType)

_RANGES = {
    TypedParamType.INT: (-(2**31), 2**31 - 1),
    TypedParamType.UINT: (0, 2**32 - 1),
    TypedParamType.LLONG: (-(2**63), 2**63 - 1),
    TypedParamType.ULLONG: (0, 2**64 - 1),
}


class TypedParam(NamedTuple):
    """One virTypedParameter: ``field``, its type, and a value of that type."""

    field: str
    type: TypedParamType
    value: int | float | bool | str


def typed_param(field: str, type: int, value: int | float | bool | str) -> TypedParam:
    """A checked TypedParam: the type is one of libvirt's and the value fits it (C would truncate silently).

    :raises InvalidArgumentError: a field name C cannot hold (libvirt's virTypedParameterValidateSet),
        an unknown type, or a value the type cannot hold.
    """
    if len(field.encode()) >= FIELD_LENGTH:
        shown = field.encode()[:FIELD_LENGTH].decode(errors="replace")
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"string parameter name '{shown}' too long", verbatim=True)
    try:
        kind = TypedParamType(type)
    except ValueError:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"unknown parameter type: {type}") from None
    if kind is TypedParamType.STRING:
        ok = isinstance(value, str)
    elif kind is TypedParamType.DOUBLE:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif kind is TypedParamType.BOOLEAN:
        ok = isinstance(value, (bool, int)) and value in (0, 1)
    else:
        low, high = _RANGES[kind]
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    if not ok:
        raise InvalidArgumentError(
            ErrorCode.INVALID_ARG, f"invalid value {value!r} for {kind.label} parameter '{field}'"
        )
    if kind is TypedParamType.DOUBLE:
        value = float(value)
    elif kind is TypedParamType.BOOLEAN:
        value = bool(value)
    return TypedParam(field, kind, value)


def check_typed_params(params: Sequence[TypedParam], allowed: Mapping[str, TypedParamType]) -> None:
    """virTypedParamsValidate: every field known, of the expected type, and given once.

    libvirt checks the sorted list, so when several parameters are wrong the
    one reported is the first by name; so is it here.

    :raises InvalidArgumentError: INVALID_ARG for a repeated field or a wrong
        type, ARGUMENT_UNSUPPORTED for a field the driver does not know.
    """
    seen: set[str] = set()
    for param in sorted(params, key=lambda p: p.field.encode()):
        expected = allowed.get(param.field)
        if expected is None:
            raise InvalidArgumentError(ErrorCode.ARGUMENT_UNSUPPORTED, f"parameter '{param.field}' not supported")
        if param.field in seen:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"parameter '{param.field}' occurs multiple times")
        if param.type != expected:
            got = TypedParamType(param.type).label if param.type in TypedParamType._value2member_map_ else "unknown"
            raise InvalidArgumentError(
                ErrorCode.INVALID_ARG,
                f"invalid type '{got}' for parameter '{param.field}', expected '{expected.label}'",
            )
        seen.add(param.field)


# C's strtol family: leading white space, an optional sign, decimal digits, nothing after
# (compiled on first use, in re's cache: most processes never read a typed parameter from text)
_C_INTEGER = r"[ \t\n\v\f\r]*([+-]?)([0-9]+)\Z"
_STRING_EXPECTED = {
    TypedParamType.INT: "int",
    TypedParamType.UINT: "unsigned int",
    TypedParamType.LLONG: "long long",
    TypedParamType.ULLONG: "unsigned long long",
    TypedParamType.DOUBLE: "double",
}


def _c_unsigned(sign: str, magnitude: int, bits: int) -> int | None:
    """virStrToLong_ui/_ull: "-N" wraps around as strtoul does, allowed up to the type's maximum."""
    top = 2**bits - 1
    if magnitude > top:
        return None
    return (2**bits - magnitude) % 2**bits if sign == "-" else magnitude


def typed_param_from_string(field: str, type: TypedParamType, text: str) -> TypedParam:
    """virTypedParamsAddFromString: a parameter of ``type`` from user text (``virsh schedinfo --set f=v``).

    Numbers are read as libvirt's virStrToLong_* read them (decimal, C's
    white space and sign rules, "-1" meaning the maximum of an unsigned
    type); booleans are "true"/"1" or "false"/"0" in any case.

    :raises InvalidArgumentError: "Invalid value for field 'f': expected unsigned int" and friends.
    """
    type = TypedParamType(type)
    value: int | float | bool | str | None = None
    if type is TypedParamType.STRING:
        value = text
    elif type is TypedParamType.BOOLEAN:
        word = text.lower()
        value = True if word in ("true", "1") else False if word in ("false", "0") else None
        if value is None:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"Invalid boolean value for field '{field}'")
    elif type is TypedParamType.DOUBLE:
        try:
            value = float(text)
        except ValueError:
            value = None
    else:
        import re

        m = re.match(_C_INTEGER, text)
        if m is not None:
            sign, magnitude = m.group(1), int(m.group(2))
            if type is TypedParamType.UINT:
                value = _c_unsigned(sign, magnitude, 32)
            elif type is TypedParamType.ULLONG:
                value = _c_unsigned(sign, magnitude, 64)
            else:
                number = -magnitude if sign == "-" else magnitude
                low, high = _RANGES[type]
                value = number if low <= number <= high else None
    if value is None:
        raise InvalidArgumentError(
            ErrorCode.INVALID_ARG, f"Invalid value for field '{field}': expected {_STRING_EXPECTED[type]}"
        )
    return typed_param(field, type, value)


def format_typed_value(param: TypedParam) -> str:
    """A value as virsh prints it (vshGetTypedParamValue): ``%f`` doubles, ``yes``/``no`` booleans."""
    if param.type == TypedParamType.DOUBLE:
        return f"{param.value:f}"
    if param.type == TypedParamType.BOOLEAN:
        return "yes" if param.value else "no"
    return str(param.value)
