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
        NetworkRef,
        NodeDeviceRef,
        PoolInfo,
        PoolRef,
        SecretRef,
        VolumeInfo,
        VolumeRef,
    )

# ---------------------------------------------------------------- networks


@hookspec(firstresult=True)
def network_list_all() -> list[NetworkRef]:
    """Every network, sorted by name. Stops at first non-None result."""


@hookspec(firstresult=True)
def network_lookup_by_name(name: str) -> NetworkRef:
    """:raises NotFoundError: NO_NETWORK. Stops at first non-None result."""


@hookspec(firstresult=True)
def network_lookup_by_uuid(uuid: str) -> NetworkRef:
    """Stops at first non-None result."""


@hookspec(firstresult=True)
def network_define_xml(xml: str, flags: int) -> NetworkRef:
    """Stops at first non-None result."""


@hookspec(firstresult=True)
def network_create_xml(xml: str, flags: int) -> NetworkRef:
    """Create and start a transient network. Stops at first non-None result."""


@hookspec(firstresult=True)
def network_undefine(net: NetworkRef) -> None:
    """Remove the persistent definition."""


@hookspec(firstresult=True)
def network_create(net: NetworkRef) -> None:
    """Start a defined network."""


@hookspec(firstresult=True)
def network_destroy(net: NetworkRef) -> None:
    """Stop a network."""


@hookspec(firstresult=True)
def network_get_xml_desc(net: NetworkRef, flags: int) -> str:
    """Stops at first non-None result."""


@hookspec(firstresult=True)
def network_get_flags(net: NetworkRef) -> dict[str, bool]:
    """``active``, ``persistent``, ``autostart``. Stops at first non-None result."""


@hookspec(firstresult=True)
def network_get_bridge_name(net: NetworkRef) -> str:
    """Stops at first non-None result."""


@hookspec(firstresult=True)
def network_get_dhcp_leases(net: NetworkRef, mac: str | None, flags: int) -> list[DhcpLease]:
    """virNetworkGetDHCPLeases: the leases the network's DHCP server handed out (only ``mac``'s when given).
    Added in 1.4. Stops at first non-None result."""


@hookspec(firstresult=True)
def network_update(net: NetworkRef, command: int, section: int, parent_index: int, xml: str, flags: int) -> None:
    """virNetworkUpdate: add, delete or modify one entry of a section (``ip-dhcp-host`` ...) of the live
    definition, the persistent one or both (flags: 1 live, 2 config, 0 the live one when running).
    Added in 1.5. Stops at first non-None result."""


@hookspec(firstresult=True)
def network_set_autostart(net: NetworkRef, autostart: bool) -> None:
    """Start the network when the host starts."""


# ---------------------------------------------------------------- storage pools


@hookspec(firstresult=True)
def pool_list_all() -> list[PoolRef]:
    """Every storage pool, sorted by name. Stops at first non-None result."""


@hookspec(firstresult=True)
def pool_lookup_by_name(name: str) -> PoolRef:
    """:raises NotFoundError: NO_STORAGE_POOL. Stops at first non-None result."""


@hookspec(firstresult=True)
def pool_lookup_by_uuid(uuid: str) -> PoolRef:
    """Stops at first non-None result."""


@hookspec(firstresult=True)
def pool_define_xml(xml: str, flags: int) -> PoolRef:
    """Stops at first non-None result."""


@hookspec(firstresult=True)
def pool_create_xml(xml: str, flags: int) -> PoolRef:
    """Create and start a transient pool. Stops at first non-None result."""


@hookspec(firstresult=True)
def pool_undefine(pool: PoolRef) -> None:
    """Remove the persistent definition of an inactive pool."""


@hookspec(firstresult=True)
def pool_create(pool: PoolRef, flags: int) -> None:
    """Start a defined pool."""


@hookspec(firstresult=True)
def pool_destroy(pool: PoolRef) -> None:
    """Stop a pool."""


@hookspec(firstresult=True)
def pool_refresh(pool: PoolRef, flags: int) -> None:
    """Rescan the pool's volumes."""


@hookspec(firstresult=True)
def pool_get_info(pool: PoolRef) -> PoolInfo:
    """Stops at first non-None result."""


@hookspec(firstresult=True)
def pool_get_xml_desc(pool: PoolRef, flags: int) -> str:
    """Stops at first non-None result."""


@hookspec(firstresult=True)
def pool_get_flags(pool: PoolRef) -> dict[str, bool]:
    """``active``, ``persistent``, ``autostart``. Stops at first non-None result."""


@hookspec(firstresult=True)
def pool_set_autostart(pool: PoolRef, autostart: bool) -> None:
    """Start the pool when the host starts."""


# ---------------------------------------------------------------- storage volumes


@hookspec(firstresult=True)
def volume_list_all(pool: PoolRef) -> list[VolumeRef]:
    """Volumes of an active pool, sorted by name. Stops at first non-None result."""


@hookspec(firstresult=True)
def volume_lookup_by_name(pool: PoolRef, name: str) -> VolumeRef:
    """:raises NotFoundError: NO_STORAGE_VOL. Stops at first non-None result."""


@hookspec(firstresult=True)
def volume_lookup_by_key(key: str) -> VolumeRef:
    """Stops at first non-None result."""


@hookspec(firstresult=True)
def volume_lookup_by_path(path: str) -> VolumeRef:
    """Stops at first non-None result."""


@hookspec(firstresult=True)
def volume_create_xml(pool: PoolRef, xml: str, flags: int) -> VolumeRef:
    """Stops at first non-None result."""


@hookspec(firstresult=True)
def volume_delete(vol: VolumeRef, flags: int) -> None:
    """Delete the volume and its storage."""


@hookspec(firstresult=True)
def volume_get_info(vol: VolumeRef) -> VolumeInfo:
    """Stops at first non-None result."""


@hookspec(firstresult=True)
def volume_get_xml_desc(vol: VolumeRef, flags: int) -> str:
    """Stops at first non-None result."""


@hookspec(firstresult=True)
def volume_get_path(vol: VolumeRef) -> str:
    """Stops at first non-None result."""


@hookspec(firstresult=True)
def volume_upload(vol: VolumeRef, offset: int, length: int, flags: int) -> int:
    """virStorageVolUpload (contract 1.9, optional): a connected stream socket the caller owns.

    The caller writes the volume's new bytes (from ``offset``, at most
    ``length`` of them, 0 = up to the end), shuts its write side down and
    reads until end of file: nothing means the data is stored, anything else
    is the driver's error message. A socket rather than a bare descriptor so
    that the end of the upload is confirmed only once the data reached the
    volume, as libvirt confirms a stream's finish. Stops at first non-None result.
    """


@hookspec(firstresult=True)
def volume_download(vol: VolumeRef, offset: int, length: int, flags: int) -> int:
    """virStorageVolDownload (contract 1.9, optional): a descriptor the caller owns and reads to its end.

    It yields the volume's bytes from ``offset``, ``length`` of them (0 = up to
    the end), as stored (a qcow2 volume streams as the qcow2 file, as libvirt's
    does). Stops at first non-None result.
    """


# ---------------------------------------------------------------- secrets


@hookspec(firstresult=True)
def secret_list_all() -> list[SecretRef]:
    """Stops at first non-None result."""


@hookspec(firstresult=True)
def secret_lookup_by_uuid(uuid: str) -> SecretRef:
    """:raises NotFoundError: NO_SECRET. Stops at first non-None result."""


@hookspec(firstresult=True)
def secret_lookup_by_usage(usage_type: int, usage_id: str) -> SecretRef:
    """Stops at first non-None result."""


@hookspec(firstresult=True)
def secret_define_xml(xml: str, flags: int) -> SecretRef:
    """Stops at first non-None result."""


@hookspec(firstresult=True)
def secret_undefine(secret: SecretRef) -> None:
    """Remove the secret and its value."""


@hookspec(firstresult=True)
def secret_get_xml_desc(secret: SecretRef, flags: int) -> str:
    """Stops at first non-None result."""


@hookspec(firstresult=True)
def secret_set_value(secret: SecretRef, value: bytes, flags: int) -> None:
    """Store the secret's value."""


@hookspec(firstresult=True)
def secret_get_value(secret: SecretRef, flags: int) -> bytes:
    """:raises NotFoundError: NO_SECRET when no value is set. Stops at first non-None result."""


# ---------------------------------------------------------------- node devices


@hookspec(firstresult=True)
def nodedev_list_all(cap: str | None) -> list[NodeDeviceRef]:
    """Devices (optionally only those with capability ``cap``), sorted by name.

    Stops at first non-None result.
    """


@hookspec(firstresult=True)
def nodedev_lookup_by_name(name: str) -> NodeDeviceRef:
    """:raises NotFoundError: NO_NODE_DEVICE. Stops at first non-None result."""


@hookspec(firstresult=True)
def nodedev_get_xml_desc(dev: NodeDeviceRef, flags: int) -> str:
    """Stops at first non-None result."""


@hookspec(firstresult=True)
def nodedev_get_parent(dev: NodeDeviceRef) -> str:
    """Parent device name ("" for the root). Stops at first non-None result."""


# ---------------------------------------------------------------- host interfaces


@hookspec(firstresult=True)
def interface_list_all() -> list[InterfaceRef]:
    """Stops at first non-None result."""


@hookspec(firstresult=True)
def interface_lookup_by_name(name: str) -> InterfaceRef:
    """:raises NotFoundError: NO_INTERFACE. Stops at first non-None result."""


@hookspec(firstresult=True)
def interface_get_xml_desc(iface: InterfaceRef, flags: int) -> str:
    """Stops at first non-None result."""


@hookspec(firstresult=True)
def interface_is_active(iface: InterfaceRef) -> bool:
    """Stops at first non-None result."""
