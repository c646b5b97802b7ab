"""Plain records passed between core and drivers (the handle types of libvirt's API).

Drivers return these from hooks; the public API wraps them in objects with
methods. They are named tuples: immutable, safe to share, and the cheapest
record Python can build in the hot lookup paths (a frozen dataclass costs
three times as much to create). They are built by
:mod:`pyvirt.util.named_tuple`, which reads the field names and leaves the
annotations as written: ``typing.NamedTuple`` evaluated and checked every
field's type at each start, which with ``typing`` itself was a noticeable
part of a short ``pyvirsh`` run. Type checkers see ``typing.NamedTuple``.

Each record becomes a class when its name is first read
(``DeferredNamedTuple`` of :mod:`pyvirt.util.named_tuple`): a short run uses one
or two of them, and making the others cost it about 4 million instructions.
Importing, pickling and ``typing.get_type_hints`` see the same classes as before.
"""

from __future__ import annotations

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): not importing typing here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple
else:
    from pyvirt.util.named_tuple import DeferredNamedTuple as NamedTuple
    from pyvirt.util.named_tuple import build_on_first_use

__all__ = [
    "BlockInfo",
    "BlockStats",
    "CheckpointRef",
    "DhcpLease",
    "DomainInfo",
    "DomainRef",
    "FSInfo",
    "IOThreadInfo",
    "InterfaceAddresses",
    "InterfaceRef",
    "InterfaceStats",
    "NWFilterBindingRef",
    "NWFilterRef",
    "NetworkPortRef",
    "NetworkRef",
    "NodeDeviceRef",
    "NodeInfo",
    "PoolInfo",
    "PoolRef",
    "SecretRef",
    "SecurityLabel",
    "SecurityModel",
    "SnapshotRef",
    "VcpuInfo",
    "VolumeInfo",
    "VolumeRef",
]


class DomainRef(NamedTuple):
    """virDomainPtr's identity: name, UUID string, id (-1 when not running)."""

    name: str
    uuid: str
    id: int = -1


class InterfaceAddresses(NamedTuple):
    """virDomainInterface: a guest NIC's name, MAC and addresses as (``ipv4``/``ipv6``, address, prefix)."""

    name: str
    hwaddr: str
    addrs: tuple[tuple[str, str, int], ...]


class DhcpLease(NamedTuple):
    """virNetworkDHCPLease: one lease a network's DHCP server handed out (expiry in seconds since the epoch)."""

    iface: str
    expiry: int
    type: str  # ipv4 | ipv6
    mac: str
    iaid: str
    ipaddr: str
    prefix: int
    hostname: str
    clientid: str


class DomainInfo(NamedTuple):
    """virDomainInfo: state, max/current memory in KiB, vCPUs, CPU time in ns."""

    state: int
    max_memory_kib: int
    memory_kib: int
    vcpus: int
    cpu_time_ns: int


class NodeInfo(NamedTuple):
    """virNodeInfo."""

    model: str
    memory_kib: int
    cpus: int
    mhz: int
    nodes: int
    sockets: int
    cores: int
    threads: int


class SecurityModel(NamedTuple):
    model: str
    doi: str


class SecurityLabel(NamedTuple):
    label: str
    enforcing: bool


class SnapshotRef(NamedTuple):
    domain: DomainRef
    name: str


class CheckpointRef(NamedTuple):
    """virDomainCheckpointPtr's identity: the domain and the checkpoint's name."""

    domain: DomainRef
    name: str


class NetworkRef(NamedTuple):
    name: str
    uuid: str


class NetworkPortRef(NamedTuple):
    """virNetworkPortPtr's identity: the network it belongs to and the port's UUID."""

    net: NetworkRef
    uuid: str


class PoolRef(NamedTuple):
    name: str
    uuid: str


class PoolInfo(NamedTuple):
    """virStoragePoolInfo: state (0 inactive … 4 inaccessible), bytes."""

    state: int
    capacity: int
    allocation: int
    available: int


class VolumeRef(NamedTuple):
    pool: str
    name: str
    key: str


class VolumeInfo(NamedTuple):
    """virStorageVolInfo: type (0 file, 1 block, …), capacity and allocation in bytes."""

    type: int
    capacity: int
    allocation: int


class NWFilterRef(NamedTuple):
    """virNWFilterPtr's identity: the filter's name and UUID."""

    name: str
    uuid: str


class NWFilterBindingRef(NamedTuple):
    """virNWFilterBindingPtr's identity: the guest port it filters and the filter's name."""

    portdev: str
    filter: str


class SecretRef(NamedTuple):
    uuid: str
    usage_type: int
    usage_id: str


class NodeDeviceRef(NamedTuple):
    name: str


class InterfaceRef(NamedTuple):
    name: str
    mac: str


class VcpuInfo(NamedTuple):
    """virVcpuInfo of one vCPU, with its row of the cpumaps virDomainGetVcpus fills.

    ``cpumap`` is libvirt's byte map of the host CPUs the vCPU may run on (host
    CPU ``n`` is bit ``n % 8`` of byte ``n // 8``), ``maplen`` bytes long, as it
    travels on the wire.
    """

    number: int
    state: int  # virVcpuState: 0 offline, 1 running, 2 blocked
    cpu_time_ns: int
    cpu: int  # the host CPU it last ran on, -1 when offline
    cpumap: bytes


class BlockStats(NamedTuple):
    """virDomainBlockStatsStruct: requests and bytes read and written, errors; -1 where the driver does not know."""

    rd_req: int
    rd_bytes: int
    wr_req: int
    wr_bytes: int
    errs: int


class InterfaceStats(NamedTuple):
    """virDomainInterfaceStatsStruct, as seen from the guest's side; -1 where the driver does not know."""

    rx_bytes: int
    rx_packets: int
    rx_errs: int
    rx_drop: int
    tx_bytes: int
    tx_packets: int
    tx_errs: int
    tx_drop: int


class BlockInfo(NamedTuple):
    """virDomainBlockInfo: what the guest sees, what the image uses on the host, and the host file or device size."""

    capacity: int
    allocation: int
    physical: int


class IOThreadInfo(NamedTuple):
    """virDomainIOThreadInfo: one I/O thread's id and the host CPUs it may run on.

    ``cpumap`` is libvirt's byte map (host CPU ``n`` is bit ``n % 8`` of byte
    ``n // 8``), as long as the driver made it: virsh prints its set bits.
    """

    iothread_id: int
    cpumap: bytes


class FSInfo(NamedTuple):
    """virDomainFSInfo: one file system mounted in the guest, and the guest disks (targets) it lives on."""

    mountpoint: str
    name: str
    fstype: str
    dev_aliases: list[str]


if not TYPE_CHECKING:  # mypy reads the class statements above; a module __getattr__ would hide misspelled names
    __getattr__, __dir__ = build_on_first_use(globals())
