"""TLS on TCP character devices (qemu.conf's ``chardev_tls``): a ``tls-creds-x509`` object per chardev.

libvirt wraps a serial port, channel or console on a TCP socket in TLS when qemu.conf says ``chardev_tls = 1``
and the source does not say ``tls='no'`` (a source saying ``tls='yes'`` gets it whatever qemu.conf says). QEMU
then reads the certificates from ``chardev_tls_x509_cert_dir``: the client's when the guest connects out, the
server's when it listens, and checks the peer's certificate when ``chardev_tls_x509_verify`` is set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pyvirt.conf.domain_devices import ChardevSource
from pyvirt.errors import ErrorCode, NotSupportedError

__all__ = ["ChardevTls", "tls_object"]


@dataclass(frozen=True)
class ChardevTls:
    """qemu.conf's chardev TLS settings (libvirt's fallbacks to the ``default_tls_x509_*`` keys applied)."""

    enabled: bool = False
    cert_dir: str = "/etc/pki/libvirt-chardev"
    verify: bool = True
    secret_uuid: str | None = None  # the private key's passphrase, a libvirt secret


def tls_object(cfg: ChardevTls | None, src: ChardevSource, chardev_id: str) -> tuple[list[str], str] | None:
    """The ``-object`` arguments and the ``tls-creds`` id for a TCP chardev, or None when it runs in clear."""
    wanted = src.tls if src.tls is not None else (cfg is not None and cfg.enabled)
    if not wanted:
        return None
    cfg = cfg or ChardevTls()
    if cfg.secret_uuid:
        # QEMU gets the passphrase encrypted with the guest's master key, from the secret driver
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                "chardev_tls_x509_secret_uuid is not supported by the QEMU driver yet")  # fmt: skip
    alias = f"obj{chardev_id}_tls0"  # qemuAliasTLSObjFromSrcAlias
    props = {"qom-type": "tls-creds-x509", "id": alias, "dir": cfg.cert_dir,
             "endpoint": "server" if src.mode == "bind" else "client", "verify-peer": cfg.verify}  # fmt: skip
    return ["-object", json.dumps(props, separators=(",", ":"))], alias
