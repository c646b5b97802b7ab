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
    "detach-device-alias": ("domain", "virDomainDetachDeviceAlias", "Failed to detach device with alias {alias}"),
    "dompmwakeup": ("domain", "virDomainPMWakeup", "Domain '{name}' could not be woken up"),
    "get-user-sshkeys": ("domain", "virDomainAuthorizedSSHKeysGet", None),
    "set-user-sshkeys": ("domain", "virDomainAuthorizedSSHKeysSet", None),
    "lxc-enter-namespace": ("domain", "virDomainLxcOpenNamespace", None),
    "migrate-compcache": ("domain", "virDomainMigrateGetCompressionCache", None),
    "guest-agent-timeout": ("domain", "virDomainAgentSetResponseTimeout", None),
    "guestvcpus": ("domain", "virDomainGetGuestVcpus", None),
    "guestinfo": ("domain", "virDomainGetGuestInfo", None),
    "domdirtyrate-calc": ("domain", "virDomainStartDirtyRateCalc", None),
    # ------------------------------------------------------------ host
    "allocpages": ("conn", "virNodeAllocPages", None),
    "node-memory-tune": ("conn", "virNodeGetMemoryParameters", "Unable to get number of memory parameters"),
    "nodememstats": ("conn", "virNodeGetMemoryStats", "Unable to get number of memory stats"),
    "nodesevinfo": ("conn", "virNodeGetSEVInfo", "Unable to get host SEV information"),
    # ------------------------------------------------------------ network filters, network ports, backup
    "nwfilter-list": ("conn", "virConnectNumOfNWFilters", "Failed to count network filters"),
    "nwfilter-dumpxml": ("conn", "virNWFilterLookupByName", "failed to get nwfilter '{nwfilter}'"),
    "nwfilter-edit": ("conn", "virNWFilterLookupByName", "failed to get nwfilter '{nwfilter}'"),
    "nwfilter-undefine": ("conn", "virNWFilterLookupByName", "failed to get nwfilter '{nwfilter}'"),
    "nwfilter-binding-delete": ("conn", "virNWFilterBindingLookupByPortDev",
                                "failed to get nwfilter binding '{binding}'"),
    "nwfilter-binding-dumpxml": ("conn", "virNWFilterBindingLookupByPortDev",
                                 "failed to get nwfilter binding '{binding}'"),
    "nwfilter-binding-list": ("conn", "virConnectListAllNWFilterBindings", "Failed to list network filter bindings"),
    "net-port-list": ("network", "virNetworkListAllPorts", None),
    "backup-begin": ("domain", "virDomainBackupBegin", None),
    "backup-dumpxml": ("domain", "virDomainBackupGetXMLDesc", None),
    # ------------------------------------------------------------ node devices, storage
    "nodedev-detach": ("nodedev", "virNodeDeviceDettach", "Failed to detach device {device}"),
    "nodedev-reattach": ("nodedev", "virNodeDeviceReAttach", "Failed to re-attach device {device}"),
    "nodedev-reset": ("nodedev", "virNodeDeviceReset", "Failed to reset device {device}"),
    "nodedev-undefine": ("nodedev", "virNodeDeviceUndefine", "Failed to undefine node device '{device}'"),
    "nodedev-start": ("nodedev", "virNodeDeviceCreate", "Failed to start device {device}"),
    "nodedev-autostart": ("nodedev", "virNodeDeviceSetAutostart", "failed to mark device {device} as autostarted"),
    "pool-capabilities": ("conn", "virConnectGetStoragePoolCapabilities", "failed to get storage pool capabilities"),
    "vol-resize": ("vol", "virStorageVolResize", "Failed to change size of volume '{name}' to {capacity}"),
    "nodedev-define": ("conn", "virNodeDeviceDefineXML", "Failed to define node device from '{file}'"),
    "nwfilter-define": ("conn", "virNWFilterDefineXML", "Failed to define network filter from {file}"),
    "nwfilter-binding-create": ("conn", "virNWFilterBindingCreateXML", "Failed to create network filter from {file}"),
    "net-port-create": ("network", "virNetworkPortCreateXML", "Failed to create network from {file}"),
    "net-port-dumpxml": ("network", "virNetworkPortLookupByUUIDString", "failed to get network port '{port}'"),
    "net-port-delete": ("network", "virNetworkPortLookupByUUIDString", "failed to get network port '{port}'"),
    # ------------------------------------------------------------ host interfaces (no driver here defines them)
    # ------------------------------------------------------------ more domain and host commands
    "dompmsuspend": ("domain", "virDomainPMSuspendForDuration", "Domain '{name}' could not be suspended"),
    "setvcpu": ("domain", "virDomainSetVcpu", None),
    "qemu-attach": ("conn", "virDomainQemuAttach", None),
    "domsetlaunchsecstate": ("domain", "virDomainSetLaunchSecurityState", None),
    "cpu-baseline": ("conn", "virConnectBaselineCPU", None),
    "cpu-compare": ("conn", "virConnectCompareCPU", None),
    "hypervisor-cpu-baseline": ("conn", "virConnectBaselineHypervisorCPU", None),
    "hypervisor-cpu-compare": ("conn", "virConnectCompareHypervisorCPU", None),
    "dom-fd-associate": ("domain", "virDomainFDAssociate", None),
    "nodesuspend": ("conn", "virNodeSuspendForDuration", "The host was not suspended"),
}  # fmt: skip
