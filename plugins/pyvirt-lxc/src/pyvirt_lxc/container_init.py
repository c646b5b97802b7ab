"""The container's first process, between fork and exec of its init.

Runs as PID 1 of the new PID namespace the controller created: it unshares
the mount, UTS, IPC (and network) namespaces, lets the controller know so the
driver can move its NICs in, then builds the container's filesystem (root
bind mount, /proc, read-only /proc/sys and /sys, a /dev tmpfs with the basic
device nodes, a private devpts, the console), pivots into it, sets the
hostname, drops capabilities and execs the init. Any failure is written to
``err_fd`` (close-on-exec, so a successful exec just closes it).
"""

from __future__ import annotations

import fcntl
import os
import stat
import termios

from pyvirt.util import caps
from pyvirt_lxc import syscalls as sc
from pyvirt_lxc.spec import ContainerSpec

__all__ = ["BASIC_DEVICES", "enter_container"]

# name -> (major, minor): what libvirt's LXC driver creates in the container's /dev
BASIC_DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9), "tty": (5, 0)}


def _mkdirs(path: str) -> None:
    os.makedirs(path, mode=0o755, exist_ok=True)


def _setup_dev(console: str, userns: bool) -> None:
    """A tmpfs /dev (relative to the container root, the cwd) with the basic nodes, a private devpts, the console.

    Inside a user namespace nobody may mknod, so the host's nodes are bind-mounted instead.
    """
    sc.mount("devfs", "dev", "tmpfs", sc.MS_NOSUID, "mode=755,size=65536k")
    old = os.umask(0)
    try:
        for name, (major, minor) in BASIC_DEVICES.items():
            if userns:
                with open(f"dev/{name}", "w"):
                    pass
                sc.mount(f"/dev/{name}", f"dev/{name}", None, sc.MS_BIND)
            else:
                os.mknod(f"dev/{name}", 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        _mkdirs("dev/pts")
        sc.mount("devpts", "dev/pts", "devpts", sc.MS_NOSUID | sc.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620")
        os.symlink("pts/ptmx", "dev/ptmx")
        _mkdirs("dev/shm")
        sc.mount("devshm", "dev/shm", "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, "mode=1777")
        for link, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                             ("stderr", "/proc/self/fd/2")):  # fmt: skip
            os.symlink(target, f"dev/{link}")
        with open("dev/console", "w"):
            pass
        sc.mount(console, "dev/console", None, sc.MS_BIND)
    finally:
        os.umask(old)


def _read_only_bind(path: str) -> None:
    sc.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
    sc.mount(None, path, None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY)


def prepare_root(spec: ContainerSpec, at_stage: bool = False) -> int:
    """Bind the container's root (or the host root, read-only) and its bind mounts; open the root.

    Runs with the host's privileges, in the container's first mount namespace,
    so sources anywhere on the host can be reached. ``at_stage`` puts the root
    on the stage directory in the run directory: a user namespace copies this
    mount namespace, and its root can find the stage by path where it could
    not look the original up.
    """
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)  # nothing we mount reaches the host
    if spec.root:
        root = spec.root
        for d in ("proc", "sys", "dev"):
            if not os.path.isdir(f"{root}/{d}"):
                _mkdirs(f"{root}/{d}")
        if at_stage:
            _mkdirs(spec.stage_dir)
            sc.mount(root, spec.stage_dir, None, sc.MS_BIND | sc.MS_REC)
            root = spec.stage_dir
        else:
            sc.mount(root, root, None, sc.MS_BIND | sc.MS_REC)
    else:
        root = spec.stage_dir
        sc.mount("/", root, None, sc.MS_BIND)  # not recursive: host submounts stay out
        spec.root_readonly = True
    for m in spec.mounts:
        if m.kind == "bind":
            target = f"{root}{m.target}"
            _mkdirs(target)
            sc.mount(m.source, target, None, sc.MS_BIND | sc.MS_REC)
            if m.readonly:
                sc.mount(None, target, None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY)
    return os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def _populate_root(spec: ContainerSpec, root_fd: int, console: str, userns: bool) -> None:
    """The container's own mounts, made relative to its root (the cwd from here on)."""
    if userns:
        # the fd belongs to the mount namespace before the user namespace: find the copy of the root in ours
        os.close(root_fd)
        try:
            os.chdir(spec.stage_dir)
            # what came from the host's side is locked, and pivot_root refuses a locked new root: bind it again
            sc.mount(spec.stage_dir, spec.stage_dir, None, sc.MS_BIND | sc.MS_REC)
            os.chdir(spec.stage_dir)
        except PermissionError:
            raise OSError(
                13, f"the run directory '{os.path.dirname(spec.stage_dir)}' must be searchable by the container's root"
            ) from None
    else:
        os.fchdir(root_fd)
        os.close(root_fd)
    for m in spec.mounts:
        if m.kind == "ram":
            target = f".{m.target}"
            _mkdirs(target)
            sc.mount("tmpfs", target, "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, f"size={m.size_kib}k")
    sc.mount("proc", "proc", "proc", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
    _read_only_bind("proc/sys")
    try:
        sc.mount("sysfs", "sys", "sysfs", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC | sc.MS_RDONLY)
    except PermissionError:
        if not userns:
            raise
        # a user namespace sharing the host's network namespace may not mount sysfs: show the host's, read-only
        sc.mount("/sys", "sys", None, sc.MS_BIND | sc.MS_REC)
        sc.mount(None, "sys", None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY)
    _setup_dev(console, userns)
    if spec.root_readonly:
        sc.mount(None, ".", None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY)


def _pivot() -> None:
    # pivot_root(".", ".") stacks the old root under the new one; detaching it leaves only the container's
    sc.pivot_root(".", ".")
    sc.umount2(".", sc.MNT_DETACH)
    os.chdir("/")


def _lookup_id(value: str, db: str) -> int:
    if value.isdigit():
        return int(value)
    try:
        with open(db, encoding="utf-8") as f:
            for line in f:
                fields = line.split(":")
                if len(fields) > 2 and fields[0] == value:
                    return int(fields[2])
    except OSError:
        pass
    kind = "user" if db.endswith("passwd") else "group"
    raise OSError(2, f"cannot find {kind} '{value}' in the container's {db}")


def _install_passed_fds(passed: list[int], err_fd: int) -> int:
    """libvirt's lxcContainerSetupFDs: the passed descriptors become 3, 4, ... in their order, nothing else.

    Everything that must survive until the exec (the passed descriptors, the
    error pipe) first moves above the range they take, so that no ``dup2``
    overwrites another; then each lands on its number (inheritable) and every
    other descriptor from there up is closed, as libvirt closes them "just in
    case someone forgot to set FD_CLOEXEC". The error pipe stays, close-on-exec:
    the init never sees it. Returns its new number.
    """
    top = 3 + len(passed)
    new_err = fcntl.fcntl(err_fd, fcntl.F_DUPFD_CLOEXEC, top)
    os.close(err_fd)
    lifted = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, top) for fd in passed]
    for fd in passed:
        os.close(fd)
    for number, fd in enumerate(lifted, start=3):
        os.dup2(fd, number)  # (inheritable: the init's own from now on)
        os.close(fd)
    os.closerange(top, new_err)
    os.closerange(new_err + 1, os.sysconf("SC_OPEN_MAX"))
    return new_err


def _exec_init(spec: ContainerSpec, passed: list[int], err_fd: int) -> None:
    init = spec.init[0]
    if not os.path.exists(init):
        raise OSError(2, f"cannot find init path '{init}' relative to container root")
    uid = _lookup_id(spec.uid, "/etc/passwd") if spec.uid else 0
    gid = _lookup_id(spec.gid, "/etc/group") if spec.gid else 0
    if spec.workdir:
        os.chdir(spec.workdir)
    if spec.keep_caps is not None:
        # the locked form: exactly keep_caps survive exec (ambient), NOROOT etc. locked; a capability
        # this process never had (the host's bounding set may lack some) cannot be kept
        have = caps.read_process_caps().permitted
        keep = [c for c in spec.keep_caps if caps.parse_capability(c) in have]
        caps.set_uid_gid_with_caps(uid or None, gid or None, [] if uid else None, keep, securebits_lock=True)
    else:
        caps.drop_capabilities(spec.drop_caps)
        if gid:
            os.setgroups([])
            os.setgid(gid)
        if uid:
            os.setuid(uid)
    err_fd = _install_passed_fds(passed, err_fd)
    try:
        os.execve(init, spec.init, spec.env)
    except BaseException as exc:  # the caller's err_fd may now be a passed descriptor: report on the moved one
        report_failure(err_fd, exc)


def report_failure(err_fd: int, exc: BaseException) -> None:
    """Write why the container could not start to the controller, then exit 126."""
    msg = exc.strerror if isinstance(exc, OSError) and exc.strerror else f"{type(exc).__name__}: {exc}"
    if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in msg:
        msg = f"{msg}: {exc.filename}"
    try:
        os.write(err_fd, msg.encode(errors="replace"))
    finally:
        os._exit(126)


def enter_container(spec: ContainerSpec, console_fd: int, ready_fd: int, go_fd: int, err_fd: int,
                    root_fd: int = -1, passed: list[int] | None = None) -> None:  # fmt: skip
    """Never returns: execs the init or exits 126 after writing why to ``err_fd``.

    ``root_fd`` >= 0: the namespaces (a user namespace among them) and the root
    were made by the process that forked us (see the controller); otherwise
    this process makes them. ``passed``: descriptors the init gets as 3, 4, ...
    (virDomainCreateWithFiles).
    """
    userns = root_fd >= 0
    try:
        if not userns:
            flags = sc.CLONE_NEWNS | sc.CLONE_NEWUTS | sc.CLONE_NEWIPC
            if spec.private_net:
                flags |= sc.CLONE_NEWNET
            for kind, path in spec.shares:  # <lxc:namespace>: join, do not create
                ns_flag = {"net": sc.CLONE_NEWNET, "ipc": sc.CLONE_NEWIPC, "uts": sc.CLONE_NEWUTS}[kind]
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                sc.setns(fd, ns_flag)
                os.close(fd)
                flags &= ~ns_flag
            sc.unshare(flags)
        os.write(ready_fd, b"1")
        os.close(ready_fd)
        if os.read(go_fd, 1) != b"1":
            os._exit(125)  # the driver gave up on us: nothing to report
        os.close(go_fd)
        os.setsid()
        fcntl.ioctl(console_fd, termios.TIOCSCTTY, 0)
        for n in (0, 1, 2):
            os.dup2(console_fd, n)
        console = os.ttyname(console_fd)
        if console_fd > 2:
            os.close(console_fd)
        if not userns:
            root_fd = prepare_root(spec)
        _populate_root(spec, root_fd, console, userns)
        for attr, text in spec.exec_attrs:  # SetProcessLabel: per task, so the host's /proc/self reaches it
            with open(attr, "w", encoding="ascii") as f:
                f.write(text)
        _pivot()
        if not any(kind == "uts" for kind, _ in spec.shares):
            sc.sethostname(spec.hostname)
        if spec.private_net:
            sc.interface_up("lo")
        _exec_init(spec, passed or [], err_fd)
    except BaseException as exc:
        report_failure(err_fd, exc)
