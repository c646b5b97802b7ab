"""The hooks of libvirt's storage, network and interface drivers on an ESX connection.

libvirt's ESX connection serves these itself (esx_storage_driver.c,
esx_network_driver.c, esx_interface_driver.c): ``pyvirt.opening`` never
routes an ``esx://`` URI's pool, network or interface calls to this
machine's ``storage:///`` or ``network:///`` drivers. The hooks only
delegate: datastores in :mod:`pyvirt_esx.storage`, virtual switches in
:mod:`pyvirt_esx.networks`, physical NICs in :mod:`pyvirt_esx.interfaces`.
Pool and network lifecycle calls libvirt's ESX driver lacks (define, start,
destroy of a pool...) are left unimplemented and answer NO_SUPPORT.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from pyvirt.plugin import hookimpl
from pyvirt.plugin.records import InterfaceRef, NetworkRef, PoolInfo, PoolRef, VolumeInfo, VolumeRef

if TYPE_CHECKING:
    from pyvirt_esx.interfaces import PhysicalNics
    from pyvirt_esx.networks import VirtualSwitches
    from pyvirt_esx.storage import DatastorePools
    from pyvirt_esx.vsphere import Session

__all__ = ["HostObjectHooks"]


class HostObjectHooks:
    session: Session

    # The machinery behind the storage, network and interface calls (and the VMX converter) is imported on
    # first use: a ``pyvirsh list`` pays for none of it.
    @cached_property
    def pools(self) -> DatastorePools:
        from pyvirt_esx.storage import DatastorePools

        return DatastorePools(self.session)

    @cached_property
    def switches(self) -> VirtualSwitches:
        from pyvirt_esx.networks import VirtualSwitches

        return VirtualSwitches(self.session)

    @cached_property
    def nics(self) -> PhysicalNics:
        from pyvirt_esx.interfaces import PhysicalNics

        return PhysicalNics(self.session)

    # ------------------------------------------------------------------ datastores as storage pools
    # libvirt's ESX connection serves its storage itself (pyvirt.opening never routes an esx:// URI's pool
    # calls to storage:///): pools are the host's datastores, see pyvirt_esx.storage
    @hookimpl
    def pool_list_all(self) -> list[PoolRef]:
        return self.pools.list_all()

    @hookimpl
    def pool_lookup_by_name(self, name: str) -> PoolRef:
        return self.pools.lookup_by_name(name)

    @hookimpl
    def pool_lookup_by_uuid(self, uuid: str) -> PoolRef:
        return self.pools.lookup_by_uuid(uuid)

    @hookimpl
    def pool_refresh(self, pool: PoolRef, flags: int) -> None:
        self.pools.refresh(pool, flags)

    @hookimpl
    def pool_get_info(self, pool: PoolRef) -> PoolInfo:
        return self.pools.info(pool)

    @hookimpl
    def pool_get_xml_desc(self, pool: PoolRef, flags: int) -> str:
        return self.pools.xml(pool, flags)

    @hookimpl
    def pool_get_flags(self, pool: PoolRef) -> dict[str, bool]:
        """A datastore is always mounted, known to the host and there after its reboot (esxStoragePoolIs*)."""
        self.pools.lookup_by_name(pool.name)
        return {"active": True, "persistent": True, "autostart": True}

    @hookimpl
    def pool_set_autostart(self, pool: PoolRef, autostart: bool) -> None:
        self.pools.lookup_by_name(pool.name)
        self.pools.set_autostart(autostart)

    @hookimpl
    def volume_list_all(self, pool: PoolRef) -> list[VolumeRef]:
        return self.pools.list_volumes(pool)

    @hookimpl
    def volume_lookup_by_name(self, pool: PoolRef, name: str) -> VolumeRef:
        return self.pools.lookup_volume(pool.name, name)

    @hookimpl
    def volume_lookup_by_key(self, key: str) -> VolumeRef:
        return self.pools.lookup_volume_by_key(key)

    @hookimpl
    def volume_lookup_by_path(self, path: str) -> VolumeRef:
        return self.pools.lookup_volume_by_path(path)

    @hookimpl
    def volume_create_xml(self, pool: PoolRef, xml: str, flags: int) -> VolumeRef:
        return self.pools.create_volume(pool, xml, flags)

    @hookimpl
    def volume_delete(self, vol: VolumeRef, flags: int) -> None:
        self.pools.delete_volume(vol, flags)

    @hookimpl
    def volume_create_xml_from(self, pool: PoolRef, xml: str, source: VolumeRef, flags: int) -> VolumeRef:
        return self.pools.create_volume_from(pool, xml, source, flags)

    @hookimpl
    def volume_wipe(self, vol: VolumeRef, algorithm: int, flags: int) -> None:
        self.pools.wipe_volume(vol, algorithm, flags)

    @hookimpl
    def volume_get_info(self, vol: VolumeRef) -> VolumeInfo:
        return self.pools.volume_info(vol)

    @hookimpl
    def volume_get_xml_desc(self, vol: VolumeRef, flags: int) -> str:
        return self.pools.volume_xml(vol, flags)

    @hookimpl
    def volume_get_path(self, vol: VolumeRef) -> str:
        return f"[{vol.pool}] {vol.name}"

    # ------------------------------------------------------------------ vSwitches as networks, NICs as interfaces
    @hookimpl
    def network_list_all(self) -> list[NetworkRef]:
        return self.switches.list_all()

    @hookimpl
    def network_lookup_by_name(self, name: str) -> NetworkRef:
        return self.switches.lookup_by_name(name)

    @hookimpl
    def network_lookup_by_uuid(self, uuid: str) -> NetworkRef:
        return self.switches.lookup_by_uuid(uuid)

    @hookimpl
    def network_define_xml(self, xml: str, flags: int) -> NetworkRef:
        return self.switches.define(xml, flags)

    @hookimpl
    def network_undefine(self, net: NetworkRef) -> None:
        self.switches.undefine(net)

    @hookimpl
    def network_get_xml_desc(self, net: NetworkRef, flags: int) -> str:
        return self.switches.xml(net)

    @hookimpl
    def network_get_flags(self, net: NetworkRef) -> dict[str, bool]:
        """A vSwitch is always up, kept by the host and there after its reboot (esxNetworkIs*)."""
        self.switches.lookup_by_name(net.name)
        return {"active": True, "persistent": True, "autostart": True}

    @hookimpl
    def network_set_autostart(self, net: NetworkRef, autostart: bool) -> None:
        self.switches.lookup_by_name(net.name)
        self.switches.set_autostart(autostart)

    @hookimpl
    def interface_list_all(self) -> list[InterfaceRef]:
        return self.nics.list_all()

    @hookimpl
    def interface_lookup_by_name(self, name: str) -> InterfaceRef:
        return self.nics.lookup_by_name(name)

    @hookimpl
    def interface_get_xml_desc(self, iface: InterfaceRef, flags: int) -> str:
        return self.nics.xml(iface, flags)

    @hookimpl
    def interface_is_active(self, iface: InterfaceRef) -> bool:
        self.nics.lookup_by_name(iface.name)
        return True  # a physical NIC of the host is always up as far as libvirt's ESX driver is concerned
