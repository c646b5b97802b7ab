"""User name and password for a host: the URI's user, then libvirt's auth file, as libvirt's ESX driver asks.

libvirt's auth file (``$LIBVIRT_AUTH_FILE``, else
``$XDG_CONFIG_HOME/libvirt/auth.conf``, else ``/etc/libvirt/auth.conf``) is a
key file: ``[auth-esx-HOST]`` (or ``[auth-esx-default]``) names a
``credentials=`` group, and ``[credentials-NAME]`` holds ``username=`` and
``password=``. The ESX driver asks for service ``esx`` with the host name of
the URI, whatever the scheme.
"""

from __future__ import annotations

import configparser
import os
from pathlib import Path

from pyvirt.errors import Error, ErrorCode, ErrorDomain

__all__ = ["auth_file_path", "lookup_credential"]


def auth_file_path() -> Path | None:
    env = os.environ.get("LIBVIRT_AUTH_FILE")
    if env:
        return Path(env)
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    for candidate in (config_home / "libvirt" / "auth.conf", Path("/etc/libvirt/auth.conf")):
        if candidate.exists():
            return candidate
    return None


def lookup_credential(kind: str, service: str, host: str) -> str | None:
    """The ``username`` or ``password`` the auth file gives for ``service`` on ``host``; None when it has none."""
    path = auth_file_path()
    if path is None:
        return None
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case, as in libvirt
    try:
        text = path.read_text()
        parser.read_string(text, source=str(path))
    except OSError as err:
        raise Error(ErrorCode.CONF_SYNTAX, f"cannot read {path}: {err.strerror}", domain=ErrorDomain.AUTH) from None
    except configparser.Error as err:
        raise Error(ErrorCode.CONF_SYNTAX, f"{path}: {err.message}", domain=ErrorDomain.AUTH) from None
    for group in (f"auth-{service}-{host}", f"auth-{service}-default"):
        if parser.has_section(group):
            creds = parser.get(group, "credentials", fallback=None)
            if creds is None:
                raise Error(ErrorCode.CONF_SYNTAX, f"Missing item 'credentials' in group '{group}' in '{path}'",
                            domain=ErrorDomain.AUTH)  # fmt: skip
            section = f"credentials-{creds}"
            if not parser.has_section(section):
                raise Error(ErrorCode.CONF_SYNTAX, f"Missing group 'credentials-{creds}' referenced from group "
                            f"'{group}' in '{path}'", domain=ErrorDomain.AUTH)  # fmt: skip
            return parser.get(section, kind, fallback=None)
    return None
