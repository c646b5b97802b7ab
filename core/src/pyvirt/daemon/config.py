"""``pyvirtd.conf``: libvirtd.conf's keys, read with libvirt's syntax, validated by pydantic.

Why pydantic here and not in the XML models: this file is read once per daemon
start, so its import cost does not matter, and it gives each bad value a
clear message naming the key. Keys libvirtd knows but pyvirtd does not
implement (SASL, admin sockets, audit settings) are reported once in the
log and otherwise ignored, as libvirtd ignores keys it does not look up, so
that a ``libvirtd.conf`` copied from a libvirt host still starts the daemon.
"""

from __future__ import annotations

import logging
import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pyvirt.errors import Error, ErrorCode, ErrorDomain
from pyvirt.util.virconf import ConfValue, read_conf

__all__ = ["DaemonConfig", "load_daemon_config"]

log = logging.getLogger("pyvirt.daemon.config")


def _octal(value: object) -> int:
    """libvirt writes permissions as quoted octal strings ("0770")."""
    text = str(value)
    try:
        perms = int(text, 8)
    except ValueError:
        raise ValueError(f"'{text}' is not an octal permission") from None
    if not 0 <= perms <= 0o777:
        raise ValueError(f"'{text}' is out of range")
    return perms


def _port(value: object) -> str:
    return str(value)


class DaemonConfig(BaseModel):
    """The settings pyvirtd honours, with libvirtd's defaults."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    unix_sock_group: str | None = None
    unix_sock_ro_perms: int = 0o777
    unix_sock_rw_perms: int = 0o700
    unix_sock_dir: str | None = None
    auth_unix_ro: Literal["none"] = "none"
    auth_unix_rw: Literal["none"] = "none"
    max_clients: int = Field(5000, ge=1)
    max_anonymous_clients: int = Field(20, ge=1)
    min_workers: int = Field(5, ge=1)
    max_workers: int = Field(20, ge=1)
    prio_workers: int = Field(5, ge=0)
    max_client_requests: int = Field(5, ge=1)
    keepalive_interval: int = 5
    keepalive_count: int = Field(5, ge=0)
    keepalive_required: bool = False
    log_level: int = Field(3, ge=1, le=4)
    log_filters: str = ""
    log_outputs: str = ""
    # Network listening (pyvirtd --listen, libvirtd's -l): TLS by default, TCP only when asked.
    listen_tls: bool = True
    listen_tcp: bool = False
    tls_port: str = "16514"
    tcp_port: str = "16509"
    listen_addr: str | None = None
    # libvirtd's default for TCP is SASL; pyvirtd has no SASL, so TCP stays refused until "none" is chosen.
    auth_tcp: Literal["none", "sasl"] = "sasl"
    auth_tls: Literal["none"] = "none"
    key_file: str | None = None
    cert_file: str | None = None
    ca_file: str | None = None
    crl_file: str | None = None
    tls_no_verify_certificate: bool = False
    tls_no_sanity_certificate: bool = False
    tls_allowed_dn_list: list[str] | None = None

    _perm_validator = field_validator("unix_sock_ro_perms", "unix_sock_rw_perms", mode="before")(_octal)
    # libvirt reads ports as strings (a service name would do too); a bare number is accepted the same way
    _port_validator = field_validator("tls_port", "tcp_port", mode="before")(_port)


_KNOWN_BUT_NOT_IMPLEMENTED = frozenset(
    {
        "mdns_adv", "mdns_name", "access_drivers", "tls_priority",
        "sasl_allowed_username_list", "max_queued_clients", "audit_level", "audit_logging", "host_uuid",
        "host_uuid_source", "ovs_timeout", "unix_sock_admin_perms", "admin_min_workers",
        "admin_max_workers", "admin_max_clients", "admin_max_queued_clients", "admin_max_client_requests",
        "admin_keepalive_interval", "admin_keepalive_count", "admin_keepalive_required", "log_buffer_size",
    }
)  # fmt: skip


def load_daemon_config(path: str | None) -> DaemonConfig:
    """The configuration at ``path`` (None or a missing file: libvirtd's defaults)."""
    raw: dict[str, ConfValue] = read_conf(path) if path else {}
    known = set(DaemonConfig.model_fields)
    for key in sorted(raw):
        if key in _KNOWN_BUT_NOT_IMPLEMENTED:
            log.warning("%s: '%s' is a libvirtd setting pyvirtd does not implement; ignored", path, key)
        elif key not in known:
            log.warning("%s: unknown setting '%s' ignored", path, key)
    try:
        return DaemonConfig.model_validate({k: v for k, v in raw.items() if k in known})
    except ValidationError as e:
        first = e.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise Error(ErrorCode.CONF_SYNTAX, f"{path}: {key}: {first['msg']}", domain=ErrorDomain.CONF) from None


def default_config_path(root: str | None, system: bool) -> str:
    """``/etc/pyvirt/pyvirtd.conf``, ``$XDG_CONFIG_HOME/pyvirt/pyvirtd.conf`` or under ``--root``."""
    if root is not None:
        return os.path.join(root, "etc", "pyvirt", "pyvirtd.conf")
    if system:
        return "/etc/pyvirt/pyvirtd.conf"
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "pyvirt", "pyvirtd.conf")
