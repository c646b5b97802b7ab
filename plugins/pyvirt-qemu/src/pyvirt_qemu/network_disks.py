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
as libvirt names them. An NBD export runs over TLS when its source says
``tls='yes'`` (or qemu.conf's ``nbd_tls`` does, the source saying nothing):
QEMU reads the client certificates of ``nbd_tls_x509_cert_dir`` through a
``tls-creds-x509`` object ``objlibvirt-N-storage_tls0``, always checking the
server's, the key unlocked by ``nbd_tls_x509_secret_uuid`` when set.
"""

from __future__ import annotations

import contextlib
import grp
import pwd
from dataclasses import dataclass
from typing import Any

from pyvirt.conf.domain_devices import BackingStore, Disk, DiskHost, StorageAuth
from pyvirt.errors import ErrorCode, InvalidArgumentError, NotSupportedError, XMLError
from pyvirt_qemu.qemu_secrets import GuestSecrets

__all__ = [
    "DEFAULT_PORTS",
    "NbdTls",
    "iscsi_props",
    "nbd_tls_objects",
    "network_secret_objects",
    "network_storage_props",
]

DEFAULT_PORTS = {"nbd": 10809, "iscsi": 3260, "http": 80, "https": 443, "ftp": 21, "ftps": 990, "gluster": 24007,
                 "rbd": 6789}  # fmt: skip


@dataclass(frozen=True)
class NbdTls:
    """qemu.conf's NBD TLS settings (libvirt's fallbacks to the ``default_tls_x509_*`` keys applied)."""

    enabled: bool = False  # nbd_tls: for a source that does not say
    cert_dir: str = "/etc/pki/qemu"
    secret_uuid: str | None = None  # the client key's passphrase, a libvirt secret of usage 'tls'


def _tls_wanted(layer: Disk | BackingStore, cfg: NbdTls | None) -> bool:
    """qemuProcessPrepareStorageSourceTLSNBD: the source's ``tls``, else qemu.conf's ``nbd_tls``."""
    if isinstance(layer, BackingStore) or layer.type != "network" or layer.source_protocol != "nbd":
        return False
    return bool(layer.source_tls) if layer.source_tls is not None else (cfg is not None and cfg.enabled)


def nbd_tls_objects(layer: Disk | BackingStore, node: str, cfg: NbdTls | None, secrets: GuestSecrets | None,
                    ) -> list[dict[str, Any]]:  # fmt: skip
    """The objects of an NBD image's TLS (its key's ``secret``, then the ``tls-creds-x509``), in
    qemuBuildBlockStorageSourceAttachDataCommandline's order; none when the export runs in clear."""
    if not _tls_wanted(layer, cfg):
        return []
    cfg = cfg or NbdTls()
    alias = f"obj{node}-storage_tls0"  # qemuAliasTLSObjFromSrcAlias of the storage node
    out: list[dict[str, Any]] = []
    password: dict[str, str] = {}
    if cfg.secret_uuid:
        if secrets is None:
            raise _unsupported("nbd_tls_x509_secret_uuid without the guest's master key")
        secret = secrets.secret_object(f"{alias}-secret0", secrets.value("tls", cfg.secret_uuid, None,
                                                                         "nbd_tls_x509_secret_uuid"))  # fmt: skip
        out.append(secret)
        password = {"passwordid": str(secret["id"])}
    # a client checks the server's certificate whatever qemu.conf says (qemuBuildTLSx509BackendProps)
    props = {"qom-type": "tls-creds-x509", "id": alias, "dir": cfg.cert_dir, "endpoint": "client",
             "verify-peer": True} | password  # fmt: skip
    return [*out, props]


def _nfs_id(text: str, kind: str) -> int:
    """virGetUserID / virGetGroupID: ``+N`` is the number N, else a name of the host's user or group database
    (a name it lacks may still be a number)."""
    if text.startswith("+"):
        text = text[1:]
    else:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(text).pw_uid if kind == "user" else grp.getgrnam(text).gr_gid
    if not text.isdigit() or int(text) >= 2**32:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"Failed to parse {kind} '{text}'")
    return int(text)


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


def iscsi_props(host: DiskHost, name: str, auth: StorageAuth | None, secret_id: str, initiator: str | None,
                ) -> dict[str, Any]:  # fmt: skip
    """QEMU's ``iscsi`` block driver options for ``name='IQN/LUN'`` on one portal (qemuBlockStorageSourceGetISCSIProps):
    a disk's storage node and a SCSI host device's backend alike; ``secret_id`` names the user's password."""
    target, _, lun = name.rpartition("/") if "/" in name else (name, "", "0")
    props: dict[str, Any] = {"driver": "iscsi", "portal": f"{host.name}:{_port(host, 'iscsi')}", "target": target,
                             "lun": int(lun or "0"), "transport": "tcp"}  # fmt: skip
    if auth is not None:
        props |= {"user": auth.username or "", "password-secret": secret_id}
    if initiator:
        props["initiator-name"] = initiator
    return props


def network_secret_objects(layer: Disk | BackingStore, node: str, secrets: GuestSecrets | None) -> list[dict[str, Any]]:
    """The ``secret`` objects a network image's storage node names, in libvirt's order (auth, then cookies).

    ``node`` is the image's ``libvirt-N``. The user's secret is of usage ``ceph`` for RBD and ``iscsi`` for every
    other protocol, as qemuDomainSecretStorageSourcePrepareAuth looks it up; the cookies are the XML's own
    ``name=value`` pairs joined by ``; `` (qemuBlockStorageSourceGetCookieString).
    """
    if isinstance(layer, BackingStore) or layer.type not in ("network", "volume") or not layer.source_protocol:
        return []  # (a volume disk: as volume_disks translated it)
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
                          nbd_tls: NbdTls | None = None) -> dict[str, Any]:  # fmt: skip
    """The storage node's properties before ``node-name`` (libvirt's order).

    ``node``: the image's ``libvirt-N``, which names its secrets (see ``network_secret_objects``);
    ``librbd_encrypt``: the ``encrypt`` member of an image librbd decrypts; ``nbd_tls``: qemu.conf's NBD TLS
    settings (see ``nbd_tls_objects``).
    """
    protocol = layer.source_protocol or ""
    hosts = layer.source_hosts or []
    name = layer.source_name or ""
    if protocol in ("iscsi", "http", "https", "ftp", "ftps", "nbd", "nfs") and len(hosts) != 1:
        raise XMLError(ErrorCode.XML_ERROR, f"protocol '{protocol}' accepts only one host")
    if protocol == "nfs":  # qemuBlockStorageSourceGetNFSProps, the ids as qemuDomainPrepareStorageSourceNFS reads them
        props: dict[str, Any] = {"driver": "nfs", "server": {"host": hosts[0].name or "", "type": "inet"},
                                 "path": name}  # fmt: skip
        if layer.source_identity_user:
            props["user"] = _nfs_id(layer.source_identity_user, "user")
        if layer.source_identity_group:
            props["group"] = _nfs_id(layer.source_identity_group, "group")
        return props
    if protocol not in DEFAULT_PORTS:
        raise _unsupported(f"network disk protocol '{protocol}'")
    if isinstance(layer, BackingStore):
        raise _unsupported("a network image in a backing chain")
    auth = _auth(layer)
    user = {"user": auth.username or ""} if auth is not None else {}
    if protocol == "nbd":
        props = {"driver": "nbd", "server": _server(hosts[0], protocol)}
        if name:
            props["export"] = name
        if _tls_wanted(layer, nbd_tls):
            props["tls-creds"] = f"obj{node}-storage_tls0"
            if isinstance(layer, Disk) and layer.source_tls_hostname:
                props["tls-hostname"] = layer.source_tls_hostname
    elif protocol == "iscsi":
        props = iscsi_props(hosts[0], name, auth, f"{node}-storage-auth-secret0", layer.source_initiator_iqn)
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
