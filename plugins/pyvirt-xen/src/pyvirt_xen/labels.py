"""Security labels of a Xen guest's files through the security stack, as the QEMU driver applies them.

A guest's disk images, kernel and initrd are labelled before xl starts it
(DAC: chowned to the guest's label, ``+0:+0`` unless its ``<seclabel>``
names another owner, the original owner remembered in libvirt's xattrs)
and given back when it stops; a hotplugged disk is labelled before
``xl block-attach`` and given back after its detach. Xen's backends
(blkback's loop devices, qemu's qdisk) run in dom0 as root, so the label
says whose the files are while the guest has them rather than granting
access: the same bookkeeping an operator sees with the QEMU driver.

A Xen guest has no process of its own; the process that keeps it is xl's
monitor (``xl create``/``xl restore`` left running per guest), so the
remembered labels are handed over to that process: a reference whose
keeper died is known stale (see :mod:`pyvirt.security.remembered`), while
a label held for a running guest survives the driver's process.
"""

from __future__ import annotations

import logging
import os

from pyvirt.conf.domain import Domain
from pyvirt.errors import Error
from pyvirt_xen.state import XenState

__all__ = ["find_monitor", "hand_over", "label_guest", "unlabel_guest"]

log = logging.getLogger(__name__)


def label_guest(state: XenState, dom: Domain) -> None:
    """GenLabel then SetAllLabel on the definition about to run; nothing stays labelled if either fails.

    A dynamic label is made anew at each start (a saved image's XML still
    carries the one its guest had), as libvirt drops generated labels when it
    reads an inactive definition.
    """
    for sl in dom.seclabels or ():
        if sl.type == "dynamic":
            sl.label = sl.imagelabel = None
    state.security.gen_label(dom)
    try:
        state.security.set_all_label(dom)
    except BaseException:
        state.security.release_label(dom)
        raise


def unlabel_guest(state: XenState, dom: Domain) -> None:
    """RestoreAllLabel and ReleaseLabel once the guest is gone.

    A failure is logged, not raised, as libvirt's libxlDomainCleanup and
    qemuProcessStop do: the guest has stopped whatever a file's owner is.
    """
    try:
        state.security.restore_all_label(dom)
    except Error as err:
        log.warning("unable to restore the labels of domain '%s': %s", dom.name, err)
    try:
        state.security.release_label(dom)
    except Error as err:
        log.warning("unable to release the label of domain '%s': %s", dom.name, err)


def find_monitor(config_file: str) -> int | None:
    """The pid of xl's monitor of a guest: the ``xl create``/``xl restore`` whose argv names its xl.cfg."""
    wanted = config_file.encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if wanted in argv:
            return int(pid)
    return None


def hand_over(state: XenState, dom: Domain, config_file: str) -> None:
    """The guest's xl monitor keeps its remembered labels from now on (it outlives this process)."""
    pid = find_monitor(config_file)
    if pid is not None:
        state.security.hand_over_labels(dom, pid)
