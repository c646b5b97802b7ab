"""``<disk type='network'>``: the storage node of an image QEMU reaches over the network.

libvirt's ``-blockdev`` storage properties for QEMU 7.x, protocol by
protocol: NBD (TCP or a UNIX socket, an export name), iSCSI (portal, target
and LUN from ``name='IQN/LUN'``, initiator), HTTP(S)/FTP(S) (a URL with the
protocol's default port and the query, timeout, readahead, TLS verification),
Gluster (volume and path, several servers) and RBD (pool and image, monitors).
Hosts without a port get the protocol's well-known one, as libvirt fills it in.
A user's password or key (``<auth>``) and HTTP cookies reach QEMU as
``secret`` objects encrypted with the guest's master key (``qemu_secrets``),
named ``libvirt-N-storage-auth-secret0`` / ``libvirt-N-storage-httpcookie-secret0``
as libvirt names them; TLS credentials are still refused by name.
"""

from __future__ import annotations

from typing import Any

from pyvirt.conf.domain_devices import BackingStore, Disk, DiskHost, StorageAuth
from pyvirt.errors import ErrorCode, NotSupportedError, XMLError
from pyvirt_qemu.qemu_secrets import GuestSecrets

__all__ = ["DEFAULT_PORTS", "network_secret_objects", "network_storage_props"]

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


def _auth(layer: Disk) -> StorageAuth | None:
    return layer.source_auth if layer.source_auth is not None else layer.auth


def network_secret_objects(layer: Disk | BackingStore, node: str, secrets: GuestSecrets | None) -> list[dict[str, Any]]:
    """The ``secret`` objects a network image's storage node names, in libvirt's order (auth, then cookies).

    ``node`` is the image's ``libvirt-N``. The user's secret is of usage ``ceph`` for RBD and ``iscsi`` for every
    other protocol, as qemuDomainSecretStorageSourcePrepareAuth looks it up; the cookies are the XML's own
    ``name=value`` pairs joined by ``; `` (qemuBlockStorageSourceGetCookieString).
    """
    if isinstance(layer, BackingStore) or layer.type != "network":
        return []
    out: list[dict[str, Any]] = []
    auth = _auth(layer)
    if (auth is not None or layer.source_cookies) and secrets is None:  # (a disk plugged into a running guest)
        raise _unsupported("network disk <auth> or HTTP cookies without the guest's master key")
    if auth is not None and secrets is not None:
        usage = "ceph" if layer.source_protocol == "rbd" else "iscsi"
        value = secrets.value(usage, auth.secret_uuid, auth.secret_usage, "network disk <auth>")
        out.append(secrets.secret_object(f"{node}-storage-auth-secret0", value))
    if layer.source_cookies and secrets is not None:
        cookies = "; ".join(f"{c.name}={c.value or ''}" for c in layer.source_cookies)
        out.append(secrets.secret_object(f"{node}-storage-httpcookie-secret0", cookies.encode()))
    return out


def network_storage_props(layer: Disk | BackingStore, node: str = "", librbd_encrypt: dict[str, Any] | None = None,
                          ) -> dict[str, Any]:  # fmt: skip
    """The storage node's properties before ``node-name`` (libvirt's order).

    ``node``: the image's ``libvirt-N``, which names its secrets (see ``network_secret_objects``);
    ``librbd_encrypt``: the ``encrypt`` member of an image librbd decrypts.
    """
    if isinstance(layer, BackingStore):
        raise _unsupported("a network image in a backing chain")
    protocol = layer.source_protocol or ""
    hosts = layer.source_hosts or []
    name = layer.source_name or ""
    if protocol not in DEFAULT_PORTS:
        raise _unsupported(f"network disk protocol '{protocol}'")
    auth = _auth(layer)
    user = {"user": auth.username or ""} if auth is not None else {}
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
        if auth is not None:
            props |= user | {"password-secret": f"{node}-storage-auth-secret0"}
        if layer.source_initiator_iqn:
            props["initiator-name"] = layer.source_initiator_iqn
    elif protocol in ("http", "https", "ftp", "ftps"):
        url = f"{protocol}://{hosts[0].name}:{_port(hosts[0], protocol)}/{name.lstrip('/')}"
        if layer.source_query:
            url += f"?{layer.source_query}"
        props = {"driver": protocol, "url": url}
        if auth is not None:
            props |= {"username": auth.username or "", "password-secret": f"{node}-storage-auth-secret0"}
        if layer.source_ssl_verify is not None and protocol in ("https", "ftps"):
            props["sslverify"] = layer.source_ssl_verify == "yes"
        if layer.source_cookies:
            props["cookie-secret"] = f"{node}-storage-httpcookie-secret0"
        if layer.source_timeout:
            props["timeout"] = layer.source_timeout
        if layer.source_readahead:
            props["readahead"] = layer.source_readahead
    elif protocol == "gluster":
        volume, _, path = name.lstrip("/").partition("/")
        if not volume or not path:
            raise XMLError(ErrorCode.XML_ERROR, f"missing volume name or file name in gluster source path '{name}'")
        props = {"driver": "gluster", "volume": volume, "path": path,
                 "server": [_server(h, protocol) for h in hosts], "debug": 4}  # fmt: skip
    else:  # rbd
        pool, _, image = name.partition("/")
        props = {"driver": "rbd", "pool": pool, "image": image}
        if layer.source_snapshot:
            props["snapshot"] = layer.source_snapshot
        if layer.source_config:
            props["conf"] = layer.source_config
        if hosts:
            props["server"] = [{"host": h.name or "", "port": _port(h, protocol)} for h in hosts]
        if librbd_encrypt is not None:
            props["encrypt"] = librbd_encrypt
        if auth is not None:
            props |= user | {"auth-client-required": ["cephx", "none"], "key-secret": f"{node}-storage-auth-secret0"}
    if auth is not None and protocol in ("nbd", "gluster"):
        raise _unsupported(f"<auth> on a network disk of protocol '{protocol}'")
    return props
