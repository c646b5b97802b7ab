"""Call arguments as libvirtd's C code sees them: every XDR string cut at its first NUL, nothing else touched."""

from __future__ import annotations

from pyvirt.daemon.remote_program import c_strings


def test_strings_are_cut_at_the_first_nul_at_any_depth() -> None:
    args = (("web\0junk", b"\0" * 16, 3), ["a\0b", "c"], None, 0, ("x", ("y\0", 1)))
    assert c_strings(args) == (("web", b"\0" * 16, 3), ["a", "c"], None, 0, ("x", ("y", 1)))
    assert type(c_strings(args)[1]) is list


def test_arguments_without_a_nul_are_passed_on_as_they_are() -> None:
    """The common case costs no copy: the very tuple decoded is what the handler gets."""
    args = (("web", b"\0" * 16, 3), 0, ["a", "b"])
    assert c_strings(args) is args
    partly = (("web", b"", 3), ["\0a", "b"])
    cut = c_strings(partly)
    assert cut[0] is partly[0] and cut[1] == ["", "b"]
