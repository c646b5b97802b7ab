"""The xl.cfg/xm lexer reads runs of characters at once; line numbers and value boundaries must stay virconf.c's."""

from __future__ import annotations

import pytest
from pyvirt_xen import conf_file
from pyvirt_xen.conf_file import parse_conf, write_conf

from pyvirt.errors import Error, ErrorCode


def test_values_comments_and_triple_quoted_strings() -> None:
    text = (
        "# header\n"
        "name = 'a\"b' # trailing\n"
        'disk = [ "x,y", # first\n'
        "\n"
        "  'z' ,\n"
        "]\n"
        'extra = """one\n'
        'two"""; memory = -12\n'
        "v.f+x-1 = [ 1, [ 2 ] ]\n"
    )
    conf = parse_conf(text)
    assert conf.items() == [
        ("name", 'a"b'),
        ("disk", ["x,y", "z"]),
        ("extra", "one\ntwo"),
        ("memory", -12),
        ("v.f+x-1", [1, [2]]),
    ]
    assert write_conf(conf).startswith('name = \'a"b\'\ndisk = [ "x,y", "z" ]\nextra = """one\ntwo"""\n')


@pytest.mark.parametrize(
    ("text", "line", "info"),
    [
        ('a = """x\ny\nz""" junk\n', 3, "expecting a separator"),
        ("a = [ 1, # c\n\n 2\n", 4, "expecting a separator in list"),
        ("a = [ # c\n\n", 3, "list is not closed with ]"),
        ("a = 1\n# c\n\n  9b = 2\n", 4, "expecting a name"),
        ("a = 'x\n'\n", 1, "unterminated string"),
        ('a = [ "x"\n\n "y" ]\n', 3, "expecting a separator in list"),
        ("\u00e9 = 1\n", 1, "expecting a name"),
    ],
)
def test_syntax_errors_carry_virconf_line_numbers(text: str, line: int, info: str) -> None:
    with pytest.raises(Error) as err:
        parse_conf(text)
    assert err.value.code == ErrorCode.CONF_SYNTAX
    assert f"line {line}: {info}" in err.value.message


def test_lexer_moves_by_runs_not_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stepping one character per call was a quarter of a conversion's time: the steps must follow tokens, not length."""
    calls = 0
    advance = conf_file._Parser.advance

    def counting(self: conf_file._Parser, n: int = 1) -> None:
        nonlocal calls
        calls += 1
        advance(self, n)

    monkeypatch.setattr(conf_file._Parser, "advance", counting)
    value, comment = '"' + "v" * 2000 + '"', "c" * 2000
    text = "".join(f"k{i} = [ {value}, 'w' ] # {comment}\n" for i in range(300))
    conf = parse_conf(text)
    assert conf.get("k299") == ["v" * 2000, "w"]
    assert calls < 40 * 300
