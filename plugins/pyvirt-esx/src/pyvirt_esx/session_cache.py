"""vSphere sessions kept between runs, as govc keeps them: one file per host, user and scheme.

Why: a vSphere login (the API version negotiation, the service content and
``Login``) costs more than the work of a short command such as ``pyvirsh
list``. govc keeps the session cookie of a login under the user's home and
reuses it while the host accepts it; so does this driver.

What a file holds: the API version pyVmomi negotiated, the session cookie,
the host's service content (serialized; it names the managers every call
goes to), and a verifier of the password the session was opened with. The
password itself is never written. The verifier (PBKDF2 with a random salt)
lets a later run tell whether it was given the same password: a different
one (a wrong password, or a password that has changed) never gets the
cached session, it logs in afresh, so a wrong password fails as it would
without the cache. The files are the user's alone: the directory is made
0700 and each file 0600 (a cookie is as good as the password while the
session lives); a file with other permissions or another owner is ignored.

Where: ``$XDG_CACHE_HOME/pyvirt/esx-sessions`` (else ``~/.cache/...``). A
file that cannot be read or written only costs the next run a login.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import stat

# mypy treats any constant named TYPE_CHECKING as true: it sees typing.NamedTuple, the run pyvirt's cheaper one
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple
else:
    from pyvirt.util.named_tuple import NamedTuple

__all__ = ["CachedSession", "SessionCache", "cache_directory"]

_FORMAT = 1
# PBKDF2 rounds for the password verifier: ~3 ms here, a cost each cached run pays once
_ROUNDS = 10_000


def cache_directory() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pyvirt", "esx-sessions")


def _verifier(password: str, salt: bytes) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _ROUNDS).hex()


class CachedSession(NamedTuple):  # pyvirt's NamedTuple, not a dataclass: cheaper for every short run
    version: str  # pyVmomi's name of the negotiated API version ("vim.version.version11")
    cookie: str  # the session cookie, as the host set it
    content: str  # the host's ServiceContent, serialized by pyVmomi


class SessionCache:
    """The cache file of one (scheme, transport, host, port, user)."""

    def __init__(self, scheme: str, transport: str, host: str, port: int, user: str) -> None:
        # one file per identity; the name is a digest so that user and host names need no escaping
        identity = json.dumps([scheme, transport, host.lower(), port, user])
        self.path = os.path.join(cache_directory(), hashlib.sha256(identity.encode()).hexdigest() + ".json")
        self.identity = identity

    def load(self, password: str) -> CachedSession | None:
        """The session kept for this identity, if it was opened with ``password``; else None."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return None
        try:
            info = os.fstat(fd)
            if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
                return None  # readable by others, or not the user's: never trusted
            with os.fdopen(fd, "rb", closefd=False) as f:
                doc = json.loads(f.read())
            if doc.get("format") != _FORMAT or doc.get("identity") != self.identity:
                return None
            expected = _verifier(password, bytes.fromhex(doc["salt"]))
            if not hmac.compare_digest(expected, doc["verifier"]):
                return None  # another password than the session's: log in with it, never serve this session
            return CachedSession(str(doc["version"]), str(doc["cookie"]), str(doc["content"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        finally:
            os.close(fd)

    def store(self, password: str, session: CachedSession) -> bool:
        """Keep ``session`` for the next run (atomically, 0600); False when the file cannot be written."""
        directory = os.path.dirname(self.path)
        salt = os.urandom(16)
        doc = {"format": _FORMAT, "identity": self.identity, "salt": salt.hex(),
               "verifier": _verifier(password, salt), "version": session.version, "cookie": session.cookie,
               "content": session.content}  # fmt: skip
        tmp = f"{self.path}.{os.getpid()}.tmp"
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as f:
                os.fchmod(fd, 0o600)  # whatever the umask
                f.write(json.dumps(doc).encode())
            os.replace(tmp, self.path)
            return True
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            return False

    def forget(self) -> None:
        """Drop the file (its session has expired or was logged out)."""
        with contextlib.suppress(OSError):
            os.unlink(self.path)
