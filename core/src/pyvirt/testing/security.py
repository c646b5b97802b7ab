"""Contract tests for a security driver: libvirt's label lifecycle, alone and inside core's stack.

Subclass :class:`SecurityDriverContract` and provide the ``security_driver``
fixture (your driver object, configured for this host)::

    class TestMyLabels(SecurityDriverContract):
        @pytest.fixture
        def security_driver(self):
            return MyDriver()

``security_domain_xml`` (a guest whose disk image the test creates) has a
default; override it when your driver needs more in the definition. A
driver whose ``security_probe`` says it is disabled on this host has its
lifecycle tests skipped with the driver's reason.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pyvirt.conf.domain import Domain, parse_domain
from pyvirt.plugin import hookimpl
from pyvirt.plugin.records import SecurityLabel
from pyvirt.security.stack import SecurityStack
from pyvirt.util.command import Command

__all__ = ["SecurityDriverContract"]


def _file_state(path: Path) -> tuple[int, int, int, dict[str, bytes]]:
    """Owner, group, mode and security xattrs: what a restore must give back."""
    st = os.stat(path)
    names = [n for n in os.listxattr(path) if n.startswith("security.")]
    return (st.st_uid, st.st_gid, st.st_mode, {n: os.getxattr(path, n) for n in names})


class _FailingDriver:
    """A second driver whose SetAllLabel fails: the stack must undo what the driver under test did."""

    pyvirt_contract = "1.0"

    @hookimpl
    def security_probe(self) -> str:
        return "enabled"

    @hookimpl
    def security_get_model(self) -> str:
        return "contract-failing"

    @hookimpl
    def security_get_doi(self) -> str:
        return "0"

    @hookimpl
    def security_gen_label(self, domain: Domain) -> None:
        """Nothing to allocate."""

    @hookimpl
    def security_reserve_label(self, domain: Domain, pid: int) -> None:
        """Nothing to reserve."""

    @hookimpl
    def security_release_label(self, domain: Domain) -> None:
        """Nothing to release."""

    @hookimpl
    def security_set_all_label(self, domain: Domain, incoming_path: str | None) -> None:
        raise OSError(5, "the contract's failing driver")

    @hookimpl
    def security_restore_all_label(self, domain: Domain, migrated: bool) -> None:
        """Nothing was labelled."""

    @hookimpl
    def security_set_process_label(self, domain: Domain, cmd: Command) -> None:
        """No process label."""

    @hookimpl
    def security_get_process_label(self, domain: Domain, pid: int) -> SecurityLabel:
        return SecurityLabel("", False)

    @hookimpl
    def security_set_path_label(self, domain: Domain, path: str, kind: str, remember: bool) -> None:
        """No path label."""

    @hookimpl
    def security_restore_path_label(self, domain: Domain, path: str, kind: str, recall: bool) -> None:
        """No path label."""


def _spy_on_restore(driver: Any, calls: list[str]) -> Any:
    """The same driver, its RestoreAllLabel also recorded (a subclass of its own class, so its hooks stay marked)."""

    class Spy(type(driver)):  # type: ignore[misc]
        @hookimpl
        def security_restore_all_label(self, domain: Domain, migrated: bool) -> None:
            calls.append(domain.name or "")
            super().security_restore_all_label(domain=domain, migrated=migrated)

    spy = copy.copy(driver)
    spy.__class__ = Spy
    return spy


class SecurityDriverContract:
    """What every security driver must do; the ``security_driver`` fixture comes from you."""

    @pytest.fixture
    def security_image(self, tmp_path: Path) -> Path:
        image = tmp_path / "contract-disk.img"
        image.write_bytes(b"\0" * 65536)
        return image

    @pytest.fixture
    def security_domain_xml(self, security_image: Path) -> str:
        return (
            "<domain type='qemu'><name>contract-sec</name><uuid>c0de0000-0000-4000-8000-000000000001</uuid>"
            "<memory>65536</memory><os><type>hvm</type></os><devices>"
            f"<disk type='file' device='disk'><source file='{security_image}'/><target dev='vda' bus='virtio'/></disk>"
            "</devices></domain>"
        )

    @pytest.fixture
    def enabled_driver(self, security_driver: Any) -> Any:
        probe = str(security_driver.security_probe())
        if not probe.startswith("enabled"):
            pytest.skip(f"the driver is not usable on this host: {probe}")
        return security_driver

    def _stack(self, *drivers: Any) -> SecurityStack:
        return SecurityStack([(str(d.security_get_model()), d) for d in drivers])

    def test_it_names_its_model_and_says_whether_it_can_run(self, security_driver: Any) -> None:
        model, doi = security_driver.security_get_model(), security_driver.security_get_doi()
        assert isinstance(model, str) and model and isinstance(doi, str)
        probe = security_driver.security_probe()
        assert probe == "enabled" or probe.startswith("disabled: "), probe

    def test_the_label_lifecycle_gives_every_file_its_label_back(
        self, enabled_driver: Any, security_domain_xml: str, security_image: Path
    ) -> None:
        before = _file_state(security_image)
        stack = self._stack(enabled_driver)
        dom = parse_domain(security_domain_xml)
        stack.gen_label(dom)
        model = stack.model()
        if model != "none":
            assert any(s.model == model for s in dom.seclabels or []), "GenLabel gave the domain no label of its model"
        stack.set_all_label(dom)
        cmd = Command(["/bin/true"])
        stack.set_process_label(dom, cmd)
        label = enabled_driver.security_get_process_label(domain=dom, pid=os.getpid())
        assert isinstance(label, SecurityLabel)
        stack.restore_all_label(dom)
        stack.release_label(dom)
        assert _file_state(security_image) == before

    def test_a_later_driver_failing_rolls_back_this_one(
        self, enabled_driver: Any, security_domain_xml: str, security_image: Path
    ) -> None:
        before = _file_state(security_image)
        restored: list[str] = []
        stack = self._stack(_spy_on_restore(enabled_driver, restored), _FailingDriver())
        dom = parse_domain(security_domain_xml)
        stack.gen_label(dom)
        with pytest.raises(Exception, match="the contract's failing driver"):
            stack.set_all_label(dom)
        assert restored == ["contract-sec"], "SetAllLabel's rollback must restore what this driver labelled, once"
        assert _file_state(security_image) == before
        stack.release_label(dom)

    def test_a_hotplugged_path_is_labelled_and_given_back(
        self, enabled_driver: Any, security_domain_xml: str, tmp_path: Path
    ) -> None:
        extra = tmp_path / "contract-hotplug.img"
        extra.write_bytes(b"\0" * 4096)
        before = _file_state(extra)
        dom = parse_domain(security_domain_xml)
        stack = self._stack(enabled_driver)
        stack.gen_label(dom)
        set_path: Callable[..., None] = enabled_driver.security_set_path_label
        set_path(domain=dom, path=str(extra), kind="image", remember=True)
        enabled_driver.security_restore_path_label(domain=dom, path=str(extra), kind="image", recall=True)
        stack.release_label(dom)
        assert _file_state(extra) == before
