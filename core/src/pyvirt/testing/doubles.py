"""Test doubles for driver authors: stand-ins for the parts of pyvirt a driver talks to.

- :class:`EventRecorder` is a real :class:`pyvirt.events.EventSink` that also
  keeps every event a driver emits, so a test asserts on what was emitted
  (and waits for events a driver emits from its own threads) without
  registering callbacks.
- :class:`RecordingSecurityDriver` is a complete security driver (every hook
  of the contract, ``@hookimpl``-marked) that changes nothing on the host,
  writes each call it receives to a journal, and fails on request at a chosen
  hook. A hypervisor driver's author puts it in the security stack to check
  that the driver calls libvirt's label lifecycle in order (GenLabel before
  SetAllLabel before the process starts; RestoreAllLabel and ReleaseLabel
  after it stops) and that a failure at any step is rolled back. Selected
  through ``security_driver = [ "NAME" ]`` in the driver's configuration
  once registered under an entry point, it is also how a test shows that an
  out-of-tree security driver is picked up by configuration alone.

Why doubles and not mocks: both run the real contract (pluggy validates the
hooks when the stack loads them, the sink is pyvirt's own), so a driver that
passes with them behaves the same with pyvirt's real security drivers and
event fan-out.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from pyvirt.conf.domain import Domain
from pyvirt.errors import ErrorCode, OperationFailedError
from pyvirt.events import EventSink
from pyvirt.plugin import CONTRACT_VERSION, hookimpl
from pyvirt.plugin.records import SecurityLabel
from pyvirt.util.command import Command

__all__ = ["EventRecorder", "RecordedEvent", "RecordingSecurityDriver", "SecurityCall"]


class RecordedEvent(NamedTuple):
    """One emitted event: its kind (``lifecycle``, ``network-lifecycle`` or an ``EVENT_KINDS`` key) and its record."""

    kind: str
    event: Any


class EventRecorder(EventSink):
    """An :class:`EventSink` that keeps what it is given; registered callbacks still run."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[RecordedEvent] = []
        self._arrived = threading.Condition()

    def _keep(self, kind: str, event: Any) -> None:
        with self._arrived:
            self.events.append(RecordedEvent(kind, event))
            self._arrived.notify_all()

    def lifecycle(self, domain: Any, event: int, detail: int) -> None:
        super().lifecycle(domain, event, detail)
        self._keep("lifecycle", (domain, int(event), int(detail)))

    def network_lifecycle(self, network: Any, event: int, detail: int = 0) -> None:
        super().network_lifecycle(network, event, detail)
        self._keep("network-lifecycle", (network, int(event), int(detail)))

    def emit(self, kind: str, event: Any) -> None:
        super().emit(kind, event)
        self._keep(kind, event)

    def of_kind(self, kind: str) -> list[Any]:
        """The records of one kind, in emission order."""
        with self._arrived:
            return [r.event for r in self.events if r.kind == kind]

    def wait_for(self, kind: str, match: Callable[[Any], bool] = lambda _e: True, timeout: float = 10.0) -> Any:
        """The first recorded event of ``kind`` that ``match`` accepts, waiting up to ``timeout`` seconds for it.

        Raises ``TimeoutError`` naming what arrived instead, so a failing
        test says which events the driver did emit.
        """
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for r in self.events:
                    if r.kind == kind and match(r.event):
                        return r.event
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = ", ".join(r.kind for r in self.events) or "nothing"
                    raise TimeoutError(f"no matching '{kind}' event within {timeout} s (recorded: {seen})")
                self._arrived.wait(left)


class SecurityCall(NamedTuple):
    """One hook call the recording driver received: the hook's name and the domain's name ("" for none)."""

    hook: str
    domain: str


class RecordingSecurityDriver:
    """A security driver that records its calls and fails where told (see the module docstring).

    ``journal``: a file to append each call to as a JSON line, for a driver
    that runs the stack in another process (pyvirtd, a forked child); the
    environment variable ``PYVIRT_RECORDING_JOURNAL`` sets it for a driver
    loaded through an entry point. ``fail_at``: the name of a hook that raises
    libvirt's OPERATION_FAILED; also from ``PYVIRT_RECORDING_FAIL_AT``.
    """

    pyvirt_contract = CONTRACT_VERSION
    name = "recording"

    def __init__(self, journal: str | None = None, fail_at: str | None = None, model: str = "recording") -> None:
        self.journal = journal if journal is not None else os.environ.get("PYVIRT_RECORDING_JOURNAL")
        self.fail_at = fail_at if fail_at is not None else os.environ.get("PYVIRT_RECORDING_FAIL_AT")
        self.model = model
        self.calls: list[SecurityCall] = []
        self._lock = threading.Lock()

    def _record(self, hook: str, domain: Domain | None) -> None:
        call = SecurityCall(hook, (domain.name or "") if domain is not None else "")
        with self._lock:
            self.calls.append(call)
            if self.journal:
                with open(self.journal, "a", encoding="utf-8") as f:
                    f.write(json.dumps(list(call)) + "\n")
        if hook == self.fail_at:
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"{self.model}: {hook} failed as the test asked")

    @staticmethod
    def read_journal(path: str) -> list[SecurityCall]:
        """The calls a driver in another process wrote to ``path``."""
        try:
            with open(path, encoding="utf-8") as f:
                return [SecurityCall(*json.loads(line)) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    @hookimpl
    def security_probe(self) -> str:
        return "enabled"

    @hookimpl
    def security_get_model(self) -> str:
        return self.model

    @hookimpl
    def security_get_doi(self) -> str:
        return "0"

    @hookimpl
    def security_gen_label(self, domain: Domain) -> None:
        self._record("security_gen_label", domain)

    @hookimpl
    def security_reserve_label(self, domain: Domain, pid: int) -> None:
        self._record("security_reserve_label", domain)

    @hookimpl
    def security_release_label(self, domain: Domain) -> None:
        self._record("security_release_label", domain)

    @hookimpl
    def security_set_all_label(self, domain: Domain, incoming_path: str | None) -> None:
        self._record("security_set_all_label", domain)

    @hookimpl
    def security_restore_all_label(self, domain: Domain, migrated: bool) -> None:
        self._record("security_restore_all_label", domain)

    @hookimpl
    def security_set_process_label(self, domain: Domain, cmd: Command) -> None:
        self._record("security_set_process_label", domain)

    @hookimpl
    def security_get_process_label(self, domain: Domain, pid: int) -> SecurityLabel:
        self._record("security_get_process_label", domain)
        return SecurityLabel("", False)

    @hookimpl
    def security_set_path_label(self, domain: Domain, path: str, kind: str, remember: bool) -> None:
        self._record("security_set_path_label", domain)

    @hookimpl
    def security_restore_path_label(self, domain: Domain, path: str, kind: str, recall: bool) -> None:
        self._record("security_restore_path_label", domain)
