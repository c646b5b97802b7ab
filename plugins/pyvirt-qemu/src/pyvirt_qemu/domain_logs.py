"""A domain's log files, and their removal on ``destroy --remove-logs`` (VIR_DOMAIN_DESTROY_REMOVE_LOGS)."""

from __future__ import annotations

import os
import re

__all__ = ["remove_logs"]


def remove_logs(log_dir: str, name: str) -> None:
    """qemuDomainRemoveLogs: ``NAME.log`` and its rotated copies ``NAME.log.N`` in the driver's log directory.

    libvirt does it when its log daemon (virtlogd, stdio_handler="logd", the
    default) owns the guest's output; pyvirtd owns it here, so the files are
    always its to remove. A file that cannot be removed is no failure of the
    destroy (libvirt only warns): the guest is stopped either way. Other
    files of the guest (``NAME-swtpm.log``) stay, as libvirt's do.
    """
    # sscanf("NAME.log.%u") == 1: the rotated copies' number, maybe after blanks and a sign
    rotated = re.compile(re.escape(name) + r"\.log\.\s*[+-]?\d")
    try:
        entries = os.listdir(log_dir)
    except OSError:
        return
    for entry in entries:
        if entry == f"{name}.log" or rotated.match(entry):
            try:
                os.unlink(os.path.join(log_dir, entry))
            except FileNotFoundError:
                pass
            except OSError:
                continue  # libvirt's VIR_WARN: the destroy itself succeeded
