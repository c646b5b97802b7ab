"""The one way this plugin writes a configuration file: line by line, each line checked first.

dnsmasq reads its configuration, its DHCP hosts file and its extra hosts file
one line at a time, and every line of the main file is a directive: a value
carrying a newline (or a carriage return, which other readers take for one)
would add a directive of the writer's choosing, such as ``dhcp-script=``,
which dnsmasq runs as root. A NUL byte would cut the value short. And dnsmasq
reads lines with ``fgets`` into a 1025-byte buffer: the tail of a longer line
comes back as a line of its own, a directive again. So no line reaches a file
unless it has none of those characters and fits the buffer; the definition
checks (``pyvirt.conf.network.check_network``) refuse such values earlier,
this is the guarantee that holds whatever path a value took.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from pyvirt.errors import ErrorCode, NotSupportedError
from pyvirt.local_driver.status_file import atomic_write

__all__ = ["MAX_LINE_BYTES", "write_config"]

# fgets(buf, 1025, f) returns at most 1024 bytes, the newline included
MAX_LINE_BYTES = 1023
_FORBIDDEN = {"\n": "a newline", "\r": "a carriage return", "\0": "a NUL byte"}


def _refuse(path: str, line: str, why: str) -> NotSupportedError:
    key = line.split("=", 1)[0] if "=" in line[:40] else line[:40]
    return NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported configuration: cannot write '{key}' to "
                             f"'{path}': the value {why}", verbatim=True)  # fmt: skip


def write_config(path: str, lines: Iterable[str], mode: int = 0o644) -> None:
    """Write ``lines`` (each without its newline) atomically; refuse the whole file if one line is unsafe."""
    out = []
    for line in lines:
        for char, what in _FORBIDDEN.items():
            if char in line:
                raise _refuse(path, line, f"contains {what}")
        data = line.encode()
        if len(data) > MAX_LINE_BYTES:
            raise _refuse(path, line, f"makes a line of {len(data)} bytes, dnsmasq reads at most {MAX_LINE_BYTES}")
        out.append(data + b"\n")
    atomic_write(path, b"".join(out), mode)
    os.chmod(path, mode)  # whatever the umask: dnsmasq reads its hosts files after dropping root
