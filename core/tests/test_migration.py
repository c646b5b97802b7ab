"""The client library's side of migration: libvirt's five phases in order, and what each failure leads to.

``pyvirt.migration.migrate_v3`` is libvirt's virDomainMigrateVersion3Full
with parameters. The two drivers here only record the calls they get (the
real phases run in plugins/pyvirt-qemu/tests/test_migration.py between two
pyvirtd with real QEMU): the point is the protocol's rules, which decide
whether a guest survives a failure. After a failed Prepare the source is
told (Confirm, cancelled); after a failed Perform the destination discards
its half (Finish, cancelled) and the source is not asked again; after a
failed Finish the source resumes (Confirm, cancelled).
"""

from __future__ import annotations

from typing import Any

import pytest

from pyvirt.errors import ErrorCode, OperationFailedError
from pyvirt.migration import MigrateFlag, check_migrate_flags, get_param, migrate_v3
from pyvirt.plugin.facade import direct_calls
from pyvirt.plugin.records import DomainRef
from pyvirt.plugin.typed_params import TypedParam

DOM = DomainRef("g", "0b3c2f5e-8a51-4f0e-9d3c-6a2b1c0d9e8f", 1)


class Recorder:
    """Answers every phase and records (phase, arguments); ``fail`` names the phase that raises."""

    def __init__(self, log: list[tuple[str, dict[str, Any]]], fail: str | None = None, state: int = 1) -> None:
        self.log, self.fail, self.state = log, fail, state

    def _record(self, phase: str, **args: Any) -> None:
        self.log.append((phase, args))
        if phase == self.fail:
            raise OperationFailedError(ErrorCode.OPERATION_FAILED, f"{phase} broke")

    def domain_get_state(self, dom: DomainRef) -> tuple[int, int]:
        return (self.state, 1)

    def domain_migrate_begin(self, dom: DomainRef, params: list[TypedParam], flags: int) -> tuple[str, bytes]:
        self._record("begin", params=params, flags=flags)
        return "<domain/>", b"cookie-begin"

    def domain_migrate_prepare(self, params: list[TypedParam], cookie: bytes, flags: int) -> tuple[bytes, str | None]:
        self._record("prepare", params=params, cookie=cookie, flags=flags)
        return b"cookie-prepare", "tcp:127.0.0.1:49152"

    def domain_migrate_perform(
        self, dom: DomainRef, dconnuri: str | None, params: list[TypedParam], cookie: bytes, flags: int
    ) -> bytes:
        self._record("perform", params=params, cookie=cookie, flags=flags)
        return b"cookie-perform"

    def domain_migrate_finish(
        self, params: list[TypedParam], cookie: bytes, flags: int, cancelled: bool
    ) -> tuple[DomainRef, bytes]:
        self._record("finish", params=params, cookie=cookie, flags=flags, cancelled=cancelled)
        return DomainRef("g", DOM.uuid, 7), b"cookie-finish"

    def domain_migrate_confirm(
        self, dom: DomainRef, params: list[TypedParam], cookie: bytes, flags: int, cancelled: bool
    ) -> None:
        self._record("confirm", cookie=cookie, flags=flags, cancelled=cancelled)


def _run(fail: str | None = None, state: int = 1, flags: int = MigrateFlag.LIVE) -> tuple[list[Any], Any]:
    log: list[tuple[str, dict[str, Any]]] = []
    src = direct_calls(Recorder(log, fail, state))
    dst = direct_calls(Recorder(log, fail, state))
    try:
        result: Any = migrate_v3(src, DOM, dst, [], flags)
    except OperationFailedError as exc:
        result = exc
    return log, result


def test_the_phases_run_in_order_and_pass_their_cookies_on() -> None:
    log, result = _run()
    assert [phase for phase, _ in log] == ["begin", "prepare", "perform", "finish", "confirm"]
    assert result == DomainRef("g", DOM.uuid, 7)
    args = dict(log)
    assert args["prepare"]["cookie"] == b"cookie-begin"
    assert args["perform"]["cookie"] == b"cookie-prepare"
    assert args["finish"]["cookie"] == b"cookie-perform"
    assert args["confirm"]["cookie"] == b"cookie-finish"
    assert not args["finish"]["cancelled"] and not args["confirm"]["cancelled"]
    # Begin's XML goes to Prepare, Prepare's URI to Perform, the domain's name to Finish
    assert get_param(args["prepare"]["params"], "destination_xml") is not None
    uri = get_param(args["perform"]["params"], "migrate_uri")
    assert uri is not None and uri.value == "tcp:127.0.0.1:49152"
    name = get_param(args["finish"]["params"], "destination_name")
    assert name is not None and name.value == "g"
    # the source's job is protected from Begin to Confirm; the destination never sees auto-converge
    assert args["begin"]["flags"] & MigrateFlag.CHANGE_PROTECTION


def test_a_paused_guest_arrives_paused() -> None:
    log, _ = _run(state=3)  # VIR_DOMAIN_PAUSED at Begin
    assert dict(log)["prepare"]["flags"] & MigrateFlag.PAUSED


def test_auto_converge_stays_on_the_source() -> None:
    log, _ = _run(flags=MigrateFlag.LIVE | MigrateFlag.AUTO_CONVERGE)
    args = dict(log)
    assert args["perform"]["flags"] & MigrateFlag.AUTO_CONVERGE
    assert not args["prepare"]["flags"] & MigrateFlag.AUTO_CONVERGE
    assert not args["finish"]["flags"] & MigrateFlag.AUTO_CONVERGE


def test_a_failed_prepare_is_confirmed_as_cancelled_to_the_source() -> None:
    log, result = _run(fail="prepare")
    assert [phase for phase, _ in log] == ["begin", "prepare", "confirm"]
    assert dict(log)["confirm"]["cancelled"]
    assert isinstance(result, OperationFailedError) and "prepare broke" in result.message


def test_a_failed_perform_cancels_the_destination_and_leaves_the_source_alone() -> None:
    log, result = _run(fail="perform")
    assert [phase for phase, _ in log] == ["begin", "prepare", "perform", "finish"]
    assert dict(log)["finish"]["cancelled"]
    assert isinstance(result, OperationFailedError) and "perform broke" in result.message


def test_a_failed_finish_resumes_the_source() -> None:
    log, result = _run(fail="finish")
    assert [phase for phase, _ in log] == ["begin", "prepare", "perform", "finish", "confirm"]
    assert dict(log)["confirm"]["cancelled"]
    assert isinstance(result, OperationFailedError) and "finish broke" in result.message


def test_a_failed_begin_goes_no_further() -> None:
    log, result = _run(fail="begin")
    assert [phase for phase, _ in log] == ["begin"]
    assert isinstance(result, OperationFailedError)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (MigrateFlag.NON_SHARED_DISK | MigrateFlag.NON_SHARED_INC,
         "Flags 'VIR_MIGRATE_NON_SHARED_DISK' and 'VIR_MIGRATE_NON_SHARED_INC' are mutually exclusive"),
        (MigrateFlag.OFFLINE | MigrateFlag.LIVE,
         "Flags 'VIR_MIGRATE_OFFLINE' and 'VIR_MIGRATE_LIVE' are mutually exclusive"),
    ],
)  # fmt: skip
def test_flag_combinations_libvirt_refuses(flags: int, message: str) -> None:
    with pytest.raises(Exception, match=message):
        check_migrate_flags(flags, "virDomainMigrate3")
