"""The xl toolstack, run as a program: how the driver creates, inspects and stops Xen domains.

libvirt's driver links libxenlight; pyvirt runs ``xl`` (xl(1), Xen's own
command-line toolstack over the same library) on the configuration it
generates, because a Python plugin cannot link libxenlight without C glue
and ``xl`` is what a Xen host has anyway. ``xl create`` leaves a monitoring
``xl`` process per domain behind (it applies ``on_reboot``/``on_crash``), so
the guest's life does not depend on the driver's process, as with libvirt.

Every call runs ``xl`` from ``PATH`` with a clean environment and a time
limit; a failure becomes one pyvirt error carrying xl's own message.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from typing import NamedTuple

from pyvirt.errors import ErrorCode, ErrorDomain, InternalError
from pyvirt.util.command import Command, CommandFailedError, ProgramNotFoundError

__all__ = [
    "XlDomain",
    "XlError",
    "parse_xl_info",
    "parse_xl_list",
    "require_xl",
    "run_xl",
    "xl_create",
    "xl_info",
    "xl_info_numa",
    "xl_list",
]

# xl waits for the hypervisor and xenstore; under nested TCG a create takes seconds
TIMEOUT = 120.0


class XlError(InternalError):
    """``xl`` ran and failed: libvirt's message for the operation, then xl's last line of stderr (its reason)."""

    def __init__(self, message: str, xl_reason: str) -> None:
        self.xl_reason = xl_reason
        super().__init__(
            ErrorCode.INTERNAL_ERROR, message + (f": {xl_reason}" if xl_reason else ""), domain=ErrorDomain.LIBXL
        )


class XlDomain(NamedTuple):
    """One line of ``xl list``: the domain's name, id, memory (MiB), vCPUs, xl's six state letters, CPU time."""

    name: str
    id: int
    memory_mib: int
    vcpus: int
    flags: str
    cpu_seconds: float

    @property
    def paused(self) -> bool:
        return self.flags[2:3] == "p"

    @property
    def shut_down(self) -> bool:
        """Shut down or dying: the guest has stopped, xl's monitor has not reaped it yet."""
        return "s" in self.flags[3:4] or "d" in self.flags[5:6]

    @property
    def crashed(self) -> bool:
        return self.flags[4:5] == "c"


_LIST_HEADER = re.compile(r"^Name\s+ID\s+Mem\s+VCPUs\s+State\s+Time\(s\)")


def parse_xl_list(text: str) -> list[XlDomain]:
    """``xl list``'s table. A Xen domain name may hold spaces, so each line is split from the right."""
    lines = text.splitlines()
    if not lines or not _LIST_HEADER.match(lines[0]):
        raise XlError("cannot parse the output of 'xl list'", lines[0] if lines else "no output")
    domains = []
    for line in lines[1:]:
        if not line.strip():
            continue
        parts = line.rsplit(None, 5)
        if len(parts) != 6:
            raise XlError("cannot parse the output of 'xl list'", line)
        name, domid, mem, vcpus, flags, cpu = parts
        domains.append(XlDomain(name.strip(), int(domid), int(mem), int(vcpus), flags, float(cpu)))
    return domains


def run_xl(*args: str, failure: str) -> str:
    """Run ``xl ARGS``; its stdout, or :class:`XlError` with ``failure`` (libvirt's wording) and xl's reason."""
    cmd = Command(["xl", *args]).pass_env("PATH").set_env("LC_ALL", "C").capture_stdout().capture_stderr()
    try:
        cmd.run(timeout=TIMEOUT)
    except CommandFailedError as err:
        lines = [ln for ln in err.stderr.decode(errors="replace").splitlines() if ln.strip()]
        if err.step == "exec":  # xl itself is missing: Command's error names the package
            raise
        raise XlError(failure, lines[-1].strip() if lines else f"xl exited with status {err.exit_status}") from None
    return cmd.stdout.decode(errors="replace")


def require_xl() -> None:
    """Refuse at once, with the error running it would give, when ``xl`` is not installed.

    A start labels the guest's files before xl runs; on a host without Xen
    the reason it cannot start is the missing toolstack, not a file.
    """
    if shutil.which("xl", path=os.environ.get("PATH", os.defpath)) is None:
        raise ProgramNotFoundError("xl", in_path=True)


def xl_list() -> list[XlDomain]:
    """Every domain the hypervisor has, Domain-0 included."""
    return parse_xl_list(run_xl("list", failure="Failed to list domains"))


def xl_create(config_path: str, name: str, *, paused: bool = False) -> int:
    """``xl create`` of a configuration file; the new domain's id.

    xl destroys a domain whose build fails before it returns, so a failed
    create leaves nothing behind in ``xl list``. The id comes from
    ``xl domid`` right after: xl does not print it. ``paused``: the vCPUs
    wait for an unpause (``xl create -p``).
    """
    run_xl(
        "create", *(["-p"] if paused else []), config_path, failure=f"libxenlight failed to create new domain '{name}'"
    )
    try:
        return int(run_xl("domid", name, failure=f"libxenlight failed to create new domain '{name}'").strip())
    except BaseException:
        # created but not identified: a guest the driver cannot track must not keep running
        with contextlib.suppress(Exception):
            run_xl("destroy", name, failure="")
        raise


def parse_xl_info(text: str) -> dict[str, str]:
    """``xl info``'s ``key : value`` lines (the host's physinfo and Xen's version, as libxl reports them)."""
    info = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            info[key.strip()] = value.strip()
    for key in ("total_memory", "nr_cpus", "nr_nodes", "cores_per_socket", "threads_per_core", "cpu_mhz",
                "xen_major", "xen_minor"):  # fmt: skip
        if key not in info:
            raise XlError("cannot parse the output of 'xl info'", f"no {key}")
    return info


def xl_info() -> dict[str, str]:
    return parse_xl_info(run_xl("info", failure="libxl_get_physinfo_info failed"))


def xl_info_numa() -> str:
    """``xl info -n``: the same, with the CPU topology and NUMA tables (the capabilities' host part)."""
    return run_xl("info", "-n", failure="Failed to get node physical info from libxenlight")
