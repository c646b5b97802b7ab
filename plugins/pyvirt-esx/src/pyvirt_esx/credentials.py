"""User name and password for a host: the URI's user, then libvirt's auth file, as libvirt's ESX driver asks.

libvirt's auth file (``$LIBVIRT_AUTH_FILE``, else
``$XDG_CONFIG_HOME/libvirt/auth.conf``, else ``/etc/libvirt/auth.conf``) is a
key file: ``[auth-esx-HOST]`` (or ``[auth-esx-default]``) names a
``credentials=`` group, and ``[credentials-NAME]`` holds ``username=`` and
``password=``. The ESX driver asks for service ``esx`` with the host name of
the URI, whatever the scheme.

The file is read as libvirt reads it, with GLib's key-file rules
(``g_key_file_load_from_file``, ``g_key_file_get_string``), not Python's
``configparser``: no ``:`` delimiter, no continuation lines, ``#`` comments
only, ``\\s \\n \\t \\r \\\\`` escapes in values, the last of a repeated key
wins. It is also cheaper: every ``pyvirsh -c esx://`` run reads it, and
``configparser`` with ``pathlib`` cost that run more than the parsing itself.
"""

from __future__ import annotations

import os

from pyvirt.errors import Error, ErrorCode, ErrorDomain

__all__ = ["auth_file_path", "lookup_credential", "parse_key_file"]

_ESCAPES = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


def auth_file_path() -> str | None:
    env = os.environ.get("LIBVIRT_AUTH_FILE")
    if env:
        return env
    config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    for candidate in (os.path.join(config_home, "libvirt", "auth.conf"), "/etc/libvirt/auth.conf"):
        if os.path.exists(candidate):
            return candidate
    return None


def _syntax(path: str, detail: str) -> Error:
    return Error(ErrorCode.CONF_SYNTAX, f"{path}: {detail}", domain=ErrorDomain.AUTH)


def _unescape(value: str, path: str) -> str:
    """g_key_file_parse_value_as_string: the escapes GLib knows; any other is an error there, and here."""
    if "\\" not in value:
        return value
    out: list[str] = []
    chars = iter(value)
    for ch in chars:
        if ch != "\\":
            out.append(ch)
            continue
        nxt = next(chars, "")
        if nxt not in _ESCAPES:
            raise _syntax(path, f"key file contains invalid escape sequence '\\{nxt}'")
        out.append(_ESCAPES[nxt])
    return "".join(out)


def parse_key_file(text: str, path: str) -> dict[str, dict[str, str]]:
    """Groups of a key file, as GLib's parser reads them: ``{group: {key: raw value}}`` (escapes not yet applied)."""
    groups: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r").lstrip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            end = line.find("]")
            if end < 0 or line[end + 1 :].strip() or not line[1:end] or "[" in line[1:end]:
                raise _syntax(path, f"line {lineno}: invalid group name: {line}")
            current = groups.setdefault(line[1:end], {})  # a group named twice is one group
            continue
        key, equals, value = line.partition("=")
        key = key.rstrip()
        if not equals or not key:
            raise _syntax(path, f"line {lineno}: key file contains line '{line}' which is not a key-value pair, "
                          "group, or comment")  # fmt: skip
        if current is None:
            raise _syntax(path, "key file does not start with a group")
        current[key] = value.lstrip()  # the last value of a repeated key wins, as in GLib
    return groups


def lookup_credential(kind: str, service: str, host: str) -> str | None:
    """The ``username`` or ``password`` the auth file gives for ``service`` on ``host``; None when it has none."""
    path = auth_file_path()
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as err:
        raise Error(ErrorCode.CONF_SYNTAX, f"cannot read {path}: {err.strerror}", domain=ErrorDomain.AUTH) from None
    except UnicodeDecodeError:
        raise _syntax(path, "key file contains invalid UTF-8") from None
    groups = parse_key_file(text, path)
    # virAuthConfigLookup: the host's group, else the service's default; neither: nothing to say
    group = f"auth-{service}-{host}" if f"auth-{service}-{host}" in groups else f"auth-{service}-default"
    if group not in groups:
        return None
    creds = groups[group].get("credentials")
    if creds is None:
        raise Error(ErrorCode.CONF_SYNTAX, f"Missing item 'credentials' in group '{group}' in '{path}'",
                    domain=ErrorDomain.AUTH)  # fmt: skip
    creds = _unescape(creds, path)
    section = groups.get(f"credentials-{creds}")
    if section is None:
        raise Error(ErrorCode.CONF_SYNTAX, f"Missing group 'credentials-{creds}' referenced from group "
                    f"'{group}' in '{path}'", domain=ErrorDomain.AUTH)  # fmt: skip
    value = section.get(kind)
    return None if value is None else _unescape(value, path)
