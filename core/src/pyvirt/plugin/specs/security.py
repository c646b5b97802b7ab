"""Security driver contract: libvirt's label lifecycle.

Implemented by security drivers (``pyvirt.security`` entry points: dac,
none, selinux, apparmor). Core's ``SecurityStack`` calls each driver in the
configured order with libvirt's semantics (primary-only, all-or-nothing with
rollback, or try-every-driver), so these are *not* ``firstresult`` and are
never called through pluggy's own ordering.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyvirt.plugin import hookspec

if TYPE_CHECKING:
    from pyvirt.plugin.records import SecurityLabel


@hookspec
def security_probe() -> str:
    """``"enabled"`` or ``"disabled: <reason>"`` for this host."""


@hookspec
def security_get_model() -> str:
    """The model name (``selinux``, ``apparmor``, ``dac``, ``none``)."""


@hookspec
def security_get_doi() -> str:
    """Domain of interpretation ("0" for most models)."""


@hookspec
def security_gen_label(domain: Any) -> None:
    """GenLabel: allocate a unique label for the domain (dynamic labels), in its seclabel."""


@hookspec
def security_reserve_label(domain: Any, pid: int) -> None:
    """ReserveLabel: re-register the label of a domain found running."""


@hookspec
def security_release_label(domain: Any) -> None:
    """ReleaseLabel: free what GenLabel allocated (MCS pair, profile)."""


@hookspec
def security_set_all_label(domain: Any, incoming_path: str | None) -> None:
    """SetAllLabel: label every resource the domain uses, remembering the old labels."""


@hookspec
def security_restore_all_label(domain: Any, migrated: bool) -> None:
    """RestoreAllLabel: give every resource its remembered label back."""


@hookspec
def security_set_process_label(domain: Any) -> None:
    """SetProcessLabel: runs in the child between fork and exec."""


@hookspec
def security_get_process_label(domain: Any, pid: int) -> SecurityLabel:
    """GetProcessLabel: the live label of the domain's process."""


@hookspec
def security_set_image_label(domain: Any, path: str, role: str) -> None:
    """Label one image (hotplug); ``role`` is ``top``, ``backing`` or ``readonly``."""


@hookspec
def security_restore_image_label(domain: Any, path: str) -> None:
    """Restore one image's label (hot-unplug)."""
