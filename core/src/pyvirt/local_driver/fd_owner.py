"""Who associated descriptors with a domain (virDomainFDAssociate), so that they go when that client goes.

libvirt ties each group of associated descriptors to the virConnectPtr that
made it and drops the group in that connection's close callback
(qemuDomainFDHashCloseConnect). pyvirtd serves all its clients through one
shared driver connection, so the driver cannot tell clients apart by
connection: the daemon names the calling client here (:func:`owning`, around
the call) and says when it has gone (:func:`owner_closed`); a driver asks
:func:`current_owner` whom a new group belongs to and registers what to drop
with :func:`at_close`. In-process callers have no daemon around them: the
driver falls back to its own connection, released by its ``connect_close``.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Hashable, Iterator

__all__ = ["at_close", "current_owner", "owner_closed", "owning"]

_owner: contextvars.ContextVar[Hashable | None] = contextvars.ContextVar("pyvirt_fd_owner", default=None)
_at_close: dict[Hashable, list[Callable[[], object]]] = {}
_lock = threading.Lock()


@contextlib.contextmanager
def owning(owner: Hashable) -> Iterator[None]:
    """Calls within belong to ``owner`` (pyvirtd's client)."""
    token = _owner.set(owner)
    try:
        yield
    finally:
        _owner.reset(token)


def current_owner(default: Hashable) -> Hashable:
    """The client the daemon named for this call, else ``default`` (the driver's own connection)."""
    owner = _owner.get()
    return default if owner is None else owner


def at_close(owner: Hashable, fn: Callable[[], object]) -> None:
    """Run ``fn`` when :func:`owner_closed` reports ``owner`` gone (once; pyvirtd's clients only)."""
    with _lock:
        _at_close.setdefault(owner, []).append(fn)


def owner_closed(owner: Hashable) -> None:
    """``owner`` has gone: what drivers registered for it runs now."""
    with _lock:
        pending = _at_close.pop(owner, [])
    for fn in pending:
        fn()
