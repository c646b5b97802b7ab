"""Device access control on cgroup v2: an eBPF program attached to the container's cgroup.

cgroup v2 has no devices controller; the kernel instead runs a
BPF_PROG_TYPE_CGROUP_DEVICE program for every device open or mknod of a
task in the cgroup (systemd, runc and crun do the same). The program is
small enough to assemble here: for each allowed (type, major, minor) it
compares the context's fields and returns 1 (allow); falling off the end
returns 0 (deny). No BPF library is needed for a dozen instructions, and
none that Debian or PyPI ships does cgroup device programs without a
compiler toolchain.
"""

from __future__ import annotations

import ctypes
import os
import struct

__all__ = ["attach_device_filter", "build_program"]

_BPF_PROG_LOAD, _BPF_PROG_ATTACH = 5, 8
_BPF_PROG_TYPE_CGROUP_DEVICE, _BPF_CGROUP_DEVICE = 15, 6
_DEV_TYPE = {"b": 1, "c": 2}  # BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR
_SYS_BPF = {"x86_64": 321, "aarch64": 280, "ppc64le": 361, "s390x": 351}

_libc = ctypes.CDLL(None, use_errno=True)


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def build_program(rules: list[tuple[str, int, int]]) -> bytes:
    """The program for these (type 'b'|'c', major, minor or -1 for any) rules: allow them, deny the rest."""
    prog = [
        _insn(0x61, dst=2, src=1, off=0),  # r2 = ctx->access_type
        _insn(0xBF, dst=3, src=2),  # r3 = r2
        _insn(0x57, dst=3, imm=0xFFFF),  # r3 &= 0xffff: the device type
        _insn(0x61, dst=4, src=1, off=4),  # r4 = ctx->major
        _insn(0x61, dst=5, src=1, off=8),  # r5 = ctx->minor
    ]
    for kind, major, minor in rules:
        checks = [(3, _DEV_TYPE[kind]), (4, major)] + ([(5, minor)] if minor >= 0 else [])
        block_len = len(checks) + 2
        for i, (reg, value) in enumerate(checks):
            prog.append(_insn(0x55, dst=reg, off=block_len - i - 1, imm=value))  # if reg != value: next rule
        prog += [_insn(0xB7, dst=0, imm=1), _insn(0x95)]  # return 1 (allow)
    prog += [_insn(0xB7, dst=0, imm=0), _insn(0x95)]  # return 0 (deny)
    return b"".join(prog)


def _bpf(cmd: int, attr: bytes) -> int:
    number = _SYS_BPF.get(os.uname().machine)
    if number is None:
        raise OSError(38, f"bpf: unknown system call number on {os.uname().machine}")
    buf = ctypes.create_string_buffer(attr, 128)
    ret = int(_libc.syscall(ctypes.c_long(number), ctypes.c_int(cmd), buf, ctypes.c_uint(128)))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"bpf({cmd}): {os.strerror(err)}")
    return ret


def attach_device_filter(cgroup_dir: str, rules: list[tuple[str, int, int]]) -> None:
    """Load the program and attach it to ``cgroup_dir`` (a cgroup v2 directory); it lives as long as the cgroup."""
    code = build_program(rules)
    insns = ctypes.create_string_buffer(code, len(code))
    license_ = ctypes.create_string_buffer(b"GPL")
    attr = struct.pack("<IIQQ", _BPF_PROG_TYPE_CGROUP_DEVICE, len(code) // 8, ctypes.addressof(insns),
                       ctypes.addressof(license_))  # fmt: skip
    prog_fd = _bpf(_BPF_PROG_LOAD, attr)
    try:
        cg_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            _bpf(_BPF_PROG_ATTACH, struct.pack("<IIII", cg_fd, prog_fd, _BPF_CGROUP_DEVICE, 0))
        finally:
            os.close(cg_fd)
    finally:
        os.close(prog_fd)
