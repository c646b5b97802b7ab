"""A driver's credential request: the registered prompt answers, else libvirt's errors (virAuthGetUsername/Password)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pyvirt.errors import Error, ErrorCode
from pyvirt.util import auth_prompt


@pytest.fixture(autouse=True)
def no_prompt() -> Iterator[None]:
    auth_prompt.set_prompt(None)
    yield
    auth_prompt.set_prompt(None)


def test_without_a_prompt_the_caller_gets_missing_credentials() -> None:
    with pytest.raises(Error) as err:
        auth_prompt.ask("passphrase", "Enter root's password for esx1")
    assert err.value.code == ErrorCode.INVALID_ARG and err.value.message.endswith("Missing authentication credentials")


def test_the_registered_prompt_is_asked_with_libvirts_text() -> None:
    asked: list[tuple[str, str, str | None]] = []

    def prompt(kind: str, text: str, default: str | None) -> str:
        asked.append((kind, text, default))
        return "" if kind == "authname" else "pw"

    auth_prompt.set_prompt(prompt)
    assert auth_prompt.ask("authname", "Enter username for esx1 [root]", "root") == "root"  # empty: the default
    assert auth_prompt.ask("passphrase", "Enter root's password for esx1") == "pw"
    assert asked == [("authname", "Enter username for esx1 [root]", "root"),
                     ("passphrase", "Enter root's password for esx1", None)]  # fmt: skip


@pytest.mark.parametrize(("kind", "words"), [("authname", "Username request failed"),
                                             ("passphrase", "Password request failed")])  # fmt: skip
def test_a_prompt_that_cannot_ask_fails_the_request(kind: str, words: str) -> None:
    auth_prompt.set_prompt(lambda *_: None)
    with pytest.raises(Error) as err:
        auth_prompt.ask(kind, "Enter ...")  # type: ignore[arg-type]
    assert err.value.code == ErrorCode.AUTH_FAILED and words in err.value.message


def test_terminal_prompt_reads_a_user_name_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("alice\n"))
    assert auth_prompt.terminal_prompt("authname", "Enter username for esx1 [root]", "root") == "alice"
    assert capsys.readouterr().out == "Enter username for esx1 [root]: "
