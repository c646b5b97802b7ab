"""The exception tree carries libvirt's numbers and wording."""

from __future__ import annotations

import json

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


_ENUM_PROBE = r"""
import sys
from pyvirt.errors import ErrorCode, ErrorDomain
built_without_enum = "enum" not in sys.modules
import enum, pickle
for cls in (ErrorCode, ErrorDomain):
    members = [(m.name, m.value) for m in cls]
    # the IntEnum a class statement would have made from the same members, for comparison
    plain = enum.IntEnum(cls.__name__ + "Plain", members)
    assert cls.__module__ == "pyvirt.errors" and cls.__doc__
    assert len(cls) == len(plain) and list(cls.__members__) == list(plain.__members__)
    for m, p in zip(cls, plain):
        assert cls(m.value) is m and cls[m.name] is m and isinstance(m, int) and m == p
        assert (str(m), format(m), f"{m:d}", hash(m)) == (str(p), format(p), f"{p:d}", hash(p))
        assert repr(m) == repr(p).replace("Plain", "") and pickle.loads(pickle.dumps(m)) is m
    try:
        cls(100000)
    except ValueError as exc:
        assert str(exc) == f"100000 is not a valid {cls.__name__}", exc
    else:
        raise AssertionError("an unknown number must be refused, as by any IntEnum")
print(built_without_enum, len(ErrorCode), len(ErrorDomain))
"""


def test_error_enums_behave_as_intenums_built_without_the_enum_module() -> None:
    """ErrorCode and ErrorDomain are built by ``pyvirt.util.int_enum``: the ``enum`` module and the IntEnums
    built from these 184 members cost every pyvirsh run about 15 million instructions, even built the cheap
    way (``enum._simple_enum``). They must behave as a class statement's IntEnum would for everything
    callers use."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _ENUM_PROBE], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "111", "73"]


def test_no_raise_site_names_a_class_its_code_contradicts() -> None:
    """Every ``SomeError(ErrorCode.X, ...)`` in core and the plugins names the class code X maps to.

    The code decides the class at run time anyway (``Error.__new__``); this keeps
    the source from saying otherwise to its reader. Generated modules are skipped.
    """
    import ast
    from pathlib import Path

    from pyvirt import errors as E  # noqa: N812 - short: the lines below name its classes

    family = {name: getattr(E, name) for name in E._BY_CODE_FAMILY}
    root = Path(__file__).resolve().parents[2]
    wrong: list[str] = []
    for path in [*root.glob("core/src/**/*.py"), *root.glob("plugins/*/src/**/*.py")]:
        if "/remote/_" in str(path):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in family):
                continue
            code = node.args[0] if node.args else None
            if isinstance(code, ast.Attribute) and isinstance(code.value, ast.Name) and code.value.id == "ErrorCode":
                want = E._CLASS_BY_CODE.get(E.ErrorCode[code.attr], E.Error)
                if not issubclass(family[node.func.id], want):
                    wrong.append(
                        f"{path.relative_to(root)}:{node.lineno}: {node.func.id}({code.attr}) is a {want.__name__}"
                    )
    assert not wrong, "\n".join(wrong)


def test_no_raise_site_repeats_the_words_its_code_adds() -> None:
    """A message reads once: a detail never starts with the words its code's template puts before it.

    ``ConnectionError(NO_CONNECT, "no connection driver available for X")`` would
    read "no connection driver available for no connection driver available
    for X". A site that words the whole message itself says ``verbatim=True``.
    """
    import ast
    from pathlib import Path

    from pyvirt import errors as E  # noqa: N812 - short: the lines below name its tables

    root = Path(__file__).resolve().parents[2]
    callables = set(E._BY_CODE_FAMILY) | {"make_error"}
    repeated: list[str] = []
    for path in [*root.glob("core/src/**/*.py"), *root.glob("plugins/*/src/**/*.py")]:
        if "/remote/_" in str(path):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in callables):
                continue
            if len(node.args) < 2 or any(k.arg == "verbatim" for k in node.keywords):
                continue
            code, detail = node.args[0], node.args[1]
            if not (
                isinstance(code, ast.Attribute) and isinstance(code.value, ast.Name) and code.value.id == "ErrorCode"
            ):
                continue
            if isinstance(detail, ast.JoinedStr) and detail.values and isinstance(detail.values[0], ast.Constant):
                text = str(detail.values[0].value)
            elif isinstance(detail, ast.Constant) and isinstance(detail.value, str):
                text = detail.value
            else:
                continue
            lead = E._MESSAGES.get(E.ErrorCode[code.attr], ("", "%s"))[1].split("%s")[0].rstrip(": ")
            if lead and text.lower().startswith(lead.lower()):
                repeated.append(
                    f"{path.relative_to(root)}:{node.lineno}: {E.format_message(E.ErrorCode[code.attr], text)}"
                )
    assert not repeated, "\n".join(repeated)


_LAZY_PROBE = r"""
import json
import pyvirt.cli.main, pyvirt.uri, pyvirt.util.auth_prompt
import pyvirt.errors as E
def made():
    return sorted(n for n, v in vars(E).items() if isinstance(v, type) and issubclass(v, BaseException))
at_import = made()
from pyvirt.errors import NotFoundError
after_one = made()
try:
    pyvirt.uri.parse_uri("nodriver")
except E.ConnectionError as exc:
    caught = [type(exc).__name__, exc.code, exc.message]
system = E.SystemCallError(2, "open")  # its __init__'s super() works on the class made later
print(json.dumps([at_import, after_one, NotFoundError is E.NotFoundError, issubclass(NotFoundError, E.Error),
                  NotFoundError.__module__, NotFoundError.__doc__, caught, str(system), made(), "XMLError" in dir(E)]))
"""


def test_an_exception_class_is_made_when_first_named() -> None:
    """Every process loads pyvirt.errors and most raise nothing: its ten subclasses of Error (about a million
    instructions) are made when first named, and then are the classes the statements describe."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _LAZY_PROBE], capture_output=True, text=True, check=True)
    at_import, after_one, same, derived, module, doc, caught, system, made, listed = json.loads(out.stdout)
    assert (at_import, after_one) == (["Error"], ["Error", "NotFoundError"])
    assert (same, derived, module, doc, listed) == (True, True, "pyvirt.errors", "No object matches the lookup.", True)
    assert caught == ["ConnectionError", 5, "no connection driver available for URI 'nodriver' does not include a "
                      "driver name"]  # fmt: skip
    assert system == "open: No such file or directory"
    assert len(made) == 12  # the first error maps every code to its class
