"""The test driver's security model, ``testSecurity``, run through the real SecurityStack.

libvirt's test driver reports model ``testSecurity`` with an empty DOI and the
label ``libvirt-test`` (enforcing) for running guests; it labels no files. The
test driver drives this model through ``SecurityStack`` at every start and stop,
like the real hypervisor drivers do, so the stack's lifecycle is exercised by
every test:/// guest.
"""

from __future__ import annotations

from pyvirt.drivers.test.marker import hookimpl
from pyvirt.plugin import CONTRACT_VERSION
from pyvirt.plugin.records import SecurityLabel
from pyvirt.security.stack import SecurityConfig, SecurityStack

TYPE_CHECKING = False  # not typing's: importing typing costs every short pyvirsh run on test:///
if TYPE_CHECKING:
    from pyvirt.conf.domain import Domain  # annotations only: the model and DOI need no domain modules
    from pyvirt.util.command import Command  # annotations only: importing it costs pyvirsh start-up

__all__ = ["TestSecurityDriver", "test_security_stack"]


class TestSecurityDriver:
    pyvirt_contract = CONTRACT_VERSION
    name = "testSecurity"

    @hookimpl
    def security_probe(self) -> str:
        return "enabled"

    @hookimpl
    def security_get_model(self) -> str:
        return "testSecurity"

    @hookimpl
    def security_get_doi(self) -> str:
        return ""

    @hookimpl
    def security_gen_label(self, domain: Domain) -> None:
        """Labels are fixed: nothing to allocate."""

    @hookimpl
    def security_reserve_label(self, domain: Domain, pid: int) -> None:
        """Nothing to reserve."""

    @hookimpl
    def security_release_label(self, domain: Domain) -> None:
        """Nothing to release."""

    @hookimpl
    def security_set_all_label(self, domain: Domain, incoming_path: str | None) -> None:
        """The test hypervisor uses no host files."""

    @hookimpl
    def security_restore_all_label(self, domain: Domain, migrated: bool) -> None:
        """Nothing was labelled."""

    @hookimpl
    def security_set_process_label(self, domain: Domain, cmd: Command) -> None:
        """No process is started."""

    @hookimpl
    def security_get_process_label(self, domain: Domain, pid: int) -> SecurityLabel:
        return SecurityLabel("libvirt-test", True) if pid > 0 else SecurityLabel("", False)

    @hookimpl
    def security_set_path_label(self, domain: Domain, path: str, kind: str, remember: bool) -> None:
        """No host files."""

    @hookimpl
    def security_restore_path_label(self, domain: Domain, path: str, kind: str, recall: bool) -> None:
        """No host files."""


def test_security_stack() -> SecurityStack:
    # default_confined=False: libvirt's test driver adds no implicit <seclabel> to guests
    # checked: core/tests/drivers/test_test_driver_binding.py validates the driver with pluggy
    return SecurityStack([("testSecurity", TestSecurityDriver())], SecurityConfig(default_confined=False), checked=True)


test_security_stack.__test__ = False  # type: ignore[attr-defined]  # not a pytest test despite its name
