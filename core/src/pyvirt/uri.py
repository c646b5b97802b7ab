"""Connection URIs with libvirt's grammar and rules.

``driver[+transport]://[user@][host][:port]/path[?param=value&…]``

- A name without ``:`` may be an alias from the client config (``uri_aliases``).
- No URI at all: ``$LIBVIRT_DEFAULT_URI``, then the config's ``uri_default``.
- ``qemu://system`` is the classic typo: rejected with "maybe you want qemu:///system".
- ``/embed?root=DIR`` asks for the driver embedded in this process, rooted at DIR.
"""

from __future__ import annotations

import os

from pyvirt.config import ClientConfig

# The exception classes are imported where raised: pyvirt.errors makes each when first named (it says why).
from pyvirt.errors import Error, ErrorCode, ErrorDomain

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple
else:
    from pyvirt.util.named_tuple import NamedTuple

__all__ = ["URI", "parse_uri", "resolve_uri"]

# No regular expressions at import or for an ordinary URI: ``re`` (with the patterns compiled at each
# start) was about 2 ms of a short pyvirsh run, which parses one URI. The grammar libvirt's parser
# accepts is written out in ``_split``; only a URI with %-escapes imports ``re``.
_PERCENT_RUN = r"(?:%[0-9A-Fa-f]{2})+"
_SCHEME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+.-")
_ALIAS_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def unquote(text: str) -> str:
    """``%XX`` escapes decoded as UTF-8 (invalid sequences replaced), as ``urllib.parse.unquote`` does.

    Not urllib.parse itself: it imports ipaddress and more, a few milliseconds
    of every ``pyvirsh`` start, for this one function.
    """
    if "%" not in text:
        return text
    import re

    return re.sub(_PERCENT_RUN, lambda m: bytes.fromhex(m.group(0).replace("%", "")).decode("utf-8", "replace"), text)


def _split(text: str) -> tuple[str, str, str, str] | None:
    r"""``scheme:[//authority]path[?query][#fragment]`` split into scheme, authority, path and query.

    The grammar, exactly as the regular expression it replaces::

        ^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*):(?://(?P<authority>[^/?#]*))?
        (?P<path>[^?#]*)(?:\?(?P<query>[^#]*))?(?:\#.*)?$

    so a fragment may not hold a newline except as its last character. None
    when ``text`` does not follow it.
    """
    scheme, colon, rest = text.partition(":")
    if not colon or not scheme or not ("A" <= scheme[0] <= "Z" or "a" <= scheme[0] <= "z"):
        return None
    if not _SCHEME_CHARS.issuperset(scheme):
        return None
    authority = ""
    if rest.startswith("//"):
        rest = rest[2:]
        end = len(rest)
        for stop in "/?#":
            at = rest.find(stop, 0, end)
            if at >= 0:
                end = at
        authority, rest = rest[:end], rest[end:]
    rest, hash_mark, fragment = rest.partition("#")
    if hash_mark and "\n" in fragment[:-1]:
        return None
    path, _, query = rest.partition("?")
    return scheme, authority, path, query


# Drivers whose URIs must have a path (libvirt's virConnectCheckURIMissingSlash list).
_PATH_MANDATORY = ("qemu", "vbox", "vz")


class URI(NamedTuple):
    """A parsed connection URI; ``str(uri)`` gives back the text (a NamedTuple: immutable, cheap to define)."""

    text: str
    scheme: str
    driver: str
    transport: str | None = None
    user: str | None = None
    server: str | None = None
    port: int | None = None
    path: str = ""
    params: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        return self.text

    def param(self, name: str) -> str | None:
        for key, value in self.params:
            if key == name:
                return value
        return None

    @property
    def is_remote(self) -> bool:
        """True when a transport or a host asks for the remote driver."""
        return self.transport is not None or bool(self.server)

    @property
    def is_embed(self) -> bool:
        return self.path == "/embed"

    def embed_root(self) -> str:
        """The ``root`` of an ``/embed`` URI, checked as libvirt checks it."""
        if not self.scheme or not all("a" <= c <= "z" for c in self.scheme):
            from pyvirt.errors import ConnectionError

            raise ConnectionError(ErrorCode.NO_CONNECT, f"URI scheme '{self.scheme}' for embedded driver is not valid")
        root = self.param("root")
        if root is None:
            from pyvirt.errors import InvalidArgumentError

            raise InvalidArgumentError(ErrorCode.INVALID_ARG, "Missing URI parameter 'root'", domain=ErrorDomain.URI)
        if not os.path.isabs(root):
            from pyvirt.errors import NotSupportedError

            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "root path must be absolute")
        return root


def parse_uri(text: str) -> URI:
    """Split a URI into its parts; no alias or default handling."""
    parts = _split(text)
    if parts is None:
        if ":" not in text:
            from pyvirt.errors import ConnectionError

            raise ConnectionError(ErrorCode.NO_CONNECT, f"URI '{text}' does not include a driver name")
        from pyvirt.errors import InvalidArgumentError

        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"Unable to parse URI {text}", domain=ErrorDomain.URI)
    scheme, authority, path, query = parts
    driver, _, transport = scheme.partition("+")
    user = server = None
    port = None
    if "@" in authority:
        user, authority = authority.rsplit("@", 1)
        user = unquote(user)
    if authority.startswith("["):  # IPv6 literal
        end = authority.find("]")
        server, rest = authority[1:end], authority[end + 1 :]
        if rest.startswith(":") and rest[1:]:
            port = int(rest[1:])
    elif ":" in authority:
        server, port_text = authority.rsplit(":", 1)
        if port_text:
            if not port_text.isdigit():
                from pyvirt.errors import InvalidArgumentError

                raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"Unable to parse URI {text}", domain=ErrorDomain.URI)
            port = int(port_text)
    else:
        server = authority or None
    params: list[tuple[str, str]] = []
    for piece in query.replace(";", "&").split("&"):
        if not piece:
            continue
        key, _, value = piece.partition("=")
        params.append((unquote(key.replace("+", " ")), unquote(value.replace("+", " "))))
    return URI(
        text=text,
        scheme=scheme,
        driver=driver,
        transport=transport or None,
        user=user,
        server=server or None,
        port=port,
        path=unquote(path),
        params=tuple(params),
    )


def _resolve_alias(name: str, config: ClientConfig) -> str | None:
    for entry in config.uri_aliases:
        if "=" not in entry:
            raise Error(
                ErrorCode.CONF_SYNTAX,
                f"Malformed 'uri_aliases' config entry '{entry}', expected 'alias=uri://host/path'",
                domain=ErrorDomain.CONF,
            )
        alias, target = entry.split("=", 1)
        # as re.match("^[A-Za-z0-9_-]+$") judged it: one newline may end the name
        if not alias.removesuffix("\n") or not _ALIAS_CHARS.issuperset(alias.removesuffix("\n")):
            raise Error(
                ErrorCode.CONF_SYNTAX,
                f"Malformed 'uri_aliases' config entry '{entry}', aliases may only contain 'a-Z, 0-9, _, -'",
                domain=ErrorDomain.CONF,
            )
        if alias == name:
            return target
    return None


def resolve_uri(name: str | None, config: ClientConfig, *, use_aliases: bool = True) -> URI:
    """libvirt's rules, in libvirt's order: default, alias, parse, sanity checks."""
    if name == "":
        name = None
    if name is not None and name.lower() == "xen":
        name = "xen:///system"
    if name is None:
        name = os.environ.get("LIBVIRT_DEFAULT_URI") or config.uri_default
        if not name:
            from pyvirt.errors import ConnectionError

            raise ConnectionError(
                ErrorCode.NO_CONNECT,
                "no default URI: pass one, set LIBVIRT_DEFAULT_URI, or set uri_default in the pyvirt config",
            )
    if use_aliases and ":" not in name:
        alias = _resolve_alias(name, config)
        if alias:
            name = alias
    uri = parse_uri(name)
    if uri.driver in _PATH_MANDATORY and uri.server in ("system", "session"):
        from pyvirt.errors import InternalError

        raise InternalError(
            ErrorCode.INTERNAL_ERROR, f"invalid URI {name} (maybe you want {uri.scheme}:///{uri.server})"
        )
    return uri
