"""Asking the caller for a user name or password a driver needs, as libvirt's virConnectAuth callback does.

Why: libvirt's drivers that log in somewhere themselves (ESX's vSphere login
first) take credentials from the auth file, else from the callback the
caller passed to virConnectOpenAuth. virsh passes libvirt's default one,
which prompts on the terminal; a program that passed none gets "Missing
authentication credentials". pyvirt's open() takes no callback, so the
caller registers one for the process instead: pyvirsh registers
``terminal_prompt`` (virConnectAuthCallbackDefault's behaviour), and a
program that never registers one gets libvirt's error, never a prompt.
"""

from __future__ import annotations

import sys
from _collections_abc import Callable

# The exception classes are imported where raised: pyvirt.errors makes each when first named (it says why).
from pyvirt.errors import ErrorCode, ErrorDomain

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal

__all__ = ["Prompt", "ask", "set_prompt", "terminal_prompt"]

# (kind, prompt text without the ": ", default) -> the answer, or None when it could not be asked
Prompt = Callable[['Literal["authname", "passphrase"]', str, "str | None"], "str | None"]
_prompt: list[Prompt] = []


def set_prompt(prompt: Prompt | None) -> None:
    """Register the process's credential prompt (None: none, drivers then fail as libvirt's without one)."""
    _prompt[:] = [prompt] if prompt is not None else []


def ask(kind: Literal["authname", "passphrase"], prompt: str, default: str | None = None) -> str:
    """The answer of the registered prompt (virAuthGetUsername / virAuthGetPassword after the auth file)."""
    if not _prompt:
        from pyvirt.errors import InvalidArgumentError

        raise InvalidArgumentError(ErrorCode.INVALID_ARG, "Missing authentication credentials", domain=ErrorDomain.AUTH)
    answer = _prompt[0](kind, prompt, default)
    if answer is None:
        what = "Username" if kind == "authname" else "Password"
        from pyvirt.errors import ConnectionError

        raise ConnectionError(ErrorCode.AUTH_FAILED, f"{what} request failed", domain=ErrorDomain.AUTH)
    return answer or (default or "")


def terminal_prompt(kind: Literal["authname", "passphrase"], prompt: str, default: str | None) -> str | None:
    """libvirt's virConnectAuthCallbackDefault: ``PROMPT: `` on stdout, then a line (a password unechoed).

    A user name is read from stdin (end of input: the default); a password
    the way glibc's getpass reads it, from the terminal with echo off.
    """
    try:
        sys.stdout.write(f"{prompt}: ")
        sys.stdout.flush()
        if kind == "passphrase":
            import getpass

            return getpass.getpass("")
        line = sys.stdin.readline()
    except (OSError, EOFError):
        return None
    return line.rstrip("\n")
