"""What the controller needs to build one container, as plain JSON-able data.

The driver turns the domain XML into a ``ContainerSpec`` (validating it on
the way) and writes it to the run directory; the controller process reads it
back. Keeping the controller away from the XML models keeps its start-up,
which is on the path of every ``create``, short.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["ContainerSpec", "MountSpec", "NicSpec"]


@dataclass
class MountSpec:
    kind: str  # "bind" | "ram"
    target: str
    source: str = ""
    readonly: bool = False
    size_kib: int = 0


@dataclass
class NicSpec:
    host_dev: str
    guest_dev: str
    mac: str
    bridge: str = ""
    addresses: list[tuple[str, int]] = field(default_factory=list)  # (address, prefix)
    routes: list[tuple[str, int, str]] = field(default_factory=list)  # (address, prefix, gateway)


@dataclass
class ContainerSpec:
    name: str
    uuid: str
    init: list[str]
    env: dict[str, str]
    workdir: str
    uid: str  # a number or a user name resolved in the container's /etc/passwd; "" keeps root
    gid: str
    root: str  # the container's root directory ("" shares the host root read-only)
    root_readonly: bool
    stage_dir: str  # mount point for the shared host root
    hostname: str
    private_net: bool
    mounts: list[MountSpec]
    nics: list[NicSpec]
    drop_caps: list[str | int]  # removed from every set, bounding included
    keep_caps: list[str] | None  # with a securebits lock: exactly these stay (ambient), nothing else can come back
    cgroup_procs: list[str]  # cgroup.procs files the controller joins before the container forks
    console_socket: str
    exit_file: str

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ContainerSpec:
        raw: dict[str, Any] = json.loads(text)
        raw["mounts"] = [MountSpec(**m) for m in raw["mounts"]]
        raw["nics"] = [
            NicSpec(**{**n, "addresses": [tuple(a) for a in n["addresses"]], "routes": [tuple(r) for r in n["routes"]]})
            for n in raw["nics"]
        ]
        return cls(**raw)
