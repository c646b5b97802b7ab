"""Files named on a pyvirsh command line (``define FILE``, ``net-create FILE``), read as virsh reads them.

A module of its own so that the commands of every group that take a file
share one reader without importing each other: ``secret-define`` once
imported all of ``domain_cmds`` (and the connection and domain modules
behind it) for this one function, on every line that named a secret command.
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError
from pyvirt.errors import Error
from pyvirt.util.fileio import MAX_XML_FILE, read_text_capped

__all__ = ["read_file"]


def read_file(path: str) -> str:
    """A file named on the command line, at most 10 MiB as virsh reads it (``virFileReadAll``).

    Bytes that are not UTF-8 reach the XML parser as they are and are refused
    there with libxml2's error, as virsh's are: the command fails, the rest of
    a ``;`` line still runs.
    """
    try:
        return read_text_capped(path, MAX_XML_FILE)
    except Error as exc:
        raise CommandError(exc.message) from None
