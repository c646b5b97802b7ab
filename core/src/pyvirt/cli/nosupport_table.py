"""Which of virsh's commands pyvirsh declares from virsh's option table alone (:mod:`pyvirt.cli.nosupport_cmds`).

Kept apart from the handlers so that ``pyvirt.cli.main`` can map these names
to their module at start-up without importing the handlers or virsh's option
table: a plain ``pyvirsh list`` does not pay for them.
"""

from __future__ import annotations

__all__ = ["COMMANDS"]

# command -> (object it acts on: domain, network, pool, vol, nodedev, iface, conn; the API virsh calls; virsh's line
# before libvirt's message, formatted with the object's name as {name} and the options, "-" written "_")
COMMANDS: dict[str, tuple[str, str, str | None]] = {
    # ------------------------------------------------------------ domain management
    # ------------------------------------------------------------ host
    "nodesevinfo": ("conn", "virNodeGetSEVInfo", "Unable to get host SEV information"),
    # ------------------------------------------------------------ node devices, storage
    "nodedev-detach": ("nodedev", "virNodeDeviceDettach", "Failed to detach device {device}"),
    "nodedev-reattach": ("nodedev", "virNodeDeviceReAttach", "Failed to re-attach device {device}"),
    "nodedev-reset": ("nodedev", "virNodeDeviceReset", "Failed to reset device {device}"),
    "nodedev-undefine": ("nodedev", "virNodeDeviceUndefine", "Failed to undefine node device '{device}'"),
    "nodedev-start": ("nodedev", "virNodeDeviceCreate", "Failed to start device {device}"),
    "nodedev-autostart": ("nodedev", "virNodeDeviceSetAutostart", "failed to mark device {device} as autostarted"),
    "nodedev-define": ("conn", "virNodeDeviceDefineXML", "Failed to define node device from '{file}'"),
    # ------------------------------------------------------------ host interfaces (no driver here defines them)
    # ------------------------------------------------------------ more domain and host commands
    "qemu-attach": ("conn", "virDomainQemuAttach", None),
    "domsetlaunchsecstate": ("domain", "virDomainSetLaunchSecurityState", None),
    "nodesuspend": ("conn", "virNodeSuspendForDuration", "The host was not suspended"),
}  # fmt: skip
