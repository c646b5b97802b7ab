"""What the controller needs to build one container, as plain data.

The driver turns the domain XML into a ``ContainerSpec`` (validating it on
the way) and writes it to the run directory; the controller process reads it
back. The controller's start-up is on the path of every ``create``, so this
module imports nothing: plain classes instead of dataclasses, and ``marshal``
(built into the interpreter) instead of JSON for the file.
"""

from __future__ import annotations

import marshal

TYPE_CHECKING = False  # not typing's: this module is on the controller's start path
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["ContainerSpec", "MountSpec", "NicSpec"]


class MountSpec:
    __slots__ = ("kind", "readonly", "size_kib", "source", "target")

    def __init__(self, kind: str, target: str, source: str = "", readonly: bool = False, size_kib: int = 0) -> None:
        self.kind = kind  # "bind" | "ram"
        self.target, self.source, self.readonly, self.size_kib = target, source, readonly, size_kib


class NicSpec:
    __slots__ = ("addresses", "bridge", "guest_dev", "host_addresses", "host_dev", "host_routes", "mac", "routes")

    def __init__(self, host_dev: str, guest_dev: str, mac: str, bridge: str = "",
                 addresses: Iterable[tuple[str, int, str]] = (), routes: Iterable[tuple[str, int, str]] = (),
                 host_addresses: Iterable[tuple[str, int, str]] = (),
                 host_routes: Iterable[tuple[str, int, str]] = ()) -> None:  # fmt: skip
        self.host_dev, self.guest_dev, self.mac, self.bridge = host_dev, guest_dev, mac, bridge
        # (address, prefix, peer or ""), (address, prefix, gateway): in the container, then on the host end
        self.addresses = [(str(a), int(p), str(x)) for a, p, x in addresses]
        self.routes = [(str(a), int(p), str(g)) for a, p, g in routes]
        self.host_addresses = [(str(a), int(p), str(x)) for a, p, x in host_addresses]
        self.host_routes = [(str(a), int(p), str(g)) for a, p, g in host_routes]


def _fields(obj: object) -> dict[str, object]:
    return {k: getattr(obj, k) for k in obj.__slots__}  # type: ignore[attr-defined]


class ContainerSpec:
    __slots__ = (
        "cgroup_procs",
        "console_socket",
        "drop_caps",
        "env",
        "exec_attrs",
        "exit_file",
        "gid",
        "gid_map",
        "hostname",
        "init",
        "keep_caps",
        "mounts",
        "name",
        "nics",
        "private_net",
        "root",
        "root_readonly",
        "shares",
        "stage_dir",
        "uid",
        "uid_map",
        "uuid",
        "workdir",
    )  # fmt: skip

    def __init__(self, *, name: str, uuid: str, init: list[str], env: dict[str, str], workdir: str, uid: str,
                 gid: str, root: str, root_readonly: bool, stage_dir: str, hostname: str, private_net: bool,
                 mounts: list[MountSpec], nics: list[NicSpec], drop_caps: list[str | int],
                 keep_caps: list[str] | None, cgroup_procs: list[str], console_socket: str,
                 exit_file: str, uid_map: list[tuple[int, int, int]] | None = None,
                 gid_map: list[tuple[int, int, int]] | None = None,
                 exec_attrs: list[tuple[str, str]] | None = None,
                 shares: list[tuple[str, str]] | None = None) -> None:  # fmt: skip
        self.name, self.uuid, self.init, self.env, self.workdir = name, uuid, init, env, workdir
        self.uid = uid  # a number or a user name resolved in the container's /etc/passwd; "" keeps root
        self.gid = gid
        self.root = root  # the container's root directory ("" shares the host root read-only)
        self.root_readonly = root_readonly
        self.stage_dir = stage_dir  # mount point for the shared host root
        self.hostname, self.private_net, self.mounts, self.nics = hostname, private_net, mounts, nics
        self.drop_caps = drop_caps  # removed from every set, bounding included
        self.keep_caps = keep_caps  # with a securebits lock: exactly these stay (ambient), nothing can come back
        self.cgroup_procs = cgroup_procs  # the cgroups the driver puts the controller in (the container inherits; a v1 memory one only the init joins)
        self.console_socket, self.exit_file = console_socket, exit_file
        # <idmap>: (start in the container, target on the host, count); a user namespace when set
        self.uid_map = [(int(a), int(b), int(c)) for a, b, c in uid_map or []]
        self.gid_map = [(int(a), int(b), int(c)) for a, b, c in gid_map or []]
        # the security stack's process label: (procfs attribute, text) written just before the init's exec
        self.exec_attrs = [(str(p), str(t)) for p, t in exec_attrs or []]
        # <lxc:namespace>: ("net"|"ipc"|"uts", namespace file) joined instead of a new namespace
        self.shares = [(str(k), str(p)) for k, p in shares or []]

    def dumps(self) -> bytes:
        raw = _fields(self)
        raw["mounts"] = [_fields(m) for m in self.mounts]
        raw["nics"] = [_fields(n) for n in self.nics]
        return marshal.dumps(raw)

    @classmethod
    def loads(cls, data: bytes) -> ContainerSpec:
        raw = marshal.loads(data)
        raw["mounts"] = [MountSpec(**m) for m in raw["mounts"]]
        raw["nics"] = [NicSpec(**n) for n in raw["nics"]]
        return cls(**raw)
