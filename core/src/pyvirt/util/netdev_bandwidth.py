"""A NIC's ``<bandwidth>`` on its host device, with ``tc``: libvirt's virNetDevBandwidthSet/Clear/SetRootQDisc.

Why the ``tc`` program and not pyroute2's netlink: the kernel state must be
libvirt's, and much of it is computed by ``tc`` itself, not given by libvirt
(an htb class's default burst and cburst from the rate and the host's timer,
the rate tables, the police action's buffer from ``burst`` and ``mtu``).
Running the same program with the same arguments gives the same qdiscs,
classes and filters by construction; pyroute2's tc messages would have to
reproduce those computations. libvirt too runs ``tc`` for this.

The shape (see virnetdevbandwidth.c for the long picture): what the device
transmits goes through a root htb qdisc (handle ``1:``) whose class ``1:1``
has the rate, ceil (peak) and burst, an sfq qdisc under it and a ``fw`` filter;
what it receives is policed by a u32 filter on the ingress qdisc. With
``swapped`` (a tap, whose transmit is the guest's receive) the guest's
inbound rates go on transmit and its outbound ones on receive.
``hierarchical_class`` (a network's bridge that guarantees ``floor``) puts a
``1:2`` class under ``1:1`` for the unguaranteed traffic.
"""

from __future__ import annotations

import logging
import os
import shutil
from typing import NamedTuple

from pyvirt.conf.domain_devices import Bandwidth, BandwidthRate
from pyvirt.errors import ErrorCode, InternalError, NotSupportedError
from pyvirt.util.args_text import render_args_text
from pyvirt.util.command import Command, CommandFailedError

__all__ = ["TcCommand", "clear_bandwidth", "set_bandwidth", "set_commands", "set_root_qdisc"]

log = logging.getLogger(__name__)

_UINT_MAX = 2**32 - 1
_MTU = 1500  # virNetDevBandwidthCmdAddOptimalQuantum's


class TcCommand(NamedTuple):
    """One ``tc`` run: its arguments, and whether its failure is an error (Clear's deletions may fail: the
    qdisc they delete is not always there)."""

    args: list[str]
    must_succeed: bool = True


def _quantum(rate: BandwidthRate) -> list[str]:
    """virNetDevBandwidthCmdAddOptimalQuantum: an htb class's quantum sized for its rate (one MTU at best)."""
    return ["quantum", str(max((rate.average or 0) * 1024 // 8 // _MTU, 1))]


def clear_commands(ifname: str) -> list[TcCommand]:
    """virNetDevBandwidthClear: delete the root and the ingress qdisc, whichever exist."""
    return [TcCommand(["qdisc", "del", "dev", ifname, "root"], False),
            TcCommand(["qdisc", "del", "dev", ifname, "ingress"], False)]  # fmt: skip


def set_commands(ifname: str, bw: Bandwidth, hierarchical_class: bool, swapped: bool) -> list[TcCommand]:
    """virNetDevBandwidthSet's commands in its order, the Clear it starts with included."""
    rx, tx = (bw.outbound, bw.inbound) if swapped else (bw.inbound, bw.outbound)
    cmds = clear_commands(ifname)
    if tx is not None and tx.average:
        average = f"{tx.average}kbps"
        peak = f"{tx.peak}kbps" if tx.peak else None
        burst = f"{tx.burst}kb" if tx.burst else None
        cmds.append(TcCommand(["qdisc", "add", "dev", ifname, "root", "handle", "1:", "htb", "default",
                               "2" if hierarchical_class else "1"]))  # fmt: skip
        if hierarchical_class:
            cmds.append(TcCommand(["class", "add", "dev", ifname, "parent", "1:", "classid", "1:1", "htb", "rate",
                                   average, "ceil", peak or average, *_quantum(tx)]))  # fmt: skip
        args = ["class", "add", "dev", ifname, "parent", "1:1" if hierarchical_class else "1:", "classid",
                "1:2" if hierarchical_class else "1:1", "htb", "rate", average]  # fmt: skip
        args += ["ceil", peak] if peak else []
        args += ["burst", burst] if burst else []
        cmds.append(TcCommand([*args, *_quantum(tx)]))
        cmds.append(TcCommand(["qdisc", "add", "dev", ifname, "parent", "1:2" if hierarchical_class else "1:1",
                               "handle", "2:", "sfq", "perturb", "10"]))  # fmt: skip
        cmds.append(TcCommand(["filter", "add", "dev", ifname, "parent", "1:0", "protocol", "all", "prio", "1",
                               "handle", "1", "fw", "flowid", "1"]))  # fmt: skip
    if rx is not None:
        # tc keeps the burst in bytes in an unsigned int: without a burst, the average (kB) capped to fit
        rx_burst = rx.burst if rx.burst else min(rx.average or 0, _UINT_MAX // 1024)
        cmds.append(TcCommand(["qdisc", "add", "dev", ifname, "ingress"]))
        cmds.append(TcCommand(["filter", "add", "dev", ifname, "parent", "ffff:", "protocol", "all", "u32", "match",
                               "u32", "0", "0", "police", "rate", f"{rx.average or 0}kbps", "burst", f"{rx_burst}kb",
                               "mtu", "64kb", "drop", "flowid", ":1"]))  # fmt: skip
    return cmds


def _tc() -> str:
    """Debian's libvirt runs ``tc`` by name (its messages say ``tc``): so does this, from PATH, or by Debian's
    path when PATH lacks /usr/sbin."""
    return "tc" if shutil.which("tc") or not os.path.exists("/usr/sbin/tc") else "/usr/sbin/tc"


def _run(cmds: list[TcCommand]) -> None:
    """virCommandRun of each: a failed command stops the rest with libvirt's INTERNAL_ERROR, naming the command
    and quoting tc's stderr as it came (its last newline included, as libvirt's message has it)."""
    tc = _tc()
    for cmd in cmds:
        argv = [tc, *cmd.args]
        done = Command(argv).pass_env_common().capture_stdout().capture_stderr().run(timeout=30, check=False)
        status = done.exit_status
        if cmd.must_succeed and status != 0:
            how = f"fatal signal {-status}" if status is not None and status < 0 else f"exit status {status}"
            err = done.stderr.decode(errors="replace")
            raise InternalError(ErrorCode.INTERNAL_ERROR, f"Child process ({render_args_text({}, argv, one_line=True)}) "
                                f"unexpected {how}" + (f": {err}" if err else ""))  # fmt: skip


def set_bandwidth(ifname: str | None, bw: Bandwidth | None, *, hierarchical_class: bool = False,
                  swapped: bool = False) -> None:  # fmt: skip
    """virNetDevBandwidthSet: replace whatever shaping ``ifname`` has by ``bw``'s (nothing to do for None).

    :raises NotSupportedError: OPERATION_UNSUPPORTED when not root ("session mode") or without a device name.
    :raises InternalError: a ``tc`` command failed; what ran before it stays, as in libvirt, and the caller's
        rollback (setting the old bandwidth again, or removing the device) undoes it.
    """
    if bw is None:
        return
    if os.geteuid() != 0:
        raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED,
                                "Network bandwidth tuning is not available in session mode")  # fmt: skip
    if not ifname:
        raise NotSupportedError(ErrorCode.OPERATION_UNSUPPORTED,
                                "Unable to set bandwidth for interface because device name is unknown")  # fmt: skip
    _run(set_commands(ifname, bw, hierarchical_class, swapped))


def clear_bandwidth(ifname: str | None) -> None:
    """virNetDevBandwidthClear: both qdiscs deleted, failures to delete ignored (they may not exist)."""
    if ifname:
        _run(clear_commands(ifname))


def set_root_qdisc(ifname: str, qdisc: str) -> bool:
    """virNetDevBandwidthSetRootQDisc: ``qdisc`` as the device's root (libvirt's ``noqueue`` on a guest's tap,
    lockless, instead of the kernel's default); False when tc refused it or could not run, which callers ignore
    as libvirt's do (a host without tc still runs guests, only the NICs' <bandwidth> needs it)."""
    cmd = Command([_tc(), "qdisc", "add", "dev", ifname, "root", "handle", "0:", qdisc]).pass_env_common()
    try:
        cmd.capture_stdout().capture_stderr().run(timeout=30, check=False)
    except CommandFailedError as exc:
        log.warning("cannot set the %s qdisc on %s: %s", qdisc, ifname, exc.message)
        return False
    if cmd.exit_status != 0:
        log.debug("Setting qdisc failed: output='%s' err='%s'", cmd.stdout.decode(errors="replace"),
                  cmd.stderr.decode(errors="replace"))  # fmt: skip
    return cmd.exit_status == 0
