"""``pyvirsh screenshot``: save an image of a guest's screen, as virsh's cmdScreenshot does.

Without a file name the image goes to ``DOMAIN-YYYY-MM-DD-HH:MM:SS`` plus
the extension of its MIME type (``.png``, ``.ppm``) in the current
directory. An existing file is overwritten; a file the command created is
removed again when the image cannot be written.
"""

from __future__ import annotations

import os
import time

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_domain
from pyvirt.errors import Error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

_EXTENSIONS = {"image/x-portable-pixmap": ".ppm", "image/png": ".png"}


def _open_target(path: str) -> tuple[int, bool]:
    """(fd, created): create the file, or truncate the one already there."""
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), True
    except FileExistsError:
        pass
    except OSError:
        raise CommandError(f"cannot create file {path}") from None
    try:
        return os.open(path, os.O_WRONLY | os.O_TRUNC, 0o666), False
    except OSError:
        raise CommandError(f"cannot create file {path}") from None


@command(
    "screenshot", "take a screenshot of a current domain console and store it into a file",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("file", "where to store the screenshot", positional=True, kind="optstring"),
    Opt("screen", "ID of a screen to take screenshot of", positional=True, kind="number"),
    description="screenshot of a current domain console",
)  # fmt: skip
def cmd_screenshot(s: Session, o: dict[str, Any]) -> None:
    import contextlib

    screen = o["screen"] or 0
    if not 0 <= screen < 2**32:
        raise CommandError(f"Numeric value '{screen}' for <screen> option is malformed or out of range")
    name = o["domain"]
    dom = get_domain(s, name)
    try:
        mime, image = dom.screenshot(screen, 0)
    except Error as exc:
        raise CommandError(f"could not take a screenshot of {name}", exc.message) from None
    path = o["file"] or f"{dom.name}-{time.strftime('%Y-%m-%d-%H:%M:%S')}{_EXTENSIONS.get(mime, '')}"
    fd, created = _open_target(path)
    try:
        view = memoryview(image)
        while view:
            view = view[os.write(fd, view) :]
    except OSError:
        os.close(fd)
        if created:
            with contextlib.suppress(OSError):
                os.unlink(path)
        raise CommandError(f"could not receive data from domain '{name}'") from None
    os.close(fd)
    s.extra_raw(f"Screenshot saved to {path}, with type of {mime}")
