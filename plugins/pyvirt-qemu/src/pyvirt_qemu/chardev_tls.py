"""TLS on TCP character devices (qemu.conf's ``chardev_tls``): a ``tls-creds-x509`` object per chardev.

libvirt wraps a serial port, channel or console on a TCP socket in TLS when qemu.conf says ``chardev_tls = 1``
and the source does not say ``tls='no'`` (a source saying ``tls='yes'`` gets it whatever qemu.conf says). QEMU
then reads the certificates from ``chardev_tls_x509_cert_dir``: the client's when the guest connects out, the
server's when it listens, and checks the peer's certificate when ``chardev_tls_x509_verify`` is set. A
``chardev_tls_x509_secret_uuid`` names the secret (usage ``tls``) unlocking the private key: QEMU gets it as a
``secret`` object encrypted with the guest's master key, named by the credentials' ``passwordid``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pyvirt.conf.domain_devices import ChardevSource
from pyvirt.errors import ErrorCode, NotSupportedError
from pyvirt_qemu.qemu_secrets import GuestSecrets

__all__ = ["ChardevTls", "tls_object"]


@dataclass(frozen=True)
class ChardevTls:
    """qemu.conf's chardev TLS settings (libvirt's fallbacks to the ``default_tls_x509_*`` keys applied)."""

    enabled: bool = False
    cert_dir: str = "/etc/pki/libvirt-chardev"
    verify: bool = True
    secret_uuid: str | None = None  # the private key's passphrase, a libvirt secret


def tls_object(cfg: ChardevTls | None, src: ChardevSource, chardev_id: str, secrets: GuestSecrets | None = None,
               ) -> tuple[list[str], str] | None:  # fmt: skip
    """The ``-object`` arguments and the ``tls-creds`` id for a TCP chardev, or None when it runs in clear."""
    wanted = src.tls if src.tls is not None else (cfg is not None and cfg.enabled)
    if not wanted:
        return None
    cfg = cfg or ChardevTls()
    out: list[str] = []
    password: dict[str, str] = {}
    if cfg.secret_uuid:  # the key's passphrase, from the secret driver (qemuDomainSecretChardevPrepare)
        if secrets is None:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "chardev_tls_x509_secret_uuid without the guest's "
                                    "master key is not supported by the QEMU driver yet")  # fmt: skip
        value = secrets.value("tls", cfg.secret_uuid, None, "chardev_tls_x509_secret_uuid")
        secret = secrets.secret_object(f"{chardev_id}-secret0", value)
        out += ["-object", json.dumps(secret, separators=(",", ":"))]
        password = {"passwordid": str(secret["id"])}
    alias = f"obj{chardev_id}_tls0"  # qemuAliasTLSObjFromSrcAlias
    props = {"qom-type": "tls-creds-x509", "id": alias, "dir": cfg.cert_dir,
             "endpoint": "server" if src.mode == "bind" else "client", "verify-peer": cfg.verify} | password  # fmt: skip
    return [*out, "-object", json.dumps(props, separators=(",", ":"))], alias
