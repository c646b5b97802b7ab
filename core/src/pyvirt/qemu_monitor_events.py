"""libvirt-qemu's monitor events (virConnectDomainQemuMonitorEventRegister): the event name filter and its flags.

One filter for both ends, because libvirt applies it where the callback
lives: pyvirtd filters what it sends a client that registered with a name
(virDomainQemuMonitorEventFilter in the daemon's event state), and an
in-process connection or pyvirt's remote client filters the QMP events its
driver or daemon delivers to the local callback.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["REGISTER_NOCASE", "REGISTER_REGEX", "event_filter"]

# virConnectDomainQemuMonitorEventRegisterFlags (pyvirt.flags is not loaded on this path: named by comment)
REGISTER_REGEX = 1  # VIR_CONNECT_DOMAIN_QEMU_MONITOR_EVENT_*
REGISTER_NOCASE = 2  # VIR_CONNECT_DOMAIN_QEMU_MONITOR_EVENT_*


def event_filter(event: str | None, flags: int) -> Callable[[str], bool]:
    """Which event names pass: all without a name; REGEX searches anywhere in the name (GLib's PCRE in libvirt,
    Python's ``re`` here); NOCASE makes the expression or the plain comparison caseless. Unknown flags and an
    expression that does not compile are refused in libvirt's words."""
    from pyvirt.plugin.flags import check_flags

    check_flags(flags, REGISTER_REGEX | REGISTER_NOCASE, "virDomainQemuMonitorEventStateRegisterID")
    if event is None:
        return lambda name: True
    if flags & REGISTER_REGEX:
        import re

        try:
            pattern = re.compile(event, re.IGNORECASE if flags & REGISTER_NOCASE else 0)
        except re.error as e:
            from pyvirt.errors import ErrorCode, InvalidArgumentError

            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"failed to compile regex '{event}': {e}") from e
        return lambda name: pattern.search(name) is not None
    if flags & REGISTER_NOCASE:
        folded = event.casefold()
        return lambda name: name.casefold() == folded
    return lambda name: name == event
