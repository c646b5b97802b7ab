"""The client configuration file, in libvirt's ``libvirt.conf`` syntax.

Read from ``$PYVIRT_CONFIG`` if set, else ``/etc/pyvirt/pyvirt.conf`` for
root and ``$XDG_CONFIG_HOME/pyvirt/pyvirt.conf`` (``~/.config/…``) for
everyone else, mirroring where libvirt looks for its own client config.
Supported keys: ``uri_default`` (string) and ``uri_aliases`` (list of
``"name=uri"`` strings). The syntax is libvirt's: ``key = value`` lines,
``#`` comments, double- or single-quoted strings, integers and ``[ … ]``
lists that may span lines.
"""

import errno
import os
import re
from typing import NamedTuple

from pyvirt.errors import Error, ErrorCode, ErrorDomain, SystemCallError
from pyvirt.util.fileio import MAX_CONFIG_FILE, read_limited

__all__ = ["ClientConfig", "config_path", "load_client_config", "parse_conf"]

ConfValue = str | int | list[str | int]

# Compiled on first use (re caches it): most runs have no configuration file to read.
_TOKEN_PATTERN = r"""\s*(?:
        (?P<comment>\#[^\n]*) |
        (?P<newline>\n) |
        (?P<name>[A-Za-z_][A-Za-z0-9_.]*) |
        (?P<str>"(?:[^"\\\n]|\\.)*"|'[^'\n]*') |
        (?P<int>-?\d+) |
        (?P<punct>[=\[\],;])
    )"""


def _syntax(path: str, line: int, why: str) -> Error:
    return Error(ErrorCode.CONF_SYNTAX, f"{path}:{line}: {why}", domain=ErrorDomain.CONF)


def parse_conf(text: str, path: str = "<string>") -> dict[str, ConfValue]:
    """Parse libvirt-style ``key = value`` configuration text."""
    tokens: list[tuple[str, str, int]] = []
    token = re.compile(_TOKEN_PATTERN, re.VERBOSE)
    pos, line = 0, 1
    while pos < len(text):
        if text[pos] in " \t\r":
            pos += 1
            continue
        m = token.match(text, pos)
        if not m or m.end() == pos:
            raise _syntax(path, line, f"unexpected character {text[pos]!r}")
        kind = m.lastgroup or ""
        if kind == "newline":
            line += 1
        elif kind != "comment":
            tokens.append((kind, m.group(kind), line))
        pos = m.end()

    out: dict[str, ConfValue] = {}
    i = 0

    def scalar(tok: tuple[str, str, int]) -> str | int:
        kind, value, ln = tok
        if kind == "str":
            body = value[1:-1]
            return re.sub(r"\\(.)", r"\1", body) if value[0] == '"' else body
        if kind == "int":
            return int(value)
        raise _syntax(path, ln, f"expected a value, got {value!r}")

    while i < len(tokens):
        kind, name, ln = tokens[i]
        if kind != "name":
            raise _syntax(path, ln, f"expected a setting name, got {name!r}")
        if i + 2 > len(tokens) or tokens[i + 1][1] != "=":
            raise _syntax(path, ln, f"expected '=' after '{name}'")
        i += 2
        if i >= len(tokens):
            raise _syntax(path, ln, f"missing value for '{name}'")
        if tokens[i][1] == "[":
            items: list[str | int] = []
            i += 1
            while i < len(tokens) and tokens[i][1] != "]":
                if tokens[i][1] == ",":
                    i += 1
                    continue
                items.append(scalar(tokens[i]))
                i += 1
            if i >= len(tokens):
                raise _syntax(path, ln, f"unterminated list for '{name}'")
            i += 1
            out[name] = items
        else:
            out[name] = scalar(tokens[i])
            i += 1
        if i < len(tokens) and tokens[i][1] == ";":
            i += 1
    return out


class ClientConfig(NamedTuple):
    uri_default: str | None = None
    uri_aliases: tuple[str, ...] = ()


def config_path() -> str:
    if "PYVIRT_CONFIG" in os.environ:
        return os.environ["PYVIRT_CONFIG"]
    if os.geteuid() == 0:
        return "/etc/pyvirt/pyvirt.conf"
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "pyvirt", "pyvirt.conf")


def load_client_config(path: str | None = None) -> ClientConfig:
    path = path or config_path()
    try:
        with open(path, "rb") as f:  # at most libvirt's 1 MiB for a configuration file (virConfReadFile)
            text = read_limited(f, path, MAX_CONFIG_FILE).decode("utf-8")
    except FileNotFoundError:
        return ClientConfig()
    except OSError as exc:  # unreadable, a directory, ...: libvirt's virConfReadFile fails the open the same way
        verb = "read" if exc.errno == errno.EOVERFLOW else "open"  # virFileReadAll's words for each
        raise SystemCallError(exc.errno or 0, f"Failed to {verb} file '{path}'") from exc
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise _syntax(path, line, f"byte {exc.object[exc.start]:#04x} is not UTF-8 text") from exc
    values = parse_conf(text, path)
    default = values.get("uri_default")
    aliases = values.get("uri_aliases", [])
    if default is not None and not isinstance(default, str):
        raise Error(ErrorCode.CONF_SYNTAX, f"{path}: 'uri_default' must be a string", domain=ErrorDomain.CONF)
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise Error(ErrorCode.CONF_SYNTAX, f"{path}: 'uri_aliases' must be a list of strings", domain=ErrorDomain.CONF)
    return ClientConfig(default, tuple(str(a) for a in aliases))
