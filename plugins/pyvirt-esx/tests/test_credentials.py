"""libvirt's auth file read as GLib's key-file parser reads it (libvirt 9.0's virAuthConfigLookup uses GKeyFile)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyvirt_esx.credentials import lookup_credential

from pyvirt.errors import Error, ErrorCode


@pytest.fixture
def auth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "auth.conf"
    monkeypatch.setenv("LIBVIRT_AUTH_FILE", str(path))
    return path


def test_host_group_then_default(auth: Path) -> None:
    auth.write_text(
        "# comment\n[credentials-a]\nusername = alice\npassword=  pa\\sss\\\\word\n\n"
        "  [credentials-b]\r\nusername=bob\r\nusername=bobby\r\n"  # indented group, CRLF, the last key wins
        "[auth-esx-host1]\ncredentials=a\n[auth-esx-default]\ncredentials=b\n"
    )
    assert lookup_credential("username", "esx", "host1") == "alice"
    assert lookup_credential("password", "esx", "host1") == "pa ss\\word"  # GLib's escapes, leading blanks dropped
    assert lookup_credential("username", "esx", "other") == "bobby"
    assert lookup_credential("password", "esx", "other") is None
    assert lookup_credential("username", "vnc", "host1") is None  # no group for the service: nothing to say


def test_what_glib_refuses_is_refused(auth: Path) -> None:
    for text, words in (
        ("[credentials-a]\nusername: alice\n", "which is not a key-value pair, group, or comment"),  # no ':' keys
        ("username=alice\n[credentials-a]\n", "key file does not start with a group"),
        ("[credentials-a\n", "invalid group name"),
        ("[auth-esx-default]\ncredentials=a\\q\n[credentials-a]\n", "invalid escape sequence"),
    ):
        auth.write_text(text)
        with pytest.raises(Error) as err:
            lookup_credential("username", "esx", "h")
        assert err.value.code == ErrorCode.CONF_SYNTAX and words in err.value.message, text


def test_libvirts_words_for_a_broken_reference(auth: Path) -> None:
    auth.write_text("[auth-esx-default]\nuser=x\n")
    with pytest.raises(Error) as err:
        lookup_credential("username", "esx", "h")
    assert f"Missing item 'credentials' in group 'auth-esx-default' in '{auth}'" in err.value.message
    auth.write_text("[auth-esx-h]\ncredentials=gone\n")
    with pytest.raises(Error) as err:
        lookup_credential("username", "esx", "h")
    assert f"Missing group 'credentials-gone' referenced from group 'auth-esx-h' in '{auth}'" in err.value.message
