"""The client configuration file, in libvirt's ``libvirt.conf`` syntax.

Read from ``$PYVIRT_CONFIG`` if set, else ``/etc/pyvirt/pyvirt.conf`` for
root and ``$XDG_CONFIG_HOME/pyvirt/pyvirt.conf`` (``~/.config/…``) for
everyone else, mirroring where libvirt looks for its own client config.
Supported keys: ``uri_default`` (string) and ``uri_aliases`` (list of
``"name=uri"`` strings). The syntax is libvirt's: ``key = value`` lines,
``#`` comments, double- or single-quoted strings, integers and ``[ … ]``
lists that may span lines: one parser, :mod:`pyvirt.util.virconf`, reads
every configuration file pyvirt has.
"""

from __future__ import annotations

import os

from pyvirt.errors import Error, ErrorCode, ErrorDomain

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple
else:
    from pyvirt.util.named_tuple import NamedTuple

__all__ = ["ClientConfig", "config_path", "load_client_config"]


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


# The keys of libvirt 9.0's libvirt.conf (src/libvirt.conf): a typo in either is an error, not silence.
_KEYS = frozenset({"uri_default", "uri_aliases"})


def load_client_config(path: str | None = None) -> ClientConfig:
    """The client configuration, read with the one parser of libvirt's syntax (:mod:`pyvirt.util.virconf`).

    A missing file is an empty configuration, as for libvirt; it is told
    apart before the parser is imported, which a short ``pyvirsh`` run on a
    host without the file (the usual case) then never pays for.
    """
    path = path or config_path()
    try:
        os.stat(path)
    except FileNotFoundError:
        return ClientConfig()
    except OSError:
        pass  # the parser reports it, in libvirt's words
    from pyvirt.util.virconf import read_conf_lines

    values, lines = read_conf_lines(path)

    def bad(key: str, why: str) -> Error:
        # the same shape as the drivers' typed settings: FILE:LINE: KEY: why
        return Error(ErrorCode.CONF_SYNTAX, f"{path}:{lines.get(key, 0)}: {key}: {why}", domain=ErrorDomain.CONF)

    for key in values:
        if key not in _KEYS:
            raise bad(key, "unknown setting")
    default = values.get("uri_default")
    aliases = values.get("uri_aliases", [])
    if default is not None and not isinstance(default, str):
        raise bad("uri_default", "must be a string")
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise bad("uri_aliases", "must be a list of strings")
    return ClientConfig(default, tuple(str(a) for a in aliases))
