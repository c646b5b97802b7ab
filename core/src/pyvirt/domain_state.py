"""Domain states and state reasons with libvirt's numbers and virsh's words."""

from __future__ import annotations

from pyvirt.errors import _int_enum

# mypy treats any constant named TYPE_CHECKING as true: it sees IntEnum classes below. At run time they are
# built as pyvirt.errors builds its codes (``_int_enum``): the class statement's checks of every member cost
# every pyvirsh run about 2.5 million instructions for these 44 members.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import enum

    _IntEnumBody = enum.IntEnum
else:  # the class statements below make the tables themselves (no throw-away class)
    from pyvirt.util.int_enum import IntEnumBody as _IntEnumBody

__all__ = [
    "DomainState",
    "PausedReason",
    "RunningReason",
    "ShutdownReason",
    "ShutoffReason",
    "reason_text",
    "state_text",
]


class DomainState(_IntEnumBody):
    """virDomainState."""

    NOSTATE = 0
    RUNNING = 1
    BLOCKED = 2
    PAUSED = 3
    SHUTDOWN = 4
    SHUTOFF = 5
    CRASHED = 6
    PMSUSPENDED = 7


class RunningReason(_IntEnumBody):
    """virDomainRunningReason."""

    UNKNOWN = 0
    BOOTED = 1
    MIGRATED = 2
    RESTORED = 3
    FROM_SNAPSHOT = 4
    UNPAUSED = 5
    MIGRATION_CANCELED = 6
    SAVE_CANCELED = 7
    WAKEUP = 8
    CRASHED = 9
    POSTCOPY = 10
    POSTCOPY_FAILED = 11


class PausedReason(_IntEnumBody):
    """virDomainPausedReason."""

    UNKNOWN = 0
    USER = 1
    MIGRATION = 2
    SAVE = 3
    DUMP = 4
    IOERROR = 5
    WATCHDOG = 6
    FROM_SNAPSHOT = 7
    SHUTTING_DOWN = 8
    SNAPSHOT = 9
    CRASHED = 10
    STARTING_UP = 11
    POSTCOPY = 12
    POSTCOPY_FAILED = 13


class ShutdownReason(_IntEnumBody):
    """virDomainShutdownReason."""

    UNKNOWN = 0
    USER = 1


class ShutoffReason(_IntEnumBody):
    """virDomainShutoffReason."""

    UNKNOWN = 0
    SHUTDOWN = 1
    DESTROYED = 2
    CRASHED = 3
    MIGRATED = 4
    SAVED = 5
    FAILED = 6
    FROM_SNAPSHOT = 7
    DAEMON = 8


if not TYPE_CHECKING:
    DomainState = _int_enum(DomainState)
    RunningReason = _int_enum(RunningReason)
    PausedReason = _int_enum(PausedReason)
    ShutdownReason = _int_enum(ShutdownReason)
    ShutoffReason = _int_enum(ShutoffReason)


_STATE_TEXT = ("no state", "running", "idle", "paused", "in shutdown", "shut off", "crashed", "pmsuspended")

_REASON_TEXT: dict[int, tuple[str, ...]] = {
    DomainState.RUNNING: (
        "unknown", "booted", "migrated", "restored", "from snapshot", "unpaused",
        "migration canceled", "save canceled", "event wakeup", "crashed", "post-copy", "post-copy failed",
    ),
    DomainState.PAUSED: (
        "unknown", "user", "migrating", "saving", "dumping", "I/O error", "watchdog", "from snapshot",
        "shutting down", "creating snapshot", "crashed", "starting up", "post-copy", "post-copy failed",
    ),
    DomainState.SHUTDOWN: ("unknown", "user"),
    DomainState.SHUTOFF: (
        "unknown", "shutdown", "destroyed", "crashed", "migrated", "saved", "failed", "from snapshot", "daemon",
    ),
    DomainState.CRASHED: ("unknown", "panicked"),
    DomainState.PMSUSPENDED: ("unknown",),
    DomainState.BLOCKED: ("unknown",),
    DomainState.NOSTATE: ("unknown",),
}  # fmt: skip


def state_text(state: int) -> str:
    """virsh's word for a state (``running``, ``shut off``, …)."""
    return _STATE_TEXT[state] if 0 <= state < len(_STATE_TEXT) else "unknown"


def reason_text(state: int, reason: int) -> str:
    """virsh's word for a state reason (``booted``, ``destroyed``, …)."""
    words = _REASON_TEXT.get(state, ("unknown",))
    return words[reason] if 0 <= reason < len(words) else "unknown"
