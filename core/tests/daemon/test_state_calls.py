"""pyvirtd reaches the drivers' state hooks through a typed facade (:class:`pyvirt.daemon.state_calls.StateCalls`).

The daemon's state code called ``pm.hook.state_*`` directly, untyped, and read
each answer its own way: a driver whose state has no ``state_shutdown_wait``
(nothing in flight to wait for; pluggy answers None) was logged as "work still
in flight" and the shutdown reported as unfinished.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyvirt.daemon
from pyvirt.daemon.sockets import daemon_paths
from pyvirt.daemon.state import DaemonState
from pyvirt.daemon.state_calls import StateCalls
from pyvirt.plugin import hookimpl


class ToyStateDriver:
    """A driver with state that initializes, reloads and cleans up, and has no work to wait for."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    @hookimpl
    def state_initialize(self, privileged: bool, root: str | None) -> bool:
        self.calls.append(("initialize", (privileged, root)))
        return True

    @hookimpl
    def state_reload(self) -> None:
        self.calls.append(("reload", None))

    @hookimpl
    def state_cleanup(self) -> None:
        self.calls.append(("cleanup", None))


class NoState:
    """A driver without state hooks: the daemon opens it like any connection instead."""


def test_a_driver_without_state_hooks_gets_no_facade() -> None:
    assert StateCalls.bind(NoState(), "nostate") is None


def test_the_daemon_drives_a_state_through_the_facade(tmp_path: Path) -> None:
    driver = ToyStateDriver()
    calls = StateCalls.bind(driver, "toy")
    assert calls is not None
    assert calls.initialize(privileged=False, root=str(tmp_path)) is True
    daemon = DaemonState(daemon_paths(root=str(tmp_path)))
    daemon._states.append(calls)
    daemon._reload()
    assert daemon.shutdown_wait(timeout=1) is True  # nothing in flight: finished, not "still in flight"
    daemon.cleanup()
    assert driver.calls == [("initialize", (False, str(tmp_path))), ("reload", None), ("cleanup", None)]


def test_no_daemon_module_calls_a_hook_past_the_facade() -> None:
    package = Path(pyvirt.daemon.__file__).parent
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path.name != "state_calls.py" and re.search(r"\bhook\.state_\w+\(", path.read_text())
    ]
    assert offenders == []
