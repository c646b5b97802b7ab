"""Secondary driver contract: networks, storage, secrets, node devices, host interfaces.

Each hook is ``firstresult`` and answered by the connection's driver (the
hypervisor driver itself, as the test driver does, or a secondary plugin
reached through its own URI). Hooks that only act return None.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyvirt.plugin import hookspec

if TYPE_CHECKING:
    from pyvirt.plugin.records import (
        DhcpLease,
        InterfaceRef,
        NetworkPortRef,
        NetworkRef,
        NodeDeviceRef,
        NWFilterBindingRef,
        NWFilterRef,
        PoolInfo,
        PoolRef,
        SecretRef,
        VolumeInfo,
        VolumeRef,
    )

# ---------------------------------------------------------------- networks


@hookspec(firstresult=True)
def network_list_all() -> list[NetworkRef]:
    """Every network the connection knows; the public API filters them by virConnectListAllNetworks' flags.

    :returns: the networks, sorted by name.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def network_lookup_by_name(name: str) -> NetworkRef:
    """Find a network by its name.

    :param name: the network's name.
    :returns: the network.
    :raises NotFoundError: NO_NETWORK when there is no network of that name.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def network_lookup_by_uuid(uuid: str) -> NetworkRef:
    """Find a network by its UUID.

    :param uuid: the canonical lower-case UUID text.
    :returns: the network.
    :raises NotFoundError: NO_NETWORK when there is no network with that UUID.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def network_define_xml(xml: str, flags: int) -> NetworkRef:
    """Define a persistent network, or replace the persistent definition of an existing one.

    virNetworkDefineXML is this call with ``flags`` 0.

    :param xml: the ``<network>`` document.
    :param flags: :class:`~pyvirt.flags.NetworkDefineFlags` (VALIDATE: check the XML against libvirt's schema first).
    :returns: the network; a running network keeps its live definition until it is restarted.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def network_create_xml(xml: str, flags: int) -> NetworkRef:
    """Create and start a transient network: it disappears when it stops.

    virNetworkCreateXML is this call with ``flags`` 0.

    :param xml: the ``<network>`` document.
    :param flags: :class:`~pyvirt.flags.NetworkCreateFlags` (VALIDATE).
    :returns: the running network.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def network_undefine(net: NetworkRef) -> None:
    """Remove a network's persistent definition; a running network becomes transient.

    :param net: the network, as a lookup returned it.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def network_create(net: NetworkRef) -> None:
    """Start a defined network: its bridge, addresses, firewall rules and DHCP/DNS server.

    :param net: the network, as a lookup returned it.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def network_destroy(net: NetworkRef) -> None:
    """Stop a network and remove what starting it set up on the host; a transient network disappears.

    :param net: the network, as a lookup returned it.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def network_get_xml_desc(net: NetworkRef, flags: int) -> str:
    """A network's XML document.

    :param net: the network, as a lookup returned it.
    :param flags: :class:`~pyvirt.flags.NetworkXMLFlags`: INACTIVE gives the persistent definition of a running network.
    :returns: the ``<network>`` document.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def network_get_flags(net: NetworkRef) -> dict[str, bool]:
    """What the network is, in one call: the booleans virConnectListAllNetworks filters on.

    Stands for virNetworkIsActive, virNetworkIsPersistent and virNetworkGetAutostart together.

    :param net: the network, as a lookup returned it.
    :returns: ``active``, ``persistent`` and ``autostart``, each True or False.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def network_get_bridge_name(net: NetworkRef) -> str:
    """The name of the host bridge a running network uses (virNetworkGetBridgeName).

    :param net: the network, as a lookup returned it.
    :returns: the bridge's name (``virbr0``).

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def network_get_dhcp_leases(net: NetworkRef, mac: str | None, flags: int) -> list[DhcpLease]:
    """The leases the network's DHCP server handed out (virNetworkGetDHCPLeases).

    :param net: the network, as a lookup returned it.
    :param mac: only the leases of this MAC address, or None for all.
    :param flags: libvirt defines no flags for it yet; callers pass 0 and a driver refuses anything else.
    :returns: one record per lease (interface, expiry, address, MAC, host name, ...).

    Stops at first non-None result.

    Added in contract 1.4.
    """


@hookspec(firstresult=True)
def network_update(net: NetworkRef, command: int, section: int, parent_index: int, xml: str, flags: int) -> None:
    """Add, delete or modify one entry of one section of a network's definition (virNetworkUpdate).

    :param net: the network, as a lookup returned it.
    :param command: libvirt's virNetworkUpdateCommand: 1 modify, 2 delete,
        3 add last, 4 add first.
    :param section: libvirt's virNetworkUpdateSection: which part (``bridge``,
        ``ip-dhcp-host``, ``dns-host``, ``portgroup``, ...), by its number.
    :param parent_index: which of the section's parent elements (an ``<ip>``) the entry belongs to, -1 for any.
    :param xml: the entry's XML element.
    :param flags: :class:`~pyvirt.flags.NetworkUpdateFlags`: LIVE and/or CONFIG; 0 the live
        definition when the network runs, else the persistent one.

    Stops at first non-None result.

    Added in contract 1.5.
    """


@hookspec(firstresult=True)
def network_set_autostart(net: NetworkRef, autostart: bool) -> None:
    """Start the network, or no longer, when the host (the daemon, once per boot) starts.

    :param net: the network, as a lookup returned it; it must be persistent.
    :param autostart: True to start it with the host, False to stop doing so.

    Stops at first non-None result.

    Added in contract 1.0.
    """


# ---------------------------------------------------------------- network ports


@hookspec(firstresult=True)
def network_list_all_ports(net: NetworkRef, flags: int) -> list[NetworkPortRef]:
    """The ports of a running network: one per guest NIC plugged into it (virNetworkListAllPorts). Optional.

    :param net: the network, as a lookup returned it.
    :param flags: libvirt defines no flags (0).
    :returns: the ports, in no particular order.
    :raises Error: OPERATION_INVALID "network 'x' is not active" when the network is not running.

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def network_port_lookup_by_uuid(net: NetworkRef, uuid: str) -> NetworkPortRef:
    """One port of a running network, by its UUID (virNetworkPortLookupByUUID). Optional.

    :param net: the network, as a lookup returned it.
    :param uuid: the port's UUID, canonical text.
    :returns: the port.
    :raises Error: NO_NETWORK_PORT when the network has no such port; OPERATION_INVALID when it is not running.

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def network_port_create_xml(net: NetworkRef, xml: str, flags: int) -> NetworkPortRef:
    """Plug a new port into a running network (virNetworkPortCreateXML). Optional.

    A hypervisor driver calls it for each guest NIC of ``<interface type='network'>`` when the
    guest starts or the NIC is hot-plugged; the network fills in how the NIC is plugged (``<plug>``).

    :param net: the network, as a lookup returned it.
    :param xml: the ``<networkport>`` document (owner, MAC, optional bandwidth, ...).
    :param flags: :class:`~pyvirt.flags.NetworkPortCreateFlags`: RECLAIM takes back a port whose
        ``<plug>`` is already known (a daemon restart), VALIDATE checks the XML against the schema.
    :returns: the new port.
    :raises Error: NETWORK_PORT_EXIST for a UUID already in use; OPERATION_INVALID when the network is not running.

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def network_port_get_xml_desc(port: NetworkPortRef, flags: int) -> str:
    """The port's ``<networkport>`` document, as the network completed it (virNetworkPortGetXMLDesc). Optional.

    :param port: the port, as a lookup returned it.
    :param flags: libvirt defines no flags (0).
    :returns: the XML text.

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def network_port_delete(port: NetworkPortRef, flags: int) -> None:
    """Unplug the port from its network and forget it (virNetworkPortDelete). Optional.

    :param port: the port, as a lookup returned it.
    :param flags: libvirt defines no flags (0).

    Stops at first non-None result.

    Added in contract 1.16.
    """


# ---------------------------------------------------------------- storage pools


@hookspec(firstresult=True)
def pool_list_all() -> list[PoolRef]:
    """Every storage pool the connection knows; the public API filters them by virConnectListAllStoragePools' flags.

    :returns: the pools, sorted by name.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def pool_lookup_by_name(name: str) -> PoolRef:
    """Find a storage pool by its name.

    :param name: the pool's name.
    :returns: the pool.
    :raises NotFoundError: NO_STORAGE_POOL when there is no pool of that name.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def pool_lookup_by_uuid(uuid: str) -> PoolRef:
    """Find a storage pool by its UUID.

    :param uuid: the canonical lower-case UUID text.
    :returns: the pool.
    :raises NotFoundError: NO_STORAGE_POOL when there is no pool with that UUID.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def pool_define_xml(xml: str, flags: int) -> PoolRef:
    """Define a persistent storage pool (it is not built nor started).

    :param xml: the ``<pool>`` document.
    :param flags: :class:`~pyvirt.flags.StoragePoolDefineFlags` (VALIDATE: check the XML against libvirt's schema first).
    :returns: the pool.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def pool_create_xml(xml: str, flags: int) -> PoolRef:
    """Create and start a transient storage pool: it disappears when it stops.

    :param xml: the ``<pool>`` document.
    :param flags: :class:`~pyvirt.flags.StoragePoolCreateFlags`: WITH_BUILD builds the pool
        first, WITH_BUILD_OVERWRITE or WITH_BUILD_NO_OVERWRITE say what the build
        may do to existing data.
    :returns: the running pool.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def pool_undefine(pool: PoolRef) -> None:
    """Remove the persistent definition of an inactive storage pool; its storage is left as it is.

    :param pool: the storage pool, as a lookup returned it.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def pool_create(pool: PoolRef, flags: int) -> None:
    """Start a defined storage pool (mount, activate, scan its volumes).

    :param pool: the storage pool, as a lookup returned it.
    :param flags: :class:`~pyvirt.flags.StoragePoolCreateFlags`: WITH_BUILD builds the pool
        first, WITH_BUILD_OVERWRITE or WITH_BUILD_NO_OVERWRITE say what the build
        may do to existing data.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def pool_destroy(pool: PoolRef) -> None:
    """Stop a storage pool (unmount, deactivate); its data stays, a transient pool disappears.

    :param pool: the storage pool, as a lookup returned it.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def pool_refresh(pool: PoolRef, flags: int) -> None:
    """Scan a running pool's storage again, so volumes created or removed behind libvirt's back appear or go.

    :param pool: the storage pool, as a lookup returned it.
    :param flags: libvirt defines no flags for it yet; callers pass 0 and a driver refuses anything else.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def pool_build(pool: PoolRef, flags: int) -> None:
    """Make an inactive pool's storage (virStoragePoolBuild): a dir pool's directory, a disk pool's label.

    Ansible's ``virt_pool command: build`` and ``virsh pool-build`` call it before
    the first start; building what already exists is allowed where the backend can
    (a dir pool's directory only gets the pool's permissions again).

    :param pool: the storage pool, as a lookup returned it; it must be inactive.
    :param flags: :class:`~pyvirt.flags.StoragePoolBuildFlags`: NO_OVERWRITE formats the
        source only when it holds no data, OVERWRITE formats it regardless; the two
        exclude each other, and a backend with nothing to format refuses them.
    :returns: None once the storage exists (the pool emits a CREATED lifecycle event).

    Stops at first non-None result.

    Added in contract 1.10.
    """


@hookspec(firstresult=True)
def pool_delete(pool: PoolRef, flags: int) -> None:
    """Remove an inactive pool's storage (virStoragePoolDelete); its definition stays.

    ``virt_pool state: deleted`` and ``virsh pool-delete`` call it; a dir pool's
    directory must be empty, as libvirt only runs ``rmdir``.

    :param pool: the storage pool, as a lookup returned it; it must be inactive.
    :param flags: :class:`~pyvirt.flags.StoragePoolDeleteFlags`: ZEROED asks to overwrite the
        data first, which no local backend does (they refuse it, as libvirt's).
    :returns: None once the storage is gone (the pool emits a DELETED lifecycle event).

    Stops at first non-None result.

    Added in contract 1.10.
    """


@hookspec(firstresult=True)
def pool_get_info(pool: PoolRef) -> PoolInfo:
    """A storage pool's state and sizes (virStoragePoolGetInfo).

    :param pool: the storage pool, as a lookup returned it.
    :returns: the state (0 inactive, 1 building, 2 running, 3 degraded, 4
        inaccessible) and the capacity, allocation and available space in bytes.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def pool_get_xml_desc(pool: PoolRef, flags: int) -> str:
    """A storage pool's XML document.

    :param pool: the storage pool, as a lookup returned it.
    :param flags: :class:`~pyvirt.flags.StorageXMLFlags`: INACTIVE gives the persistent definition of a running pool.
    :returns: the ``<pool>`` document.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def pool_get_flags(pool: PoolRef) -> dict[str, bool]:
    """What the pool is, in one call: the booleans virConnectListAllStoragePools filters on.

    Stands for virStoragePoolIsActive, virStoragePoolIsPersistent and virStoragePoolGetAutostart together.

    :param pool: the storage pool, as a lookup returned it.
    :returns: ``active``, ``persistent`` and ``autostart``, each True or False.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def pool_set_autostart(pool: PoolRef, autostart: bool) -> None:
    """Start the pool, or no longer, when the host (the daemon, once per boot) starts.

    :param pool: the storage pool, as a lookup returned it; it must be persistent.
    :param autostart: True to start it with the host, False to stop doing so.

    Stops at first non-None result.

    Added in contract 1.0.
    """


# ---------------------------------------------------------------- storage volumes


@hookspec(firstresult=True)
def volume_list_all(pool: PoolRef) -> list[VolumeRef]:
    """The volumes of a running storage pool (virStoragePoolListAllVolumes).

    :param pool: the storage pool, as a lookup returned it.
    :returns: the volumes, sorted by name.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def volume_lookup_by_name(pool: PoolRef, name: str) -> VolumeRef:
    """Find a volume of a pool by its name.

    :param pool: the storage pool, as a lookup returned it.
    :param name: the volume's name in the pool.
    :returns: the volume.
    :raises NotFoundError: NO_STORAGE_VOL when the pool has no volume of that name.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def volume_lookup_by_key(key: str) -> VolumeRef:
    """Find a volume, in whichever pool, by its key (unique on the host: a path, an LVM UUID, ...).

    :param key: the volume's key.
    :returns: the volume.
    :raises NotFoundError: NO_STORAGE_VOL when no running pool has a volume with that key.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def volume_lookup_by_path(path: str) -> VolumeRef:
    """Find a volume, in whichever pool, by its path on the host.

    :param path: the volume's path.
    :returns: the volume.
    :raises NotFoundError: NO_STORAGE_VOL when no running pool has a volume at that path.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def volume_create_xml(pool: PoolRef, xml: str, flags: int) -> VolumeRef:
    """Create a volume in a running pool from a ``<volume>`` document.

    :param pool: the storage pool, as a lookup returned it.
    :param xml: the ``<volume>`` document.
    :param flags: :class:`~pyvirt.flags.StorageVolCreateFlags`: PREALLOC_METADATA, REFLINK, VALIDATE.
    :returns: the new volume.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def volume_delete(vol: VolumeRef, flags: int) -> None:
    """Delete a volume and its storage.

    :param vol: the volume, as a lookup returned it.
    :param flags: :class:`~pyvirt.flags.StorageVolDeleteFlags`: ZEROED (the data was wiped
        already), WITH_SNAPSHOTS (delete the volume's snapshots too).

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def volume_get_info(vol: VolumeRef) -> VolumeInfo:
    """A volume's type and sizes (virStorageVolGetInfo).

    :param vol: the volume, as a lookup returned it.
    :returns: the type (0 file, 1 block, 2 dir, 3 network, 4 netdir, 5
        ploop) and the capacity and allocation in bytes.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def volume_get_xml_desc(vol: VolumeRef, flags: int) -> str:
    """A volume's XML document.

    :param vol: the volume, as a lookup returned it.
    :param flags: libvirt defines no flags for it yet; callers pass 0 and a driver refuses anything else.
    :returns: the ``<volume>`` document.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def volume_get_path(vol: VolumeRef) -> str:
    """A volume's path on the host (virStorageVolGetPath).

    :param vol: the volume, as a lookup returned it.
    :returns: the path a guest's disk or a program can open.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def volume_upload(vol: VolumeRef, offset: int, length: int, flags: int) -> int:
    """Replace bytes of a volume with data the caller sends (virStorageVolUpload). Optional.

    The caller writes the volume's new bytes to the returned socket, shuts its
    write side down and reads until end of file: nothing means the data is
    stored, anything else is the driver's error message. A socket rather
    than a bare descriptor, so that the end of the upload is confirmed only
    once the data reached the volume, as libvirt confirms a stream's finish.

    :param vol: the volume, as a lookup returned it.
    :param offset: where in the volume the data goes.
    :param length: the most bytes to write, 0 for up to the end.
    :param flags: :class:`~pyvirt.flags.StorageVolUploadFlags`: STREAM (sparse stream: holes are sent as holes).
    :returns: a connected stream socket's descriptor; the caller owns it.

    Stops at first non-None result.

    Added in contract 1.9.
    """


@hookspec(firstresult=True)
def volume_download(vol: VolumeRef, offset: int, length: int, flags: int) -> int:
    """A volume's bytes, to read (virStorageVolDownload). Optional.

    The data comes as stored: a qcow2 volume streams as the qcow2 file, as libvirt's does.

    :param vol: the volume, as a lookup returned it.
    :param offset: where in the volume to start.
    :param length: how many bytes, 0 for up to the end.
    :param flags: :class:`~pyvirt.flags.StorageVolDownloadFlags`: STREAM (sparse stream: holes are sent as holes).
    :returns: a readable descriptor that yields the bytes then end-of-file; the caller owns it.

    Stops at first non-None result.

    Added in contract 1.9.
    """


@hookspec(firstresult=True)
def volume_create_xml_from(pool: PoolRef, xml: str, source: VolumeRef, flags: int) -> VolumeRef:
    """Create a volume in a running pool as a copy of an existing volume (virStorageVolCreateXMLFrom). Optional.

    The source may live in another pool of the same connection. As in
    libvirt, the ``<volume>`` document names the new volume and may choose
    its format (a raw source copied to qcow2 is converted); a capacity
    smaller than the source's is the source's.

    :param pool: the pool the new volume goes to, as a lookup returned it.
    :param xml: the new volume's ``<volume>`` document.
    :param source: the volume to copy, as a lookup returned it.
    :param flags: :class:`~pyvirt.flags.StorageVolCreateFlags`: PREALLOC_METADATA, REFLINK, VALIDATE.
    :returns: the new volume.

    Stops at first non-None result.

    Added in contract 1.11.
    """


@hookspec(firstresult=True)
def volume_wipe(vol: VolumeRef, algorithm: int, flags: int) -> None:
    """Overwrite a volume's data (virStorageVolWipePattern; virStorageVolWipe is algorithm 0). Optional.

    The volume keeps its size and format; only the data is gone.

    :param vol: the volume, as a lookup returned it.
    :param algorithm: libvirt's ``virStorageVolWipeAlgorithm``: 0 zero (write zeros), 1 nnsa,
        2 dod, 3 bsi, 4 gutmann, 5 schneier, 6 pfitzner7, 7 pfitzner33, 8 random, 9 trim
        (discard). A driver refuses an algorithm it does not carry out, never quietly zeroes instead.
    :param flags: libvirt defines no flags for it yet; callers pass 0 and a driver refuses anything else.

    Stops at first non-None result.

    Added in contract 1.11.
    """


@hookspec(firstresult=True)
def volume_resize(vol: VolumeRef, capacity: int, flags: int) -> None:
    """Change a volume's capacity (virStorageVolResize). Optional.

    :param vol: the volume, as a lookup returned it.
    :param capacity: the new capacity in bytes, or with DELTA the bytes to add (to remove, with SHRINK).
    :param flags: :class:`~pyvirt.flags.StorageVolResizeFlags` (ALLOCATE: allocate the new space
        too; DELTA: ``capacity`` is a change; SHRINK: allow a smaller capacity).
    :raises InvalidArgumentError: a capacity below the allocation, or smaller without SHRINK.
    :raises OperationFailedError: the pool has not enough free space.

    Stops at first non-None result.

    Added in contract 1.16.
    """


# ---------------------------------------------------------------- secrets


@hookspec(firstresult=True)
def secret_list_all() -> list[SecretRef]:
    """Every secret the connection knows; the public API filters them by virConnectListAllSecrets' flags.

    :returns: the secrets.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def secret_lookup_by_uuid(uuid: str) -> SecretRef:
    """Find a secret by its UUID.

    :param uuid: the canonical lower-case UUID text.
    :returns: the secret.
    :raises NotFoundError: NO_SECRET when there is no secret with that UUID.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def secret_lookup_by_usage(usage_type: int, usage_id: str) -> SecretRef:
    """Find a secret by what it is used for.

    :param usage_type: libvirt's virSecretUsageType: 1 volume, 2 ceph, 3 iscsi, 4 tls, 5 vtpm.
    :param usage_id: the usage's identifier (a volume path, a ceph or iSCSI name, ...).
    :returns: the secret.
    :raises NotFoundError: NO_SECRET when no secret has that usage.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def secret_define_xml(xml: str, flags: int) -> SecretRef:
    """Define a secret, or replace the definition of an existing one (its value is set separately).

    :param xml: the ``<secret>`` document.
    :param flags: :class:`~pyvirt.flags.SecretDefineFlags` (VALIDATE: check the XML against libvirt's schema first).
    :returns: the secret.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def secret_undefine(secret: SecretRef) -> None:
    """Remove a secret and its value.

    :param secret: the secret, as a lookup returned it.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def secret_get_xml_desc(secret: SecretRef, flags: int) -> str:
    """A secret's XML document; it never contains the value.

    :param secret: the secret, as a lookup returned it.
    :param flags: libvirt defines no flags for it yet; callers pass 0 and a driver refuses anything else.
    :returns: the ``<secret>`` document.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def secret_set_value(secret: SecretRef, value: bytes, flags: int) -> None:
    """Store a secret's value (for a persistent secret that is not private, on disk too).

    :param secret: the secret, as a lookup returned it.
    :param value: the value's bytes.
    :param flags: libvirt defines no flags for it yet; callers pass 0 and a driver refuses anything else.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def secret_get_value(secret: SecretRef, flags: int) -> bytes:
    """A secret's value; refused on a read-only connection, and to clients when the secret is private.

    :param secret: the secret, as a lookup returned it.
    :param flags: libvirt defines no flags for it yet; callers pass 0 and a driver refuses anything else.
    :returns: the value's bytes.
    :raises NotFoundError: NO_SECRET when no value is set.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def pool_get_capabilities(flags: int) -> str:
    """The ``<storagepoolCapabilities>`` document: each pool type, supported or not (virConnectGetStoragePoolCapabilities).

    Optional. A driver lists every pool type libvirt knows, in libvirt's order, and
    marks as supported the ones it has a backend for, with their volume formats.

    :param flags: libvirt defines no flags for it; 0.
    :returns: the XML document.

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def pool_find_sources(type: str, src_spec: str | None, flags: int) -> str:
    """Storage pool sources a pool type could use, found on the host or a server (virConnectFindStoragePoolSources).

    Optional. libvirt's storage backends scan for them (LVM volume groups,
    NFS exports of a host, iSCSI targets of a portal).

    :param type: the pool type (``logical``, ``netfs``, ``iscsi``, ...).
    :param src_spec: a ``<source>`` document narrowing the search (the host to ask), or None.
    :param flags: libvirt defines no flags for it; 0.
    :returns: a ``<sources>`` document.

    Stops at first non-None result.

    Added in contract 1.15.
    """


# ---------------------------------------------------------------- node devices


@hookspec(firstresult=True)
def nodedev_list_all(cap: str | None) -> list[NodeDeviceRef]:
    """The host devices the connection sees, optionally only those with one capability.

    :param cap: a capability name (``pci``, ``usb_device``, ``net``, ``storage``, ...), or None for all.
    :returns: the devices, sorted by name.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def nodedev_lookup_by_name(name: str) -> NodeDeviceRef:
    """Find a host device by its name (``pci_0000_00_02_0``, ``net_eth0_52_54_00_12_34_56``).

    :param name: the device's name.
    :returns: the device.
    :raises NotFoundError: NO_NODE_DEVICE when there is no device of that name.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def nodedev_get_xml_desc(dev: NodeDeviceRef, flags: int) -> str:
    """A host device's XML document.

    :param dev: the node device, as a lookup returned it.
    :param flags: libvirt defines no flags for it yet; callers pass 0 and a driver refuses anything else.
    :returns: the ``<device>`` document.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def nodedev_get_parent(dev: NodeDeviceRef) -> str:
    """The name of the device a host device hangs off (virNodeDeviceGetParent).

    :param dev: the node device, as a lookup returned it.
    :returns: the parent's name, "" for the root (``computer``).

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def nodedev_create_xml(xml: str, flags: int) -> NodeDeviceRef:
    """Create a transient host device from a ``<device>`` document (virNodeDeviceCreateXML). Optional.

    What a driver can create is its own: libvirt's node device driver makes
    vHBAs (an ``fc_host`` under a ``vport_ops`` capable SCSI host) and mediated
    devices.

    :param xml: the ``<device>`` document; no ``<name>`` is needed.
    :param flags: :class:`~pyvirt.flags.NodeDeviceCreateXMLFlags` (VALIDATE: check it against libvirt's schema first).
    :returns: the new device.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def nodedev_destroy(dev: NodeDeviceRef) -> None:
    """Destroy a host device created by ``nodedev_create_xml`` (virNodeDeviceDestroy). Optional.

    :param dev: the node device, as a lookup returned it.
    :raises NotFoundError: NO_NODE_DEVICE when there is no device of that name.

    Stops at first non-None result.

    Added in contract 1.15.
    """


# ---------------------------------------------------------------- host interfaces


@hookspec(firstresult=True)
def interface_list_all() -> list[InterfaceRef]:
    """The host's network interfaces; the public API filters them by virConnectListAllInterfaces' flags.

    :returns: the interfaces.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def interface_lookup_by_name(name: str) -> InterfaceRef:
    """Find a host network interface by its name.

    :param name: the interface's name (``eth0``).
    :returns: the interface.
    :raises NotFoundError: NO_INTERFACE when there is no interface of that name.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def interface_get_xml_desc(iface: InterfaceRef, flags: int) -> str:
    """A host network interface's XML document.

    :param iface: the host interface, as a lookup returned it.
    :param flags: :class:`~pyvirt.flags.InterfaceXMLFlags`: INACTIVE gives the configuration as
        it will apply at the next start instead of the live state.
    :returns: the ``<interface>`` document.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def interface_is_active(iface: InterfaceRef) -> bool:
    """Whether a host network interface is up (virInterfaceIsActive).

    :param iface: the host interface, as a lookup returned it.
    :returns: True when it is up.

    Stops at first non-None result.

    Added in contract 1.0.
    """


@hookspec(firstresult=True)
def interface_define_xml(xml: str, flags: int) -> InterfaceRef:
    """Define a host interface, or replace the definition of the one of that name (virInterfaceDefineXML). Optional.

    :param xml: the ``<interface>`` document.
    :param flags: :class:`~pyvirt.flags.InterfaceDefineFlags`: VALIDATE checks it against libvirt's schema.
    :returns: the interface (a new one is inactive).

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def interface_undefine(iface: InterfaceRef) -> None:
    """Forget a host interface's definition (virInterfaceUndefine). Optional.

    :param iface: the host interface, as a lookup returned it.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def interface_create(iface: InterfaceRef, flags: int) -> None:
    """Bring a defined host interface up (virInterfaceCreate). Optional.

    :param iface: the host interface, as a lookup returned it.
    :param flags: libvirt defines no flags (0).
    :raises Error: OPERATION_INVALID when it is up already.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def interface_destroy(iface: InterfaceRef, flags: int) -> None:
    """Take a host interface down (virInterfaceDestroy). Optional.

    :param iface: the host interface, as a lookup returned it.
    :param flags: libvirt defines no flags (0).
    :raises Error: OPERATION_INVALID when it is down already.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def interface_change_begin(flags: int) -> None:
    """Snapshot the host's interface configuration, so that a failed change can be rolled back
    (virInterfaceChangeBegin). Optional.

    Why: changing the host's networking remotely can cut the operator off; a
    transaction lets them commit the change once it works, or roll it back.

    :param flags: libvirt defines no flags (0).
    :raises Error: OPERATION_INVALID while another transaction runs.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def interface_change_commit(flags: int) -> None:
    """Keep the interface changes made since ``interface_change_begin`` (virInterfaceChangeCommit). Optional.

    :param flags: libvirt defines no flags (0).
    :raises Error: OPERATION_INVALID when no transaction runs.

    Stops at first non-None result.

    Added in contract 1.15.
    """


@hookspec(firstresult=True)
def interface_change_rollback(flags: int) -> None:
    """Restore the interface configuration ``interface_change_begin`` saved (virInterfaceChangeRollback). Optional.

    :param flags: libvirt defines no flags (0).
    :raises Error: OPERATION_INVALID when no transaction runs.

    Stops at first non-None result.

    Added in contract 1.15.
    """


# ---------------------------------------------------------------- network filters (the nwfilter driver)


@hookspec(firstresult=True)
def nwfilter_list_all() -> list[NWFilterRef]:
    """Every network filter defined (virConnectListAllNWFilters; libvirt defines no flags).

    :returns: the filters, sorted by name.

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def nwfilter_lookup_by_name(name: str) -> NWFilterRef:
    """Find a filter by its name (virNWFilterLookupByName).

    :param name: the filter's name.
    :returns: the filter.
    :raises NotFoundError: NO_NWFILTER, "no nwfilter with matching name '<name>'".

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def nwfilter_lookup_by_uuid(uuid: str) -> NWFilterRef:
    """Find a filter by its UUID (virNWFilterLookupByUUID).

    :param uuid: the UUID, canonical text.
    :returns: the filter.
    :raises NotFoundError: NO_NWFILTER, "no nwfilter with matching uuid '<uuid>'".

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def nwfilter_define_xml(xml: str, flags: int) -> NWFilterRef:
    """Define or redefine a filter (virNWFilterDefineXMLFlags), kept across restarts.

    :param xml: the ``<filter>`` document.
    :param flags: :class:`~pyvirt.flags.NWFilterDefineFlags` (VALIDATE).
    :returns: the filter.
    :raises Error: OPERATION_FAILED for a name or UUID clash; INVALID_NWFILTER for a reference loop.

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def nwfilter_undefine(nwfilter: NWFilterRef) -> None:
    """Remove a filter's definition (virNWFilterUndefine); refused while a binding or filter uses it.

    :param nwfilter: the filter, as a lookup returned it.
    :raises Error: OPERATION_INVALID, "nwfilter is in use".

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def nwfilter_get_xml_desc(nwfilter: NWFilterRef, flags: int) -> str:
    """The filter's ``<filter>`` document (virNWFilterGetXMLDesc; libvirt defines no flags).

    :param nwfilter: the filter, as a lookup returned it.
    :param flags: libvirt defines no flags (0).
    :returns: the XML text.

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def nwfilter_binding_list_all() -> list[NWFilterBindingRef]:
    """Every filter binding (virConnectListAllNWFilterBindings; libvirt defines no flags).

    :returns: the bindings.

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def nwfilter_binding_lookup_by_port_dev(portdev: str) -> NWFilterBindingRef:
    """The binding of one guest port (virNWFilterBindingLookupByPortDev).

    :param portdev: the port's host device name (``vnet0``).
    :returns: the binding.
    :raises NotFoundError: NO_NWFILTER_BINDING, "no nwfilter binding for port dev '<portdev>'".

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def nwfilter_binding_create_xml(xml: str, flags: int) -> NWFilterBindingRef:
    """Apply a filter to a guest port and remember it (virNWFilterBindingCreateXML).

    A hypervisor driver calls it for a guest NIC with ``<filterref>`` when the guest starts.

    :param xml: the ``<filterbinding>`` document.
    :param flags: :class:`~pyvirt.flags.NWFilterBindingCreateFlags` (VALIDATE).
    :returns: the binding.

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def nwfilter_binding_delete(binding: NWFilterBindingRef) -> None:
    """Remove the binding's rules from the port and forget it (virNWFilterBindingDelete).

    :param binding: the binding, as a lookup returned it.

    Stops at first non-None result.

    Added in contract 1.16.
    """


@hookspec(firstresult=True)
def nwfilter_binding_get_xml_desc(binding: NWFilterBindingRef, flags: int) -> str:
    """The binding's ``<filterbinding>`` document (virNWFilterBindingGetXMLDesc; no flags defined).

    :param binding: the binding, as a lookup returned it.
    :param flags: libvirt defines no flags (0).
    :returns: the XML text.

    Stops at first non-None result.

    Added in contract 1.16.
    """
