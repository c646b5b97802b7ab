"""The software TPM of a guest with ``<tpm><backend type='emulator'/></tpm>``: one swtpm per guest.

As in libvirt, swtpm keeps the TPM's state in a directory of the driver
named after the guest's UUID (it outlives runs of the guest; undefine
removes it) and runs as QEMU's user. Unlike libvirt, the two are joined by
a socketpair rather than a socket file: swtpm gets one end as its control
channel (``clientfd``), QEMU the other as the ``chrtpm`` chardev, so no path
has to fit ``sun_path`` or be labelled. swtpm is told to ``--terminate``
once QEMU goes; the driver also ends it when it cleans up after the guest.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket

from pyvirt.conf.domain import Domain
from pyvirt.conf.domain_devices import Tpm
from pyvirt.errors import ErrorCode, NotSupportedError, OperationFailedError
from pyvirt.local_driver.paths import DriverPaths
from pyvirt.util.command import Command

__all__ = ["emulated_tpm", "remove_tpm_state", "start_swtpm", "stop_swtpm", "tpm_state_dir", "tpm_versions"]


def emulated_tpm(dom: Domain) -> Tpm | None:
    tpms = dom.devices.tpms if dom.devices is not None else []
    if len(tpms) > 1:
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "only a single TPM device is supported")
    return tpms[0] if tpms and tpms[0].backend_type == "emulator" else None


def _features(binary: str) -> list[str]:
    """What this swtpm build can emulate (``--print-capabilities``), as libvirt asks it."""
    out = Command([binary, "socket", "--print-capabilities"]).capture_stdout().pass_env("PATH").run(timeout=10)
    try:
        return list(json.loads(out.stdout or "{}").get("features", []))
    except ValueError:
        return []


def tpm_versions() -> list[str]:
    """TPM versions the installed swtpm emulates (empty without swtpm)."""
    binary = shutil.which("swtpm")
    if binary is None:
        return []
    features = _features(binary)
    return [v for v in ("1.2", "2.0") if f"tpm-{v}" in features]


def tpm_state_dir(paths: DriverPaths, dom: Domain, version: str) -> str:
    return os.path.join(paths.lib, "swtpm", dom.uuid or "", "tpm2" if version == "2.0" else "tpm1.2")


def _pidfile(paths: DriverPaths, name: str) -> str:
    return os.path.join(paths.run, f"{name}-swtpm.pid")


def start_swtpm(dom: Domain, paths: DriverPaths, uid: int, gid: int) -> int | None:
    """Start the guest's swtpm; returns QEMU's end of the control channel (None: no emulated TPM)."""
    tpm = emulated_tpm(dom)
    if tpm is None:
        return None
    version = tpm.backend_version or "2.0"
    binary = shutil.which("swtpm")
    if binary is None:
        raise OperationFailedError(ErrorCode.OPERATION_FAILED, "Unable to find 'swtpm' binary in $PATH: "
                                   "No such file or directory", verbatim=False)  # fmt: skip
    if f"tpm-{version}" not in _features(binary):
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"TPM version '{version}' is not supported")
    state = tpm_state_dir(paths, dom, version)
    os.makedirs(state, mode=0o700, exist_ok=True)
    for path in (state, os.path.dirname(state)):
        os.chown(path, uid, gid)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    name = dom.name or ""
    cmd = Command([binary, "socket", "--ctrl", f"type=unixio,clientfd={ours.fileno()}",
                   "--tpmstate", f"dir={state},mode=0600", "--log", f"file={paths.logfile(name + '-swtpm')}",
                   "--terminate", *(["--tpm2"] if version == "2.0" else [])])  # fmt: skip
    cmd.pass_fd(ours.fileno()).set_pidfile(_pidfile(paths, name)).daemonize()
    cmd.set_uid(uid).set_gid(gid).clear_capabilities().pass_env("PATH")
    try:
        cmd.run_async()
    except BaseException:
        theirs.close()
        raise
    finally:
        ours.close()
    return theirs.detach()


def stop_swtpm(paths: DriverPaths, name: str) -> None:
    """End the guest's swtpm if it is still there (it normally leaves with QEMU)."""
    pidfile = _pidfile(paths, name)
    try:
        with open(pidfile, encoding="ascii") as f:
            pid = int(f.read().strip() or "0")
    except (FileNotFoundError, ValueError):
        return
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            ours = b"swtpm" in f.read()
    except OSError:
        ours = False
    if ours:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(pidfile)


def remove_tpm_state(paths: DriverPaths, dom: Domain) -> None:
    shutil.rmtree(os.path.join(paths.lib, "swtpm", dom.uuid or ""), ignore_errors=True)
