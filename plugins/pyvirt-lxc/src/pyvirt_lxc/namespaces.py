"""virDomainLxcOpenNamespace for the LXC driver: the container init's namespaces as descriptors.

Why a driver hands out descriptors instead of running a command itself:
libvirt's design for ``virsh lxc-enter-namespace`` keeps the command the
client's own child (its stdin, stdout and exit status are the client's); the
client joins the cgroup, the security label and these namespaces, then forks
the command (libvirt-lxc.c's virDomainLxcEnterNamespace).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pyvirt.errors import ErrorCode, ErrorDomain, OperationInvalidError
from pyvirt.local_driver.domain_jobs import Job
from pyvirt.plugin import hookimpl
from pyvirt.plugin.flags import check_flags

if TYPE_CHECKING:
    from pyvirt.plugin.records import DomainRef, SecurityModel
    from pyvirt_lxc.state import DomainObj, LxcState

__all__ = ["NAMESPACES", "NamespaceHooks", "open_namespaces"]

NAMESPACES = ("user", "ipc", "uts", "net", "pid", "mnt")
"""virProcessGetNamespaces' order, which the client's setns calls follow (user first: it grants the rest)."""


def open_namespaces(pid: int) -> list[int]:
    """Descriptors of /proc/PID/ns/* in libvirt's order; a namespace the host lacks is left out, as libvirt does.

    Opened close-on-exec (Python's default): they go to the caller, never to
    a child of the driver.
    """
    fds: list[int] = []
    for ns in NAMESPACES:
        try:
            fds.append(os.open(f"/proc/{pid}/ns/{ns}", os.O_RDONLY))
        except OSError:
            continue  # (virProcessGetNamespaces skips any it cannot open, with no error)
    return fds


class NamespaceHooks:
    """The hooks a client entering a container needs, mixed into the LXC driver's connection (its ``state``)."""

    state: LxcState

    @hookimpl
    def node_get_security_model(self) -> SecurityModel:
        """lxcNodeGetSecurityModel: the primary security driver's model and DOI (``none`` where no LSM runs).

        virsh's lxc-enter-namespace asks for it to know how to enter the
        container's label (virDomainLxcEnterSecurityLabel).
        """
        from pyvirt.plugin.records import SecurityModel

        return SecurityModel(self.state.security.model(), self.state.security.doi())

    @hookimpl
    def domain_lxc_open_namespace(self, dom: DomainRef, flags: int) -> list[int]:
        """libvirt 9.0's lxcDomainLxcOpenNamespace: within a query job, the running container's init's namespaces."""
        check_flags(flags, 0, "lxcDomainLxcOpenNamespace")
        obj: DomainObj = self.state.find(dom)
        with obj.job.holding(Job.QUERY):
            proc = obj.process
            if not obj.active or proc is None:  # virDomainObjCheckActive
                raise OperationInvalidError(
                    ErrorCode.OPERATION_INVALID, "domain is not running", domain=ErrorDomain.DOMAIN
                )
            if proc.init_pid <= 0:
                raise OperationInvalidError(
                    ErrorCode.OPERATION_INVALID, "Init pid is not yet available", domain=ErrorDomain.LXC
                )
            return open_namespaces(proc.init_pid)
