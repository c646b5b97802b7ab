"""Object names as file names: what a local driver stores under a name, and the names it cannot store.

A local driver keeps each domain, network or pool in files named after it
(``NAME.xml``, ``NAME.pid``, ``NAME.shared.monitor``, …), read back by every
later process. So:

- every ``*.xml`` file is a definition, dotfiles included: libvirt's
  ``virDirRead`` skips only ``.`` and ``..``, and names such as ``.``, ``..``
  or ``.x`` are valid (libvirt accepts them), so ``glob('*.xml')``, which
  hides dotfiles, would hide those objects from every later process and
  from the uniqueness checks;
- a name too long for a file name (NAME_MAX, 255 bytes on Linux) cannot be
  stored: libvirt fails when it writes the file ("Failed to create file
  …: File name too long"); here the same error comes before anything is
  created or started;
- a newline is refused in the name of a defined object, as libvirt's
  drivers refuse it (``virXMLCheckIllegalChars("name", name, "\\n")`` in
  qemuDomainDefineXMLFlags, lxcDomainDefineXMLFlags, networkDefineXML,
  storagePoolDefineXML).
"""

from __future__ import annotations

import errno
import os

from pyvirt.errors import ErrorCode, ErrorDomain, SystemCallError, XMLError

__all__ = ["NAME_SUFFIX_RESERVE", "check_defined_name", "check_storable_name", "definition_files", "storable"]

NAME_SUFFIX_RESERVE = 16
"""Bytes kept for the longest suffix a local driver appends to a name (qemu's ``.shared.monitor``)."""

_NAME_MAX = 255  # Linux's NAME_MAX; every filesystem a driver directory lives on has it


def definition_files(directory: str) -> list[tuple[str, str]]:
    """(name, path) of every ``NAME.xml`` in ``directory``, dotfiles included, sorted by name."""
    try:
        entries = os.listdir(directory)
    except FileNotFoundError:
        return []
    return sorted((e[:-4], os.path.join(directory, e)) for e in entries if e.endswith(".xml") and len(e) > 4)


def storable(name: str) -> bool:
    """Whether every file named after ``name`` fits in a directory entry."""
    return len(name.encode("utf-8", "surrogateescape")) + NAME_SUFFIX_RESERVE <= _NAME_MAX


def check_storable_name(name: str, path: str) -> None:
    """Refuse a name whose files cannot exist, with the error libvirt gives when it tries ``path``."""
    if not storable(name):
        shown = path if len(path) <= 4096 else f"{path[:4096]}..."  # PATH_MAX: a megabyte name is not echoed
        raise SystemCallError(errno.ENAMETOOLONG, f"Failed to create file '{shown}'")


def check_defined_name(name: str) -> None:
    """libvirt's define-time refusal of a newline in a name (VIR_ERR_XML_DETAIL, from the XML code)."""
    if "\n" in name:
        raise XMLError(ErrorCode.XML_DETAIL, "invalid char in name: \n", domain=ErrorDomain.XML)
