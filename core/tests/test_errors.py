"""The exception tree carries libvirt's numbers and wording."""

from __future__ import annotations

import pyvirt
from pyvirt.errors import ErrorCode, ErrorDomain, make_error


def test_numbers_match_libvirt() -> None:
    assert ErrorCode.OPERATION_DENIED == 29
    assert ErrorCode.XML_ERROR == 27
    assert ErrorCode.NO_DOMAIN == 42
    assert ErrorCode.CONFIG_UNSUPPORTED == 67
    assert ErrorCode.MULTIPLE_DOMAINS == 110
    assert ErrorDomain.QEMU == 10 and ErrorDomain.AUDIT == 36 and ErrorDomain.CH == 72


def test_messages_and_classes() -> None:
    e = make_error(ErrorCode.NO_DOMAIN, "no domain with matching name 'x'")
    assert isinstance(e, pyvirt.NotFoundError)
    assert e.message == "Domain not found: no domain with matching name 'x'"
    e = make_error(ErrorCode.OPERATION_DENIED, "read only access prevents virDomainDefineXML")
    assert isinstance(e, pyvirt.OperationDeniedError)
    assert e.message == "operation forbidden: read only access prevents virDomainDefineXML"
    e = make_error(ErrorCode.NO_SUPPORT, "virDomainSave")
    assert e.message == "this function is not supported by the connection driver: virDomainSave"
    assert make_error(ErrorCode.NO_SUPPORT).message == "this function is not supported by the connection driver"
    assert isinstance(make_error(ErrorCode.XML_ERROR, "x"), pyvirt.XMLError)
    assert repr(e).startswith("NotSupportedError(code=NO_SUPPORT")


def test_the_code_decides_the_class_for_every_code() -> None:
    """Whatever class a raise site names, ``except`` by class matches libvirt's code (issue: 81 sites disagreed)."""
    from pyvirt import errors as E  # noqa: N812 - short: every line below names a class of it

    family = [E.Error, E.InternalError, E.InvalidArgumentError, E.NotSupportedError, E.OperationInvalidError,
              E.OperationDeniedError, E.OperationFailedError, E.NotFoundError, E.AlreadyExistsError, E.XMLError,
              E.ConnectionError]  # fmt: skip
    for code in E.ErrorCode:
        want = E._CLASS_BY_CODE.get(code, E.Error)
        for cls in family:
            err = cls(code, "detail", domain=E.ErrorDomain.QEMU)
            assert type(err) is want, (cls.__name__, code.name, type(err).__name__)
            assert (err.code, err.domain, err.detail) == (code, E.ErrorDomain.QEMU, "detail")
    assert type(E.SystemCallError(2, "open")) is E.SystemCallError  # its own subclass keeps its class
    assert isinstance(E.make_error(E.ErrorCode.NO_DOMAIN), E.NotFoundError)
