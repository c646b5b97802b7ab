"""Domain states and state reasons with libvirt's numbers and virsh's words."""

from __future__ import annotations

# mypy treats any constant named TYPE_CHECKING as true: it sees IntEnum classes below. At run time each is a
# table of pyvirt.util.int_enum (the ``enum`` module's class statement checks cost every pyvirsh run about 2.5
# million instructions for these 44 members), made when its name is first read (pyvirt.util.deferred): a
# table is an ``int`` subclass, about 250,000 instructions each, and a run that only prints states (list,
# dominfo through pyvirtd) reads none of them.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import enum

    _IntEnumBody = enum.IntEnum
else:
    from pyvirt.util.deferred import Deferred, build_on_first_use
    from pyvirt.util.int_enum import IntEnumBody

    _IntEnumBody = Deferred("_IntEnumBody", (), {})

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


if not TYPE_CHECKING:  # mypy reads the class statements; a module __getattr__ would hide misspelled names from it

    def _table(name: str, body: dict[str, object]) -> type:
        return type(IntEnumBody)(name, (IntEnumBody,), body)  # what the statement deriving from it makes

    __getattr__, __dir__ = build_on_first_use(globals(), _table)


_STATE_TEXT = ("no state", "running", "idle", "paused", "in shutdown", "shut off", "crashed", "pmsuspended")

# virsh's words for each state's reasons, by state number (DomainState's order; a table keyed by its members
# would make the table)
_REASON_TEXT: tuple[tuple[str, ...], ...] = (
    ("unknown",),  # NOSTATE
    (  # RUNNING
        "unknown", "booted", "migrated", "restored", "from snapshot", "unpaused",
        "migration canceled", "save canceled", "event wakeup", "crashed", "post-copy", "post-copy failed",
    ),
    ("unknown",),  # BLOCKED
    (  # PAUSED
        "unknown", "user", "migrating", "saving", "dumping", "I/O error", "watchdog", "from snapshot",
        "shutting down", "creating snapshot", "crashed", "starting up", "post-copy", "post-copy failed",
    ),
    ("unknown", "user"),  # SHUTDOWN
    (  # SHUTOFF
        "unknown", "shutdown", "destroyed", "crashed", "migrated", "saved", "failed", "from snapshot", "daemon",
    ),
    ("unknown", "panicked"),  # CRASHED
    ("unknown",),  # PMSUSPENDED
)  # fmt: skip


def state_text(state: int) -> str:
    """virsh's word for a state (``running``, ``shut off``, …)."""
    return _STATE_TEXT[state] if 0 <= state < len(_STATE_TEXT) else "unknown"


def reason_text(state: int, reason: int) -> str:
    """virsh's word for a state reason (``booted``, ``destroyed``, …)."""
    words = _REASON_TEXT[state] if 0 <= state < len(_REASON_TEXT) else ("unknown",)
    return words[reason] if 0 <= reason < len(words) else "unknown"
