"""Process capabilities: parse names, read them back, and change them exactly.

The functions that *change* capabilities act on the calling thread and are
meant for a freshly forked child (``pyvirt.util.command`` calls them between
fork and exec); calling them in a long-lived process changes that process.

``set_uid_gid_with_caps`` follows libvirt's ``virSetUIDGIDWithCaps`` step by
step, because the order is what makes it work: capabilities survive the uid
change only while ``PR_SET_KEEPCAPS`` is on, the bounding set can only shrink
while ``CAP_SETPCAP`` is effective, and a non-root process keeps capabilities
across ``execve`` only through the ambient set. python-prctl 1.8.1 does the
capset and bounding-set work; it has no ambient-set call, so that one prctl
goes through ctypes.
"""

from __future__ import annotations

import ctypes
import errno as errno_mod
import os
from collections.abc import Iterable

import _prctl
import prctl


# pyvirt.errors (and enum with it) is imported only when an error is raised: this module is
# on the start path of every container controller, where each millisecond counts.
# A process that has pivoted into a container's root can no longer import anything: it gets OSError.
def _system_error(err: int, message: str) -> Exception:
    try:
        from pyvirt.errors import SystemCallError
    except ImportError:
        return OSError(err, message)
    return SystemCallError(err, message)


def _invalid_arg(message: str) -> Exception:
    try:
        from pyvirt.errors import ErrorCode, InvalidArgumentError
    except ImportError:
        return ValueError(message)
    return InvalidArgumentError(ErrorCode.INVALID_ARG, message)


__all__ = [
    "CAPABILITY_NUMBERS",
    "ProcessCaps",
    "capability_name",
    "clear_all_capabilities",
    "drop_capabilities",
    "last_capability",
    "lock_securebits",
    "parse_capabilities",
    "parse_capability",
    "read_process_caps",
    "set_uid_gid_with_caps",
]

# Linux's capability numbers (include/uapi/linux/capability.h).
CAPABILITY_NUMBERS: dict[str, int] = {
    "chown": 0,
    "dac_override": 1,
    "dac_read_search": 2,
    "fowner": 3,
    "fsetid": 4,
    "kill": 5,
    "setgid": 6,
    "setuid": 7,
    "setpcap": 8,
    "linux_immutable": 9,
    "net_bind_service": 10,
    "net_broadcast": 11,
    "net_admin": 12,
    "net_raw": 13,
    "ipc_lock": 14,
    "ipc_owner": 15,
    "sys_module": 16,
    "sys_rawio": 17,
    "sys_chroot": 18,
    "sys_ptrace": 19,
    "sys_pacct": 20,
    "sys_admin": 21,
    "sys_boot": 22,
    "sys_nice": 23,
    "sys_resource": 24,
    "sys_time": 25,
    "sys_tty_config": 26,
    "mknod": 27,
    "lease": 28,
    "audit_write": 29,
    "audit_control": 30,
    "setfcap": 31,
    "mac_override": 32,
    "mac_admin": 33,
    "syslog": 34,
    "wake_alarm": 35,
    "block_suspend": 36,
    "audit_read": 37,
    "perfmon": 38,
    "bpf": 39,
    "checkpoint_restore": 40,
}
_NAMES_BY_NUMBER = {v: k for k, v in CAPABILITY_NUMBERS.items()}

CAP_SETGID = CAPABILITY_NUMBERS["setgid"]
CAP_SETUID = CAPABILITY_NUMBERS["setuid"]
CAP_SETPCAP = CAPABILITY_NUMBERS["setpcap"]

# prctl(2) options python-prctl does not wrap.
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_RAISE = 2
_PR_CAP_AMBIENT_CLEAR_ALL = 4

_libc = ctypes.CDLL(None, use_errno=True)
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_libc.prctl.restype = ctypes.c_int


def last_capability() -> int:
    """Highest capability number the running kernel knows."""
    with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as f:
        return int(f.read())


def parse_capability(name: str) -> int:
    """``"sys_rawio"``, ``"CAP_SYS_RAWIO"`` or ``"Cap_Sys_RawIO"`` -> 17.

    Unknown names are an ``INVALID_ARG`` error rather than being ignored,
    because a silently ignored capability is a silently wrong sandbox.
    """
    key = name.strip().lower()
    if key.startswith("cap_"):
        key = key[4:]
    try:
        return CAPABILITY_NUMBERS[key]
    except KeyError:
        raise _invalid_arg(f"unknown capability '{name}'") from None


def parse_capabilities(caps: Iterable[str | int]) -> frozenset[int]:
    """Names or numbers -> a set of capability numbers (each validated)."""
    out: set[int] = set()
    for cap in caps:
        if isinstance(cap, int):
            if cap not in _NAMES_BY_NUMBER:
                raise _invalid_arg(f"unknown capability number {cap}")
            out.add(cap)
        else:
            out.add(parse_capability(cap))
    return frozenset(out)


def capability_name(number: int) -> str:
    """17 -> ``"sys_rawio"`` (libcap's lower-case spelling, no prefix)."""
    return _NAMES_BY_NUMBER.get(number, f"cap_{number}")


class ProcessCaps:
    """The five capability sets and the credentials of one process, from /proc.

    A plain class rather than a dataclass: this module is on the start path
    of every container controller, where importing ``dataclasses`` (and
    ``inspect`` with it) costs more than the whole container setup.
    """

    __slots__ = ("ambient", "bounding", "effective", "gids", "groups", "inheritable", "permitted", "uids")

    def __init__(self, *, inheritable: frozenset[int], permitted: frozenset[int], effective: frozenset[int],
                 bounding: frozenset[int], ambient: frozenset[int], uids: tuple[int, int, int, int],
                 gids: tuple[int, int, int, int], groups: tuple[int, ...]) -> None:  # fmt: skip
        self.inheritable, self.permitted, self.effective = inheritable, permitted, effective
        self.bounding, self.ambient = bounding, ambient
        self.uids, self.gids, self.groups = uids, gids, groups

    def __repr__(self) -> str:
        return "ProcessCaps(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__) + ")"


def _mask_to_set(hexmask: str) -> frozenset[int]:
    value = int(hexmask, 16)
    return frozenset(i for i in range(value.bit_length()) if value >> i & 1)


def read_process_caps(pid: int | str = "self") -> ProcessCaps:
    """Read what the kernel says a process holds (``/proc/PID/status``)."""
    fields: dict[str, str] = {}
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()

    def ids(key: str) -> tuple[int, int, int, int]:
        a, b, c, d = (int(x) for x in fields[key].split())
        return (a, b, c, d)

    return ProcessCaps(
        inheritable=_mask_to_set(fields["CapInh"]),
        permitted=_mask_to_set(fields["CapPrm"]),
        effective=_mask_to_set(fields["CapEff"]),
        bounding=_mask_to_set(fields["CapBnd"]),
        ambient=_mask_to_set(fields.get("CapAmb", "0")),
        uids=ids("Uid"),
        gids=ids("Gid"),
        groups=tuple(int(x) for x in fields.get("Groups", "").split()),
    )


# Read once in the parent: children must not open files or import codecs
# between fork and exec (slow, and not async-signal-safe).
_ALL_CAPS: tuple[int, ...] = tuple(range(last_capability() + 1))


def _all_caps() -> tuple[int, ...]:
    return _ALL_CAPS


def _capset(effective: Iterable[int], permitted: Iterable[int], inheritable: Iterable[int], step: str) -> None:
    """Set the three per-thread sets to exactly these values (one capset call).

    Calls python-prctl's C entry point with plain lists: its Python wrapper
    re-validates every name on each call, which costs ~0.3 ms in a freshly
    forked child (every object it touches is a copy-on-write fault) and the
    values here are already validated numbers.
    """
    e, p, i = set(effective), set(permitted), set(inheritable)
    every = _ALL_CAPS
    try:
        _prctl.set_caps(
            list(e),
            list(p),
            list(i),
            [c for c in every if c not in e],
            [c for c in every if c not in p],
            [c for c in every if c not in i],
        )
    except OSError as exc:
        raise _system_error(exc.errno or errno_mod.EPERM, f"cannot apply process capabilities ({step})") from exc


def _raw_prctl(option: int, arg2: int, arg3: int, what: str) -> None:
    if _libc.prctl(option, arg2, arg3, 0, 0) < 0:
        raise _system_error(ctypes.get_errno(), what)


def _clear_ambient() -> None:
    _raw_prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, "cannot clear the ambient capability set")


def _raise_ambient(caps: Iterable[int]) -> None:
    for cap in sorted(caps):
        _raw_prctl(
            _PR_CAP_AMBIENT,
            _PR_CAP_AMBIENT_RAISE,
            cap,
            f"cannot raise capability '{capability_name(cap)}' in the ambient set",
        )


def _shrink_bounding(keep: frozenset[int]) -> None:
    """Drop every capability not in ``keep`` from the bounding set (needs CAP_SETPCAP)."""
    for cap in _all_caps():
        if cap in keep or not prctl.capbset_read(cap):
            continue
        try:
            prctl.capbset_drop(cap)
        except OSError as exc:
            raise _system_error(
                exc.errno or errno_mod.EPERM,
                f"cannot drop capability '{capability_name(cap)}' from the bounding set",
            ) from exc


def lock_securebits() -> None:
    """Lock the process (and everything it execs) out of regaining capabilities.

    Sets NOROOT (uid 0 gets no capabilities at exec), NO_SETUID_FIXUP (uid
    changes do not touch capabilities) and clears KEEP_CAPS, each with its
    _LOCKED bit so nobody can undo it. Changing securebits needs CAP_SETPCAP
    in the effective set, so callers must do this *before* dropping it.
    """
    bits = (
        prctl.SECBIT_NOROOT
        | prctl.SECBIT_NOROOT_LOCKED
        | prctl.SECBIT_NO_SETUID_FIXUP
        | prctl.SECBIT_NO_SETUID_FIXUP_LOCKED
        | prctl.SECBIT_KEEP_CAPS_LOCKED
    )
    try:
        prctl.set_securebits(bits)
    except OSError as exc:
        raise _system_error(exc.errno or errno_mod.EPERM, "cannot lock securebits (needs CAP_SETPCAP)") from exc


def set_uid_gid_with_caps(
    uid: int | None,
    gid: int | None,
    groups: Iterable[int] | None,
    caps: Iterable[str | int],
    clear_existing: bool = True,
    *,
    securebits_lock: bool = False,
) -> None:
    """Become ``uid``/``gid`` with ``groups`` while keeping exactly ``caps``.

    ``groups`` must be computed *before* fork (``os.getgrouplist``); calling
    ``initgroups`` in a forked child can deadlock on NSS locks. With
    ``clear_existing`` false and no uid change, existing capabilities are
    kept and ``caps`` are added (libvirt's semantics for root children).
    ``securebits_lock`` locks securebits while CAP_SETPCAP is still held.
    """
    wanted = parse_capabilities(caps)
    change_uid = uid is not None and uid != -1
    change_gid = gid is not None and gid != -1
    clear = clear_existing or (change_uid and uid != 0)

    if clear:
        base: set[int] = set(wanted)
        base_inh: set[int] = set(wanted)
    else:
        now = read_process_caps()
        base = set(now.permitted | wanted)
        base_inh = set(now.inheritable | wanted)

    temporary: set[int] = set()
    if change_gid and CAP_SETGID not in base:
        temporary.add(CAP_SETGID)
    if change_uid and CAP_SETUID not in base:
        temporary.add(CAP_SETUID)
    if CAP_SETPCAP not in base:
        temporary.add(CAP_SETPCAP)

    _clear_ambient()
    _capset(base | temporary, base | temporary, base_inh, "before the uid change")

    if change_uid or change_gid:
        prctl.set_keepcaps(True)
        try:
            if change_gid:
                assert gid is not None
                os.setregid(gid, gid)
            if groups is not None:
                os.setgroups(list(groups))
            if change_uid:
                assert uid is not None
                os.setreuid(uid, uid)
        except OSError as exc:
            raise _system_error(exc.errno or errno_mod.EPERM, f"cannot change to uid:gid {uid}:{gid}") from exc
        prctl.set_keepcaps(False)
        # setreuid from 0 clears the effective set; bring it back from permitted.
        _capset(base | temporary, base | temporary, base_inh, "after the uid change")
    elif groups is not None:
        try:
            os.setgroups(list(groups))
        except OSError as exc:
            raise _system_error(exc.errno or errno_mod.EPERM, "cannot set supplementary groups") from exc

    if clear:
        # Survive execve as non-root: the ambient set is the only way.
        _raise_ambient(wanted)
        _shrink_bounding(frozenset(wanted))
    if securebits_lock:
        lock_securebits()
    _capset(base, base, base_inh, "dropping temporary capabilities")


def drop_capabilities(caps: Iterable[str | int]) -> None:
    """Remove ``caps`` from every set, the bounding set included.

    The bounding set goes first, while CAP_SETPCAP may still be effective.
    """
    drop = parse_capabilities(caps)
    for cap in sorted(drop):
        if prctl.capbset_read(cap):
            try:
                prctl.capbset_drop(cap)
            except OSError as exc:
                raise _system_error(
                    exc.errno or errno_mod.EPERM,
                    f"cannot drop capability '{capability_name(cap)}' from the bounding set",
                ) from exc
    now = read_process_caps()
    _capset(now.effective - drop, now.permitted - drop, now.inheritable - drop, "dropping capabilities")
    # Ambient caps vanish automatically once not in permitted/inheritable.


def clear_all_capabilities() -> None:
    """Leave the process with no capability in any set, bounding included."""
    _clear_ambient()
    _shrink_bounding(frozenset())
    _capset((), (), (), "clearing all capabilities")
