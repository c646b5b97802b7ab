"""The ``none`` security driver: no confinement, every call succeeds without effect.

It is what the probe falls back to on a host with neither SELinux nor AppArmor,
so that the stack always has a primary driver and callers need no special case.
"""

from __future__ import annotations

from pyvirt.conf.domain import Domain
from pyvirt.plugin import CONTRACT_VERSION, hookimpl
from pyvirt.plugin.records import SecurityLabel
from pyvirt.util.command import Command

__all__ = ["NoneDriver"]


class NoneDriver:
    pyvirt_contract = CONTRACT_VERSION
    name = "none"

    @hookimpl
    def security_probe(self) -> str:
        return "enabled"

    @hookimpl
    def security_get_model(self) -> str:
        return "none"

    @hookimpl
    def security_get_doi(self) -> str:
        return "0"

    @hookimpl
    def security_gen_label(self, domain: Domain) -> None:
        """No label to generate."""

    @hookimpl
    def security_reserve_label(self, domain: Domain, pid: int) -> None:
        """Nothing reserved."""

    @hookimpl
    def security_release_label(self, domain: Domain) -> None:
        """Nothing to release."""

    @hookimpl
    def security_set_all_label(self, domain: Domain, incoming_path: str | None) -> None:
        """Files keep their labels."""

    @hookimpl
    def security_restore_all_label(self, domain: Domain, migrated: bool) -> None:
        """Nothing was changed."""

    @hookimpl
    def security_set_process_label(self, domain: Domain, cmd: Command) -> None:
        """The child runs unconfined."""

    @hookimpl
    def security_get_process_label(self, domain: Domain, pid: int) -> SecurityLabel:
        return SecurityLabel("", False)

    @hookimpl
    def security_set_path_label(self, domain: Domain, path: str, kind: str, remember: bool) -> None:
        """Files keep their labels."""

    @hookimpl
    def security_restore_path_label(self, domain: Domain, path: str, kind: str, recall: bool) -> None:
        """Nothing was changed."""
