"""Memory, vCPUs, datastores, vSwitches and NICs of an ESX host, against govmomi's vcsim, through the API and pyvirsh.

libvirt's ESX connection serves storage pools, networks and interfaces
itself: an ``esx://`` connection's pool, network and interface calls reach
the ESX driver, never this machine's storage or network driver.
"""

from __future__ import annotations

import hashlib
import os
import ssl
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pyVim.connect import Disconnect, SmartConnect
from pyvirt_esx.interfaces import interface_xml
from pyVmomi import vim
from vcsim import PASSWORD, USER, Simulator

import pyvirt
from pyvirt.conf.schema import validate
from pyvirt.errors import Error, ErrorCode

pytestmark = pytest.mark.usefixtures("auth_file")
PYVIRSH = str(Path(sys.executable).with_name("pyvirsh"))
VIM: Any = vim  # pyVmomi builds its types at run time


@contextmanager
def vsphere(sim: Simulator) -> Iterator[Any]:
    """The simulator seen through pyVmomi alone: what the host itself says, to compare with."""
    si = SmartConnect(host=sim.host, port=sim.port, user=USER, pwd=PASSWORD,
                      sslContext=ssl.create_default_context(cafile=str(sim.cert)))  # fmt: skip
    try:
        yield si
    finally:
        Disconnect(si)


def pyvirsh(sim: Simulator, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYVIRSH, "-c", sim.uri(), *args], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ), check=False)  # fmt: skip


# ---------------------------------------------------------------- memory and vCPUs


def test_setmem_setmaxmem_setvcpus_reach_the_vm_and_dominfo(esx_sim: Simulator) -> None:
    with pyvirt.open(esx_sim.uri()) as conn:
        dom = conn.lookup_domain_by_name("ha-host_VM1")
        before = dom.info()
        assert before.state == 1 and before.memory_kib == before.max_memory_kib  # no limit set: all of it
        dom.set_memory(20000)  # the memory limit, in whole MiB rounded up, while the VM runs
        info = dom.info()
        assert (info.memory_kib, info.max_memory_kib) == (20480, before.max_memory_kib)
        dom.set_vcpus(2)
        assert dom.info().vcpus == 2
        with pytest.raises(Error) as err:
            dom.set_max_memory(100000)
        assert err.value.code == ErrorCode.OPERATION_INVALID and "Domain is not powered off" in err.value.message
        dom.destroy()
        dom.set_max_memory(100000)  # the configured size: whole multiples of 4 MiB
        assert dom.info().max_memory_kib == 102400
        with pytest.raises(Error) as err:
            dom.set_vcpus(0)
        assert err.value.code == ErrorCode.INVALID_ARG
        assert "Requested number of virtual CPUs must at least be 1" in err.value.message
        with pytest.raises(Error) as err:
            dom.set_vcpus(2, 8)  # VIR_DOMAIN_VCPU_GUEST: no guest agent through vSphere
        assert err.value.message == "unsupported flags (0x8) in function esxDomainSetVcpusFlags"
        dom.create()
    with vsphere(esx_sim) as si:  # what the host now holds, read without pyvirt
        view = si.content.viewManager.CreateContainerView(si.content.rootFolder, [vim.VirtualMachine], True)
        vm = next(v for v in view.view if v.name == "ha-host_VM1")
        assert (vm.config.hardware.memoryMB, vm.config.hardware.numCPU, vm.config.memoryAllocation.limit) == (
            100,
            2,
            20,
        )


def test_a_vsphere_fault_carries_libvirts_code_and_vspheres_text(esx_sim: Simulator) -> None:
    """A template VM cannot be reconfigured: the host's fault, after libvirt's own words."""
    with pyvirt.open(esx_sim.uri()) as conn:
        dom = conn.lookup_domain_by_name("ha-host_VM0")
        dom.destroy()
        with vsphere(esx_sim) as si:
            view = si.content.viewManager.CreateContainerView(si.content.rootFolder, [vim.VirtualMachine], True)
            next(v for v in view.view if v.name == "ha-host_VM0").MarkAsTemplate()
        with pytest.raises(Error) as err:
            dom.set_vcpus(2)
        assert err.value.code == ErrorCode.INTERNAL_ERROR
        assert err.value.message.startswith("internal error: Could not set number of virtual CPUs to 2: ")
        assert "NotSupported" in err.value.message  # vcsim's fault text names vSphere's NotSupported fault
        with pytest.raises(Error) as err:
            dom.set_memory(4096)
        assert err.value.message.startswith("internal error: Could not set memory to 4096 kilobytes: ")


def test_pyvirsh_setmem_setvcpus_and_dominfo(esx_sim: Simulator) -> None:
    assert pyvirsh(esx_sim, "setmem", "ha-host_VM1", "16M").returncode == 0
    assert pyvirsh(esx_sim, "setvcpus", "ha-host_VM1", "3").returncode == 0
    info = pyvirsh(esx_sim, "dominfo", "ha-host_VM1")
    assert info.returncode == 0, info.stderr
    assert "CPU(s):         3\n" in info.stdout and "Used memory:    16384 KiB\n" in info.stdout
    refused = pyvirsh(esx_sim, "setmaxmem", "ha-host_VM1", "1G")
    assert refused.returncode == 1
    assert refused.stderr == ("error: Unable to change MaxMemorySize\n"
                              "error: Requested operation is not valid: Domain is not powered off\n")  # fmt: skip


# ---------------------------------------------------------------- datastores as storage pools


def test_datastores_are_pools(esx_sim: Simulator) -> None:
    with vsphere(esx_sim) as si:
        host = si.content.viewManager.CreateContainerView(si.content.rootFolder, [vim.HostSystem], True).view[0]
        ds = host.datastore[0]
        name, url, capacity, free = ds.name, ds.summary.url, ds.summary.capacity, ds.summary.freeSpace
    mount = url.removeprefix("ds://").rstrip("/")
    with pyvirt.open(esx_sim.uri()) as conn:
        pools = conn.list_all_storage_pools()
        assert [p.name for p in pools] == [name]
        pool = pools[0]
        assert pool.uuid == str(uuid.UUID(bytes=hashlib.md5(mount.encode()).digest()))  # libvirt's: md5 of the mount
        assert conn.lookup_storage_pool_by_uuid(pool.uuid).name == name
        assert pool.is_active() and pool.is_persistent() and pool.autostart
        info = pool.info()
        assert (info.state, info.capacity, info.available, info.allocation) == (2, capacity, free, capacity - free)
        assert pool.xml_desc() == (
            f"<pool type='dir'>\n  <name>{name}</name>\n  <uuid>{pool.uuid}</uuid>\n"
            f"  <capacity unit='bytes'>{capacity}</capacity>\n  <allocation unit='bytes'>{capacity - free}</allocation>\n"
            f"  <available unit='bytes'>{free}</available>\n  <source>\n  </source>\n  <target>\n"
            f"    <path>{mount}</path>\n    <permissions>\n      <mode>00</mode>\n      <owner>0</owner>\n"
            "      <group>0</group>\n    </permissions>\n  </target>\n</pool>\n"
        )
        validate(pool.xml_desc(), "pool")  # libvirt's RNG
        with pytest.raises(Error) as err:
            pool.refresh()  # vcsim 0.24 has no RefreshDatastore: the failure is reported, the session goes on
        assert err.value.code == ErrorCode.INTERNAL_ERROR
        assert err.value.message.startswith(f"internal error: Could not refresh datastore '{name}': ")
        assert pool.info().state == 2
        with pytest.raises(Error) as err:
            pool.autostart = False
        assert err.value.code == ErrorCode.INTERNAL_ERROR and "Cannot deactivate storage pool autostart" in str(
            err.value
        )
        with pytest.raises(Error) as err:
            pool.destroy()  # datastores are never stopped through libvirt
        assert err.value.code == ErrorCode.NO_SUPPORT and "virStoragePoolDestroy" in err.value.message
        with pytest.raises(Error) as err:
            conn.lookup_storage_pool_by_name("NoSuchDS")
        assert err.value.code == ErrorCode.NO_STORAGE_POOL
        assert "Could not find storage pool with name 'NoSuchDS'" in err.value.message


def test_volumes_listed_created_and_deleted(esx_sim: Simulator) -> None:
    with pyvirt.open(esx_sim.uri()) as conn:
        pool = conn.lookup_storage_pool_by_name("LocalDS_0")
        names = [v.name for v in pool.list_all_volumes()]
        assert "ha-host_VM0/disk1.vmdk" in names
        vol = pool.create_volume("<volume><name>new disks/data.vmdk</name><capacity unit='M'>8</capacity>"
                                 "<allocation>0</allocation><target><format type='vmdk'/></target></volume>")  # fmt: skip
        assert vol.name == "new disks/data.vmdk"
        with vsphere(esx_sim) as si:
            disk_uuid = si.content.virtualDiskManager.QueryVirtualDiskUuid(
                name="[LocalDS_0] new disks/data.vmdk", datacenter=si.content.rootFolder.childEntity[0]
            )
        assert vol.key == str(uuid.UUID(hex=disk_uuid.replace(" ", "").replace("-", "")))  # the disk's UUID
        assert "new disks/data.vmdk" in [v.name for v in pool.list_all_volumes()]
        assert vol.path() == "[LocalDS_0] new disks/data.vmdk"
        assert conn.lookup_storage_volume_by_path("[LocalDS_0] new disks/data.vmdk").key == vol.key
        assert conn.lookup_storage_volume_by_key(vol.key).name == vol.name
        xml = vol.xml_desc()
        assert xml.startswith("<volume type='file'>\n  <name>new disks/data.vmdk</name>\n")
        assert f"  <key>{vol.key}</key>\n" in xml and "<format type='vmdk'/>" in xml
        assert "<path>[LocalDS_0] new disks/data.vmdk</path>" in xml
        assert vol.info().type == 0
        with pytest.raises(Error) as err:  # the host refuses a second disk of that name: its fault, libvirt's words
            pool.create_volume(f"<volume><name>{vol.name}</name><capacity>1024</capacity>"
                               "<target><format type='vmdk'/></target></volume>")  # fmt: skip
        assert err.value.code == ErrorCode.INTERNAL_ERROR
        assert err.value.message.startswith("internal error: Could not create volume: ")
        assert "FileAlreadyExists" in err.value.message  # vcsim's text names vSphere's fault
        vol.delete()
        with pytest.raises(Error) as err:
            vol.delete()
        assert err.value.code == ErrorCode.INTERNAL_ERROR and "Could not delete volume: " in err.value.message
        assert "new disks/data.vmdk" not in [v.name for v in pool.list_all_volumes()]
        with pytest.raises(Error) as err:
            pool.lookup_volume_by_name("new disks/data.vmdk")
        assert err.value.code == ErrorCode.NO_STORAGE_VOL
        assert "No storage volume with key or path '[LocalDS_0] new disks/data.vmdk'" in err.value.message


@pytest.mark.parametrize(
    ("xml", "code", "message"),
    [
        ("<volume><name>flat.vmdk</name><capacity>1</capacity></volume>", ErrorCode.INTERNAL_ERROR,
         "Volume name 'flat.vmdk' doesn't have expected format '<directory>/<file>'"),
        ("<volume><name>d/x.img</name><capacity>1</capacity></volume>", ErrorCode.NO_SUPPORT,
         "Volume name 'd/x.img' has unsupported suffix, expecting '.vmdk'"),
        ("<volume><name>d/x.vmdk</name><capacity>1</capacity></volume>", ErrorCode.NO_SUPPORT,
         "Creation of raw volumes is not supported"),
        ("<volume><name>d/x.vmdk</name><capacity>4096</capacity><allocation>1024</allocation>"
         "<target><format type='vmdk'/></target></volume>", ErrorCode.INTERNAL_ERROR,
         "Unsupported capacity-to-allocation relation"),
        ("<volume type='block'><name>d/x.vmdk</name><capacity>1</capacity></volume>", ErrorCode.NO_SUPPORT,
         "Creating non-file volumes is not supported"),
    ],
)  # fmt: skip
def test_volume_create_refusals_in_libvirts_words(esx_sim: Simulator, xml: str, code: ErrorCode, message: str) -> None:
    with pyvirt.open(esx_sim.uri()) as conn:
        with pytest.raises(Error) as err:
            conn.lookup_storage_pool_by_name("LocalDS_0").create_volume(xml)
        assert err.value.code == code and message in err.value.message


def test_pyvirsh_pools_and_volumes(esx_sim: Simulator) -> None:
    listed = pyvirsh(esx_sim, "pool-list", "--all")
    assert listed.returncode == 0 and " LocalDS_0   active   yes\n" in listed.stdout, listed.stdout
    made = pyvirsh(esx_sim, "vol-create-as", "LocalDS_0", "cli/disk.vmdk", "4M", "--format", "vmdk")
    assert made.returncode == 0 and made.stdout == "Vol cli/disk.vmdk created\n\n", made.stderr
    dumped = pyvirsh(esx_sim, "vol-dumpxml", "--pool", "LocalDS_0", "cli/disk.vmdk")
    assert dumped.returncode == 0 and "<path>[LocalDS_0] cli/disk.vmdk</path>" in dumped.stdout
    assert pyvirsh(esx_sim, "vol-delete", "--pool", "LocalDS_0", "cli/disk.vmdk").returncode == 0
    assert "cli/disk.vmdk" not in pyvirsh(esx_sim, "vol-list", "LocalDS_0").stdout


# ---------------------------------------------------------------- vSwitches as networks


NETWORK_XML = """<network>
  <name>vSwitchTest</name>
  <portgroup name='web'/>
  <portgroup name='db'>
    <bandwidth><inbound average='500' peak='1000' burst='64'/><outbound average='500' peak='1000' burst='64'/></bandwidth>
  </portgroup>
</network>"""


def test_vswitches_are_networks_with_their_port_groups(esx_sim: Simulator) -> None:
    with pyvirt.open(esx_sim.uri()) as conn:
        nets = conn.list_all_networks()
        assert [n.name for n in nets] == ["vSwitch0"]
        switch = nets[0]
        assert switch.is_active() and switch.is_persistent() and switch.autostart
        # the UUID is the MD5 sum of the switch's key (ESX's form of it; vcsim leaves the key empty)
        key = b"key-vim.host.VirtualSwitch-vSwitch0"
        assert switch.uuid == str(uuid.UUID(bytes=hashlib.md5(key).digest()))
        # vmnic0 is vSwitch0's uplink; the management port group has no network object, so it is not listed
        assert switch.xml_desc() == (
            f"<network>\n  <name>vSwitch0</name>\n  <uuid>{switch.uuid}</uuid>\n"
            "  <forward dev='vmnic0' mode='bridge'>\n    <interface dev='vmnic0'/>\n  </forward>\n"
            "  <portgroup name='VM Network'>\n  </portgroup>\n</network>\n"
        )
        defined = conn.define_network(NETWORK_XML)
        assert defined.name == "vSwitchTest" and conn.lookup_network_by_uuid(defined.uuid).name == "vSwitchTest"
        xml = defined.xml_desc()
        validate(xml, "network")  # port group names without spaces: libvirt's RNG accepts the document
        assert "  <portgroup name='web'>\n  </portgroup>\n" in xml
        assert ("  <portgroup name='db'>\n    <bandwidth>\n      <inbound average='500' peak='1000' burst='64'/>\n"
                "      <outbound average='500' peak='1000' burst='64'/>\n    </bandwidth>\n  </portgroup>\n") in xml  # fmt: skip
        with vsphere(esx_sim) as si:  # the port group's shaping as vSphere keeps it: bits per second and bytes
            host = si.content.viewManager.CreateContainerView(si.content.rootFolder, [vim.HostSystem], True).view[0]
            groups = host.configManager.networkSystem.networkInfo.portgroup
            shaping = next(g for g in groups if g.spec.name == "db").spec.policy.shapingPolicy
            assert (shaping.enabled, shaping.averageBandwidth, shaping.peakBandwidth, shaping.burstSize) == (
                True,
                4_000_000,
                8_000_000,
                65536,
            )
        with pytest.raises(Error) as err:
            conn.define_network(NETWORK_XML.replace("vSwitchTest", "vSwitchOther"))
        assert err.value.code == ErrorCode.NETWORK_EXIST
        assert "HostPortGroup with name 'web' exists already" in err.value.message
        defined.undefine()
        assert [n.name for n in conn.list_all_networks()] == ["vSwitch0"]


@pytest.mark.parametrize(
    ("xml", "code", "message"),
    [
        ("<network><name>vSwitch0</name></network>", ErrorCode.INTERNAL_ERROR,
         "HostVirtualSwitch already exists, editing existing ones is not supported yet"),
        ("<network><name>n</name><uuid>12345678-1234-1234-1234-123456789abc</uuid></network>",
         ErrorCode.CONFIG_UNSUPPORTED, "Cannot use predefined UUID"),
        ("<network><name>n</name><forward mode='nat'/></network>", ErrorCode.CONFIG_UNSUPPORTED,
         "Unsupported forward mode 'nat'"),
        ("<network><name>n</name><forward mode='bridge'><interface dev='vmnic7'/></forward></network>",
         ErrorCode.INTERNAL_ERROR, "Could not find PhysicalNic with name 'vmnic7'"),
        ("<network><name>n</name><bandwidth><inbound average='1'/><outbound average='2'/></bandwidth></network>",
         ErrorCode.CONFIG_UNSUPPORTED, "Different inbound and outbound bandwidth is unsupported"),
    ],
)  # fmt: skip
def test_network_define_refusals_in_libvirts_words(esx_sim: Simulator, xml: str, code: ErrorCode, message: str) -> None:
    with pyvirt.open(esx_sim.uri()) as conn:
        with pytest.raises(Error) as err:
            conn.define_network(xml)
        assert err.value.code == code and message in err.value.message
        assert [n.name for n in conn.list_all_networks()] == ["vSwitch0"]


def test_a_vswitch_with_the_hosts_own_port_is_not_undefined(esx_sim: Simulator) -> None:
    with pyvirt.open(esx_sim.uri()) as conn:
        with pytest.raises(Error) as err:
            conn.lookup_network_by_name("vSwitch0").undefine()
        assert err.value.code == ErrorCode.OPERATION_INVALID
        assert "Cannot undefine HostVirtualSwitch that has a 'host' port" in err.value.message  # vmk0's port
        with pytest.raises(Error) as err:
            conn.lookup_network_by_name("default")
        assert err.value.code == ErrorCode.NO_NETWORK  # this machine's networks are never an ESX host's


def test_pyvirsh_net_list_and_dumpxml(esx_sim: Simulator) -> None:
    listed = pyvirsh(esx_sim, "net-list", "--all")
    assert listed.returncode == 0 and " vSwitch0   active   yes         yes\n" in listed.stdout, listed.stdout
    dumped = pyvirsh(esx_sim, "net-dumpxml", "vSwitch0")
    assert dumped.returncode == 0 and "<portgroup name='VM Network'>" in dumped.stdout


# ---------------------------------------------------------------- physical NICs as interfaces


def test_interfaces_are_the_hosts_physical_nics(esx_sim: Simulator) -> None:
    with vsphere(esx_sim) as si:
        host = si.content.viewManager.CreateContainerView(si.content.rootFolder, [vim.HostSystem], True).view[0]
        nics = sorted((n.device, n.mac) for n in host.config.network.pnic)
    assert nics  # vcsim's host has vmnic0 and vmnic1
    with pyvirt.open(esx_sim.uri()) as conn:
        ifaces = conn.list_all_interfaces()
        assert [(i.name, i.mac) for i in ifaces] == nics
        assert all(i.is_active() for i in ifaces)
        device, mac = nics[0]
        assert conn.lookup_interface_by_name(device).xml_desc() == (
            f"<interface type='ethernet' name='{device}'>\n  <start mode='onboot'/>\n  <mac address='{mac}'/>\n"
            "</interface>\n"
        )  # what libvirt 9.0's ESX driver prints for it too (test_against_libvirt.py compares them)
        validate(conn.lookup_interface_by_name(device).xml_desc(), "interface")
        with pytest.raises(Error) as err:
            conn.lookup_interface_by_name("vmnic9")
        assert err.value.code == ErrorCode.NO_INTERFACE
    listed = pyvirsh(esx_sim, "iface-list", "--all")
    assert listed.returncode == 0 and f" {device}   active   {mac}\n" in listed.stdout, listed.stdout


def _nic(dhcp: bool, address: str | None) -> Any:
    ip = VIM.host.IpConfig(dhcp=dhcp, ipAddress=address, subnetMask="255.255.252.0" if address else None)
    return VIM.host.PhysicalNic(device="vmnic0", mac="00:50:56:aa:bb:cc", key="key-vim.host.PhysicalNic-vmnic0",
                                spec=VIM.host.PhysicalNic.Specification(ip=ip))  # fmt: skip


def test_interface_xml_from_vspheres_nic_record() -> None:
    """The XML of a NIC record as vSphere sends it (pyVmomi's own type), since vcsim has none to send."""
    head = "<interface type='ethernet' name='vmnic0'>\n  <start mode='onboot'/>\n  <mac address='00:50:56:aa:bb:cc'/>\n"
    static = _nic(False, "192.0.2.10")
    assert interface_xml(static, 0) == (head + "  <protocol family='ipv4'>\n"
                                        "    <ip address='192.0.2.10' prefix='22'/>\n  </protocol>\n</interface>\n")  # fmt: skip
    leased = _nic(True, "192.0.2.11")
    assert "    <dhcp/>\n    <ip address='192.0.2.11' prefix='22'/>\n" in interface_xml(leased, 0)
    # the inactive definition leaves the leased address out: it is not configuration
    assert interface_xml(leased, 1) == head + "  <protocol family='ipv4'>\n    <dhcp/>\n  </protocol>\n</interface>\n"
    assert interface_xml(_nic(False, None), 0) == head + "</interface>\n"


# ---------------------------------------------------------------- the same through a vCenter


def test_through_a_vcenter(vpx_sim: Simulator) -> None:
    """vpx://vc/DC/CLUSTER/HOST: the host's datastores, switches and NICs, and a VM's memory, through vCenter."""
    with pyvirt.open(vpx_sim.uri(scheme="vpx").replace("/?", "/DC0/DC0_C0/DC0_C0_H0/?")) as conn:
        pools = conn.list_all_storage_pools()
        assert pools and all(p.info().state == 2 for p in pools)
        assert "<pool type='dir'>" in pools[0].xml_desc()
        assert [n.name for n in conn.list_all_networks()] == ["vSwitch0"]
        assert [i.name for i in conn.list_all_interfaces()] == ["vmnic0", "vmnic1"]
        dom = conn.list_all_domains()[0]
        dom.set_memory(8192)
        dom.set_vcpus(2)
        info = dom.info()
        assert (info.memory_kib, info.vcpus) == (8192, 2)
