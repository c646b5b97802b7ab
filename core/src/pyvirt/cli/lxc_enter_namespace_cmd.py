"""``pyvirsh lxc-enter-namespace``: run a command inside a running container, as virsh 9.0's cmdLxcEnterNamespace.

The driver hands over the container init's namespace descriptors
(virDomainLxcOpenNamespace); everything else happens here, in the client, as
libvirt-lxc.c does it: a first child enters the security label
(virDomainLxcEnterSecurityLabel, unless ``--noseclabel``), the container's
cgroups (virDomainLxcEnterCGroup) and its namespaces
(virDomainLxcEnterNamespace), then forks again, because joining a PID
namespace takes effect only for children, and that grandchild execs the
command (no PATH search: virsh uses execv). The first child exits with the
command's status; a status other than 0 is virsh's error
"Child process (PID) unexpected exit status N" (virProcessWait), exit 1.
Forking once more than needed keeps the caller's own namespaces as they were,
and the single-threaded child can join a user namespace.
"""

from __future__ import annotations

import os

from pyvirt.cli.framework import Opt, Session, command
from pyvirt.cli.lookup import get_domain

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__: list[str] = []

_EXIT_CANCELED, _EXIT_CANNOT_INVOKE, _EXIT_ENOENT = 125, 126, 127  # libvirt's virCommand exit codes
# the v1 controllers libvirt's cgroup code knows (virCgroupController), the ones virCgroupAddProcess joins
_LIBVIRT_CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "net_cls", "perf_event")


def _enter_security_label(model: str, label: str) -> None:
    """virDomainLxcEnterSecurityLabel: the label the command will exec with."""
    if model == "selinux":  # setexeccon
        with open("/proc/self/attr/exec", "w", encoding="ascii") as f:
            f.write(label)
    elif model == "apparmor":  # aa_change_profile
        with open("/proc/self/attr/current", "w", encoding="ascii") as f:
            f.write(f"changeprofile {label}")
    elif model != "none":
        raise OSError(f"Security model {model} cannot be entered")


def _cgroup_dirs(pid: int) -> list[str]:
    """virCgroupNewDetect(pid): the cgroup directories of ``pid`` for every controller libvirt manages."""
    mounts: dict[str, str] = {}
    unified = ""
    with open("/proc/self/mounts", encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if len(fields) < 4:
                continue
            if fields[2] == "cgroup2":
                unified = unified or fields[1]
            elif fields[2] == "cgroup":
                for opt in fields[3].split(","):
                    mounts.setdefault(opt, fields[1])
    dirs: list[str] = []
    with open(f"/proc/{pid}/cgroup", encoding="utf-8") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if not controllers:  # the unified hierarchy
                if unified and not mounts:
                    dirs.append(unified + path)
                continue
            for ctrl in controllers.split(","):
                if ctrl in _LIBVIRT_CONTROLLERS and ctrl in mounts:
                    where = mounts[ctrl] + path
                    if where not in dirs:
                        dirs.append(where)
    return dirs


def _enter_cgroup(domain_id: int) -> None:
    """virDomainLxcEnterCGroup: this process into the cgroups of the domain's process (its id is that pid)."""
    me = str(os.getpid())
    for d in _cgroup_dirs(domain_id):
        with open(os.path.join(d, "cgroup.procs"), "w", encoding="ascii") as f:
            f.write(me)


def _enter_namespaces(fds: list[int]) -> None:
    """virProcessSetNamespaces: setns(fd, 0) on each, EINVAL (already there) ignored."""
    import ctypes
    import errno

    libc = ctypes.CDLL(None, use_errno=True)
    if not fds:
        raise OSError("Expected at least one file descriptor")
    for fd in fds:
        if libc.setns(fd, 0) < 0 and ctypes.get_errno() != errno.EINVAL:
            raise OSError(ctypes.get_errno(), "Unable to join domain namespace")


def _child(argv: list[str], fds: list[int], label: tuple[str, str] | None, domain_id: int) -> int:
    """The first child's work; returns its exit status (the command's, or libvirt's EXIT_CANCELED)."""
    try:
        if label is not None:
            _enter_security_label(*label)
        _enter_cgroup(domain_id)
        _enter_namespaces(fds)
    except OSError:
        return _EXIT_CANCELED
    for fd in fds:
        os.close(fd)
    try:
        pid = os.fork()
    except OSError:
        return _EXIT_CANCELED
    if pid == 0:
        try:
            os.execv(argv[0], argv)
        except OSError as e:
            os._exit(_EXIT_ENOENT if isinstance(e, FileNotFoundError) else _EXIT_CANNOT_INVOKE)
    try:
        _, status = os.waitpid(pid, 0)
    except OSError:
        return _EXIT_CANNOT_INVOKE
    if os.WIFSIGNALED(status):  # virProcessExitWithStatus: die of the same signal
        import signal

        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    return os.waitstatus_to_exitcode(status) & 0xFF


@command(
    "lxc-enter-namespace", "LXC Guest Enter Namespace",
    Opt("domain", "domain name, id or uuid", required=True, positional=True),
    Opt("noseclabel", "Do not change process security label", flag=True),
    Opt("cmd", "command to run", required=True, positional=True, kind="list"),
    description="Run an arbitrary command in a lxc guest namespace; use at your own risk",
)  # fmt: skip
def cmd_lxc_enter_namespace(s: Session, o: dict[str, Any]) -> None:
    from pyvirt.errors import ErrorCode, InternalError

    dom = get_domain(s, o["domain"])
    argv = list(o["cmd"])
    fds = dom.lxc_open_namespace(0)
    try:
        label: tuple[str, str] | None = None
        if not o.get("noseclabel"):
            model = s.conn.get_security_model().model
            labels = dom.security_labels()
            label = (model, labels[0].label if labels else "")
        domain_id = dom.id
        s.flush()  # (what is buffered must not be written twice)
        pid = os.fork()
        if pid == 0:
            code = _EXIT_CANCELED
            try:
                code = _child(argv, fds, label, domain_id)
            finally:
                os._exit(code)
    finally:
        for fd in fds:
            os.close(fd)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        raise InternalError(
            ErrorCode.INTERNAL_ERROR, f"Child process ({pid}) unexpected fatal signal {os.WTERMSIG(status)}"
        )
    if os.WEXITSTATUS(status):
        raise InternalError(
            ErrorCode.INTERNAL_ERROR, f"Child process ({pid}) unexpected exit status {os.WEXITSTATUS(status)}"
        )
