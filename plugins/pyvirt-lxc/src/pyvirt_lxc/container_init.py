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


def _setup_dev(root: str, console: str) -> None:
    dev = f"{root}/dev"
    _mkdirs(dev)
    sc.mount("devfs", dev, "tmpfs", sc.MS_NOSUID, "mode=755,size=65536k")
    old = os.umask(0)
    try:
        for name, (major, minor) in BASIC_DEVICES.items():
            os.mknod(f"{dev}/{name}", 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        _mkdirs(f"{dev}/pts")
        sc.mount("devpts", f"{dev}/pts", "devpts", sc.MS_NOSUID | sc.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620")
        os.symlink("pts/ptmx", f"{dev}/ptmx")
        _mkdirs(f"{dev}/shm")
        sc.mount("devshm", f"{dev}/shm", "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, "mode=1777")
        for link, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                             ("stderr", "/proc/self/fd/2")):  # fmt: skip
            os.symlink(target, f"{dev}/{link}")
        with open(f"{dev}/console", "w"):
            pass
        sc.mount(console, f"{dev}/console", None, sc.MS_BIND)
    finally:
        os.umask(old)


def _read_only_bind(path: str) -> None:
    sc.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
    sc.mount(None, path, None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY)


def _build_root(spec: ContainerSpec, console: str) -> str:
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)  # nothing we mount reaches the host
    if spec.root:
        root = spec.root
        sc.mount(root, root, None, sc.MS_BIND | sc.MS_REC)
        for d in ("proc", "sys", "dev"):
            if not os.path.isdir(f"{root}/{d}"):
                _mkdirs(f"{root}/{d}")
    else:
        root = spec.stage_dir
        sc.mount("/", root, None, sc.MS_BIND)  # not recursive: host submounts stay out
        spec.root_readonly = True
    for m in spec.mounts:
        target = f"{root}{m.target}"
        _mkdirs(target)
        if m.kind == "bind":
            sc.mount(m.source, target, None, sc.MS_BIND | sc.MS_REC)
            if m.readonly:
                sc.mount(None, target, None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY)
        else:  # ram
            sc.mount("tmpfs", target, "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, f"size={m.size_kib}k")
    sc.mount("proc", f"{root}/proc", "proc", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
    _read_only_bind(f"{root}/proc/sys")
    sc.mount("sysfs", f"{root}/sys", "sysfs", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC | sc.MS_RDONLY)
    _setup_dev(root, console)
    if spec.root_readonly:
        sc.mount(None, root, None, sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY)
    return root


def _pivot(root: str) -> None:
    # pivot_root(".", ".") stacks the old root under the new one; detaching it leaves only the container's
    os.chdir(root)
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


def _exec_init(spec: ContainerSpec) -> None:
    init = spec.init[0]
    if not os.path.exists(init):
        raise OSError(2, f"cannot find init path '{init}' relative to container root")
    uid = _lookup_id(spec.uid, "/etc/passwd") if spec.uid else 0
    gid = _lookup_id(spec.gid, "/etc/group") if spec.gid else 0
    if spec.workdir:
        os.chdir(spec.workdir)
    if spec.keep_caps is not None:
        # the locked form: exactly keep_caps survive exec (ambient), NOROOT etc. locked
        caps.set_uid_gid_with_caps(uid or None, gid or None, [] if uid else None, spec.keep_caps,
                                   securebits_lock=True)  # fmt: skip
    else:
        caps.drop_capabilities(spec.drop_caps)
        if gid:
            os.setgroups([])
            os.setgid(gid)
        if uid:
            os.setuid(uid)
    os.execve(init, spec.init, spec.env)


def enter_container(spec: ContainerSpec, console_fd: int, ready_fd: int, go_fd: int, err_fd: int) -> None:
    """Never returns: execs the init or exits 126 after writing why to ``err_fd``."""
    try:
        flags = sc.CLONE_NEWNS | sc.CLONE_NEWUTS | sc.CLONE_NEWIPC
        if spec.private_net:
            flags |= sc.CLONE_NEWNET
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
        root = _build_root(spec, console)
        _pivot(root)
        sc.sethostname(spec.hostname)
        if spec.private_net:
            sc.interface_up("lo")
        _exec_init(spec)
    except BaseException as exc:
        msg = exc.strerror if isinstance(exc, OSError) and exc.strerror else f"{type(exc).__name__}: {exc}"
        if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in msg:
            msg = f"{msg}: {exc.filename}"
        try:
            os.write(err_fd, msg.encode(errors="replace"))
        finally:
            os._exit(126)
