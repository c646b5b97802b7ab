"""Security driver contract: libvirt's label lifecycle.

Implemented by security drivers (``pyvirt.security`` entry points: dac,
none, selinux, apparmor). Core's ``SecurityStack`` calls each driver in the
configured order with libvirt's semantics (primary-only, all-or-nothing with
rollback, or try-every-driver), so these are *not* ``firstresult`` and are
never called through pluggy's own ordering.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyvirt.plugin import hookspec

if TYPE_CHECKING:
    from pyvirt.conf.domain import Domain
    from pyvirt.plugin.records import SecurityLabel
    from pyvirt.util.command import Command


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
def security_get_base_label(virt_type: str) -> str:
    """The process label a guest of ``virt_type`` (kvm, qemu, lxc) starts from; "" if none."""


@hookspec
def security_gen_label(domain: Domain) -> None:
    """GenLabel: allocate a unique label for the domain (dynamic labels), in its seclabel."""


@hookspec
def security_reserve_label(domain: Domain, pid: int) -> None:
    """ReserveLabel: re-register the label of a domain found running."""


@hookspec
def security_release_label(domain: Domain) -> None:
    """ReleaseLabel: free what GenLabel allocated (MCS pair, profile)."""


@hookspec
def security_set_all_label(domain: Domain, incoming_path: str | None) -> None:
    """SetAllLabel: label every resource the domain uses, remembering the old labels."""


@hookspec
def security_restore_all_label(domain: Domain, migrated: bool) -> None:
    """RestoreAllLabel: give every resource its remembered label back."""


@hookspec
def security_set_process_label(domain: Domain, cmd: Command) -> None:
    """SetProcessLabel: prepare ``cmd`` so the child runs with the domain's label.

    DAC sets the uid/gid/groups; MAC drivers add a pre-exec hook that writes
    ``/proc/self/attr/exec`` between fork and exec.
    """


@hookspec
def security_process_exec_attr(domain: Domain) -> tuple[str, str] | None:
    """The process label as data: (procfs attribute, text) to write just before exec, or None.

    For processes not started through ``Command``: a container's init is
    forked by another program (the LXC controller), which writes this into
    ``/proc/self/attr/exec`` itself. Optional (added in contract 1.3); DAC
    labels are uid/gid and have no such form.
    """


@hookspec
def security_get_process_label(domain: Domain, pid: int) -> SecurityLabel:
    """GetProcessLabel: the live label of the domain's process."""


@hookspec
def security_set_path_label(domain: Domain, path: str, kind: str, remember: bool) -> None:
    """Label one host file the guest uses (hotplugged image, chardev, hostdev node, …).

    ``kind`` is ``image``, ``backing``, ``readonly``, ``chardev``, ``hostdev``, ``kernel``, …;
    ``remember`` asks to keep the original label for ``security_restore_path_label``.
    """


@hookspec
def security_restore_path_label(domain: Domain, path: str, kind: str, recall: bool) -> None:
    """Give one file its label back (hot-unplug); ``recall`` uses the remembered label."""
