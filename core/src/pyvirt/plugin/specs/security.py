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
    """Whether this security model can be used on this host.

    The stack's loader asks this when no driver list is configured (selinux,
    then apparmor, then none) and takes the first that is enabled.

    :returns: ``"enabled"``, or ``"disabled: <reason>"`` (the LSM is not loaded, the policy lacks a domain type, ...).

    Added in contract 1.0.
    """


@hookspec
def security_get_model() -> str:
    """The model this driver implements, as domain XML's ``<seclabel model=...>`` names it.

    :returns: ``selinux``, ``apparmor``, ``dac``, ``none``, or a third party's own model name.

    Added in contract 1.0.
    """


@hookspec
def security_get_doi() -> str:
    """The model's domain of interpretation, shown in the capabilities' ``<secmodel>``.

    :returns: the DOI text; ``"0"`` for most models.

    Added in contract 1.0.
    """


@hookspec
def security_get_base_label(virt_type: str) -> str:
    """The process label a guest of one virtualization type starts from. Optional.

    Asked of the primary driver only; a driver without the hook has no base label.

    :param virt_type: the domain type (``kvm``, ``qemu``, ``lxc``).
    :returns: the label (SELinux's ``svirt_t`` context for KVM), or ``""`` when the model has none.

    Added in contract 1.0.
    """


@hookspec
def security_gen_label(domain: Domain) -> None:
    """Allocate a unique label for a domain about to start (libvirt's GenLabel) and write it into its seclabel.

    Called for every driver of the stack in order; if one fails, the stack
    releases what every driver allocated and removes the seclabels it added.
    A dynamic label is new each time (a SELinux MCS pair, an AppArmor profile
    ``libvirt-<uuid>``, DAC's ``+uid:+gid``); a static label is checked, not changed.

    :param domain: the domain's parsed definition; its ``<seclabel>`` for this driver's model holds the label.

    Added in contract 1.0.
    """


@hookspec
def security_reserve_label(domain: Domain, pid: int) -> None:
    """Register again the label of a domain found running, so that it is not handed out twice (ReserveLabel).

    Called on the primary driver when a restarted daemon reconnects to its guests.

    :param domain: the domain's parsed definition; its ``<seclabel>`` for this driver's model holds the label.
    :param pid: the guest's running process.

    Added in contract 1.0.
    """


@hookspec
def security_release_label(domain: Domain) -> None:
    """Free what ``security_gen_label`` allocated (an MCS pair, a profile) once the domain has stopped (ReleaseLabel).

    Called for every driver; every failure is reported, none stops the others.

    :param domain: the domain's parsed definition; its ``<seclabel>`` for this driver's model holds the label.

    Added in contract 1.0.
    """


@hookspec
def security_set_all_label(domain: Domain, incoming_path: str | None) -> None:
    """Label every host resource the domain uses (disks, kernel, chardevs, host devices, ...) (SetAllLabel).

    Each file's original label is remembered (``trusted.*`` attributes with a
    reference count), so that shared images keep theirs and
    ``security_restore_all_label`` can give it back. All or nothing across
    the stack: when a driver fails, the drivers before it restore what they did.

    :param domain: the domain's parsed definition; its ``<seclabel>`` for this driver's model holds the label.
    :param incoming_path: a file the domain's state is restored from (a saved image), to label too; or None.

    Added in contract 1.0.
    """


@hookspec
def security_restore_all_label(domain: Domain, migrated: bool) -> None:
    """Give every resource the domain used its remembered label back, once it has stopped (RestoreAllLabel).

    Called for every driver; every failure is reported, none stops the others.

    :param domain: the domain's parsed definition; its ``<seclabel>`` for this driver's model holds the label.
    :param migrated: the domain left for another host: shared storage is
        still in use there, so its labels are left alone.

    Added in contract 1.0.
    """


@hookspec
def security_set_process_label(domain: Domain, cmd: Command) -> None:
    """Prepare the command that starts the guest so its process runs with the domain's label (SetProcessLabel).

    DAC sets the uid, gid and groups; MAC drivers add a pre-exec hook that
    writes ``/proc/self/attr/exec`` between fork and exec. Called for every
    driver of the stack.

    :param domain: the domain's parsed definition; its ``<seclabel>`` for this driver's model holds the label.
    :param cmd: the command not yet started.

    Added in contract 1.0.
    """


@hookspec
def security_process_exec_attr(domain: Domain) -> tuple[str, str] | None:
    """The process label as data, for a process not started through ``Command``. Optional.

    A container's init is forked by another program (the LXC controller),
    which writes this into ``/proc/self/attr/exec`` itself just before exec.
    DAC labels are a uid and gid and have no such form.

    :param domain: the domain's parsed definition; its ``<seclabel>`` for this driver's model holds the label.
    :returns: ``(procfs attribute, text)`` to write, or None when this driver has nothing to apply.

    Added in contract 1.3.
    """


@hookspec
def security_get_process_label(domain: Domain, pid: int) -> SecurityLabel:
    """The live label of the domain's process, read from the host (GetProcessLabel).

    :param domain: the domain's parsed definition; its ``<seclabel>`` for this driver's model holds the label.
    :param pid: the guest's process.
    :returns: the label and whether the model enforces it.

    Added in contract 1.0.
    """


@hookspec
def security_set_path_label(domain: Domain, path: str, kind: str, remember: bool) -> None:
    """Label one host file the running guest starts to use (a hotplugged image, a chardev, a host device node).

    All or nothing across the stack, like ``security_set_all_label``.

    :param domain: the domain's parsed definition; its ``<seclabel>`` for this driver's model holds the label.
    :param path: the file.
    :param kind: what the file is to the guest: ``image``, ``backing``, ``readonly``, ``chardev``,
        ``hostdev``, ``kernel``, ... (it decides the label a model gives).
    :param remember: keep the original label so ``security_restore_path_label`` can give it back.

    Added in contract 1.0.
    """


@hookspec
def security_restore_path_label(domain: Domain, path: str, kind: str, recall: bool) -> None:
    """Give one file its label back when the guest stops using it (hot-unplug).

    Called for every driver; every failure is reported, none stops the others.

    :param domain: the domain's parsed definition; its ``<seclabel>`` for this driver's model holds the label.
    :param path: the file.
    :param kind: what the file was to the guest, as given to ``security_set_path_label``.
    :param recall: use the remembered original label (otherwise the model's default for the file).

    Added in contract 1.0.
    """
