"""``<disk type='network'>``: the storage node of an image QEMU reaches over the network.

libvirt's ``-blockdev`` storage properties for QEMU 7.x, protocol by
protocol: NBD (TCP or a UNIX socket, an export name), iSCSI (portal, target
and LUN from ``name='IQN/LUN'``, initiator), HTTP(S)/FTP(S) (a URL with the
protocol's default port and the query, timeout, readahead, TLS verification),
Gluster (volume and path, several servers) and RBD (pool and image, monitors).
Hosts without a port get the protocol's well-known one, as libvirt fills it in.
Anything needing a secret (``<auth>``, cookies) or TLS credentials is refused
by name: the secret driver that would hold them is not written yet.
"""

from __future__ import annotations

from typing import Any

from pyvirt.conf.domain_devices import BackingStore, Disk, DiskHost
from pyvirt.errors import ErrorCode, NotSupportedError, XMLError

__all__ = ["DEFAULT_PORTS", "network_storage_props"]

DEFAULT_PORTS = {"nbd": 10809, "iscsi": 3260, "http": 80, "https": 443, "ftp": 21, "ftps": 990, "gluster": 24007,
                 "rbd": 6789}  # fmt: skip


def _unsupported(what: str) -> NotSupportedError:
    return NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"{what} is not supported by the QEMU driver yet")


def _port(host: DiskHost, protocol: str) -> str:
    return str(host.port) if host.port else str(DEFAULT_PORTS[protocol])


def _server(host: DiskHost, protocol: str) -> dict[str, Any]:
    if host.transport == "unix":
        if not host.socket:
            raise XMLError(ErrorCode.XML_ERROR, "missing socket for unix transport")
        return {"type": "unix", "path": host.socket}
    if host.transport not in (None, "tcp"):
        raise _unsupported(f"{protocol} transport '{host.transport}'")
    return {"type": "inet", "host": host.name or "", "port": _port(host, protocol)}


def network_storage_props(layer: Disk | BackingStore) -> dict[str, Any]:
    """The storage node's properties before ``node-name`` (libvirt's order)."""
    if isinstance(layer, BackingStore):
        raise _unsupported("a network image in a backing chain")
    protocol = layer.source_protocol or ""
    hosts = layer.source_hosts or []
    name = layer.source_name or ""
    if protocol not in DEFAULT_PORTS:
        raise _unsupported(f"network disk protocol '{protocol}'")
    if layer.source_cookies:
        raise _unsupported("HTTP cookies (they need the secret driver)")
    if layer.auth is not None or layer.source_auth is not None:
        raise _unsupported("network disk <auth> (it needs the secret driver)")
    if protocol in ("iscsi", "http", "https", "ftp", "ftps", "nbd") and len(hosts) != 1:
        raise XMLError(ErrorCode.XML_ERROR, f"protocol '{protocol}' accepts only one host")
    props: dict[str, Any]
    if protocol == "nbd":
        props = {"driver": "nbd", "server": _server(hosts[0], protocol)}
        if name:
            props["export"] = name
    elif protocol == "iscsi":
        target, _, lun = name.rpartition("/") if "/" in name else (name, "", "0")
        props = {"driver": "iscsi", "portal": f"{hosts[0].name}:{_port(hosts[0], protocol)}", "target": target,
                 "lun": int(lun or "0"), "transport": "tcp"}  # fmt: skip
        if layer.source_initiator_iqn:
            props["initiator-name"] = layer.source_initiator_iqn
    elif protocol in ("http", "https", "ftp", "ftps"):
        url = f"{protocol}://{hosts[0].name}:{_port(hosts[0], protocol)}/{name.lstrip('/')}"
        if layer.source_query:
            url += f"?{layer.source_query}"
        props = {"driver": protocol, "url": url}
        if layer.source_ssl_verify is not None and protocol in ("https", "ftps"):
            props["sslverify"] = layer.source_ssl_verify == "yes"
        if layer.source_readahead:
            props["readahead"] = layer.source_readahead
        if layer.source_timeout:
            props["timeout"] = layer.source_timeout
    elif protocol == "gluster":
        volume, _, path = name.lstrip("/").partition("/")
        if not volume or not path:
            raise XMLError(ErrorCode.XML_ERROR, f"missing volume name or file name in gluster source path '{name}'")
        props = {"driver": "gluster", "volume": volume, "path": path,
                 "server": [_server(h, protocol) for h in hosts], "debug": 4}  # fmt: skip
    else:  # rbd
        pool, _, image = name.partition("/")
        props = {"driver": "rbd", "pool": pool, "image": image}
        if hosts:
            props["server"] = [{"host": h.name or "", "port": _port(h, protocol)} for h in hosts]
    return props
