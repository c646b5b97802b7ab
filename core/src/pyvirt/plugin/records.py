"""Plain records passed between core and drivers (the handle types of libvirt's API).

Drivers return these from hooks; the public API wraps them in objects with
methods. They are frozen dataclasses with slots: cheap to create in the hot
lookup paths and safe to share.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DomainInfo",
    "DomainRef",
    "InterfaceRef",
    "NetworkRef",
    "NodeDeviceRef",
    "NodeInfo",
    "PoolInfo",
    "PoolRef",
    "SecretRef",
    "SecurityLabel",
    "SecurityModel",
    "SnapshotRef",
    "VolumeInfo",
    "VolumeRef",
]


@dataclass(frozen=True, slots=True)
class DomainRef:
    """virDomainPtr's identity: name, UUID string, id (-1 when not running)."""

    name: str
    uuid: str
    id: int = -1


@dataclass(frozen=True, slots=True)
class DomainInfo:
    """virDomainInfo: state, max/current memory in KiB, vCPUs, CPU time in ns."""

    state: int
    max_memory_kib: int
    memory_kib: int
    vcpus: int
    cpu_time_ns: int


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """virNodeInfo."""

    model: str
    memory_kib: int
    cpus: int
    mhz: int
    nodes: int
    sockets: int
    cores: int
    threads: int


@dataclass(frozen=True, slots=True)
class SecurityModel:
    model: str
    doi: str


@dataclass(frozen=True, slots=True)
class SecurityLabel:
    label: str
    enforcing: bool


@dataclass(frozen=True, slots=True)
class SnapshotRef:
    domain: DomainRef
    name: str


@dataclass(frozen=True, slots=True)
class NetworkRef:
    name: str
    uuid: str


@dataclass(frozen=True, slots=True)
class PoolRef:
    name: str
    uuid: str


@dataclass(frozen=True, slots=True)
class PoolInfo:
    """virStoragePoolInfo: state (0 inactive … 4 inaccessible), bytes."""

    state: int
    capacity: int
    allocation: int
    available: int


@dataclass(frozen=True, slots=True)
class VolumeRef:
    pool: str
    name: str
    key: str


@dataclass(frozen=True, slots=True)
class VolumeInfo:
    """virStorageVolInfo: type (0 file, 1 block, …), capacity and allocation in bytes."""

    type: int
    capacity: int
    allocation: int


@dataclass(frozen=True, slots=True)
class SecretRef:
    uuid: str
    usage_type: int
    usage_id: str


@dataclass(frozen=True, slots=True)
class NodeDeviceRef:
    name: str


@dataclass(frozen=True, slots=True)
class InterfaceRef:
    name: str
    mac: str
