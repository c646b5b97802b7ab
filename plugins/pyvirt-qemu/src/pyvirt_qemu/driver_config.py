"""``qemu.conf`` as typed settings, with libvirt's names, types and defaults.

Read once when the driver starts (see :func:`pyvirt.local_driver.driver_config.load_driver_config`
for what is refused and how). Only the settings the driver acts on are
fields; the rest of libvirt's keys are listed so that a ``qemu.conf`` copied
from a libvirt host loads, with each unimplemented key logged.
"""

from __future__ import annotations

import os
from typing import ClassVar

from pydantic import Field, StrictStr

from pyvirt.local_driver.driver_config import ConfBool, ConfStrList, SecuritySettings, load_driver_config
from pyvirt_qemu.backup_def import BackupTls
from pyvirt_qemu.chardev_tls import ChardevTls
from pyvirt_qemu.graphics import GraphicsConfig
from pyvirt_qemu.network_disks import NbdTls

__all__ = ["QemuSettings", "load_qemu_settings"]


class QemuSettings(SecuritySettings):
    """The ``qemu.conf`` settings pyvirt-qemu honours (libvirt's defaults)."""

    # Every key libvirt 9.0's qemu.conf accepts (src/qemu/libvirtd_qemu.aug).
    libvirt_keys: ClassVar[frozenset[str]] = frozenset(
        [
            "auto_dump_bypass_cache",
            "auto_dump_path",
            "auto_start_bypass_cache",
            "backup_tls_x509_cert_dir",
            "backup_tls_x509_secret_uuid",
            "backup_tls_x509_verify",
            "bridge_helper",
            "capability_filters",
            "cgroup_controllers",
            "cgroup_device_acl",
            "chardev_tls",
            "chardev_tls_x509_cert_dir",
            "chardev_tls_x509_secret_uuid",
            "chardev_tls_x509_verify",
            "dbus_daemon",
            "default_tls_x509_cert_dir",
            "default_tls_x509_secret_uuid",
            "default_tls_x509_verify",
            "deprecation_behavior",
            "dump_guest_core",
            "dump_image_format",
            "dynamic_ownership",
            "gluster_debug_level",
            "group",
            "hugetlbfs_mount",
            "lock_manager",
            "log_timestamp",
            "mac_filter",
            "max_core",
            "max_files",
            "max_processes",
            "max_queued",
            "max_threads_per_process",
            "memory_backing_dir",
            "migrate_tls_force",
            "migrate_tls_x509_cert_dir",
            "migrate_tls_x509_secret_uuid",
            "migrate_tls_x509_verify",
            "migration_address",
            "migration_host",
            "migration_port_max",
            "migration_port_min",
            "namespaces",
            "nbd_tls",
            "nbd_tls_x509_cert_dir",
            "nbd_tls_x509_secret_uuid",
            "nographics_allow_host_audio",
            "nvram",
            "pr_helper",
            "relaxed_acs_check",
            "remember_owner",
            "remote_display_port_max",
            "remote_display_port_min",
            "remote_websocket_port_max",
            "remote_websocket_port_min",
            "save_image_format",
            "sched_core",
            "seccomp_sandbox",
            "security_default_confined",
            "security_driver",
            "security_require_confined",
            "set_process_name",
            "slirp_helper",
            "snapshot_image_format",
            "spice_auto_unix_socket",
            "spice_listen",
            "spice_password",
            "spice_sasl",
            "spice_sasl_dir",
            "spice_tls",
            "spice_tls_x509_cert_dir",
            "stdio_handler",
            "swtpm_group",
            "swtpm_user",
            "user",
            "virtiofsd_debug",
            "vnc_allow_host_audio",
            "vnc_auto_unix_socket",
            "vnc_listen",
            "vnc_password",
            "vnc_sasl",
            "vnc_sasl_dir",
            "vnc_tls",
            "vnc_tls_x509_cert_dir",
            "vnc_tls_x509_secret_uuid",
            "vnc_tls_x509_verify",
            "vxhs_tls",
            "vxhs_tls_x509_cert_dir",
            "vxhs_tls_x509_secret_uuid",
        ]
    )

    user: StrictStr = "root"
    group: StrictStr = "root"
    dynamic_ownership: ConfBool = True
    hugetlbfs_mount: ConfStrList = ()
    # autostart restores a managed save past the page cache (qemuAutostartDomain's VIR_DOMAIN_START_BYPASS_CACHE)
    auto_start_bypass_cache: ConfBool = False

    default_tls_x509_cert_dir: StrictStr = "/etc/pki/qemu"
    default_tls_x509_verify: ConfBool | None = None
    default_tls_x509_secret_uuid: StrictStr | None = None
    backup_tls_x509_cert_dir: StrictStr | None = None
    backup_tls_x509_verify: ConfBool | None = None
    backup_tls_x509_secret_uuid: StrictStr | None = None
    vnc_listen: StrictStr = "127.0.0.1"
    vnc_auto_unix_socket: ConfBool = False
    vnc_password: StrictStr | None = None
    vnc_tls: ConfBool = False
    vnc_tls_x509_cert_dir: StrictStr | None = None
    vnc_tls_x509_verify: ConfBool | None = None
    vnc_tls_x509_secret_uuid: StrictStr | None = None
    vnc_sasl: ConfBool = False
    vnc_sasl_dir: StrictStr | None = None
    spice_listen: StrictStr = "127.0.0.1"
    spice_auto_unix_socket: ConfBool = False
    spice_tls: ConfBool = False
    spice_tls_x509_cert_dir: StrictStr | None = None
    spice_password: StrictStr | None = None
    spice_sasl: ConfBool = False
    chardev_tls: ConfBool = False
    chardev_tls_x509_cert_dir: StrictStr | None = None
    chardev_tls_x509_verify: ConfBool | None = None
    chardev_tls_x509_secret_uuid: StrictStr | None = None
    nbd_tls: ConfBool = False
    nbd_tls_x509_cert_dir: StrictStr | None = None
    nbd_tls_x509_secret_uuid: StrictStr | None = None
    remote_display_port_min: int = Field(5900, ge=5900, le=65535, strict=True)
    remote_display_port_max: int = Field(65535, ge=5900, le=65535, strict=True)
    remote_websocket_port_min: int = Field(5700, ge=5700, le=65535, strict=True)
    remote_websocket_port_max: int = Field(65535, ge=5700, le=65535, strict=True)
    # the source's keepalive on its connection to a peer-to-peer migration's destination (libvirt's
    # virConnectSetKeepAlive there): -1 sends no pings, a count of 0 closes after one silent interval
    keepalive_interval: int = Field(5, ge=-(2**31), le=2**31 - 1, strict=True)
    keepalive_count: int = Field(5, ge=0, le=2**32 - 1, strict=True)

    def _cert_dir(self, configured: str | None, service: str) -> str:
        """libvirt's choice: the service's own setting, else ``/etc/pki/libvirt-SERVICE`` if it exists, else the default."""
        if configured:
            return configured
        own = f"/etc/pki/libvirt-{service}"
        return own if os.path.exists(own) else self.default_tls_x509_cert_dir

    def _secret_uuid(self, own: str | None, own_dir: str | None) -> str | None:
        """libvirt's SET_TLS_SECRET_UUID_DEFAULT: a service with neither its own directory nor its own secret
        takes ``default_tls_x509_secret_uuid``."""
        return own if own or own_dir else self.default_tls_x509_secret_uuid

    def graphics(self) -> GraphicsConfig:
        """The display settings, with libvirt's fallbacks to the ``default_tls_x509_*`` keys."""
        return GraphicsConfig(
            vnc_listen=self.vnc_listen,
            vnc_auto_unix_socket=self.vnc_auto_unix_socket,
            vnc_password=self.vnc_password,
            vnc_tls=self.vnc_tls,
            vnc_tls_x509_cert_dir=self._cert_dir(self.vnc_tls_x509_cert_dir, "vnc"),
            vnc_tls_x509_verify=_first_set(self.vnc_tls_x509_verify, self.default_tls_x509_verify, False),
            vnc_tls_x509_secret_uuid=self._secret_uuid(self.vnc_tls_x509_secret_uuid, self.vnc_tls_x509_cert_dir),
            vnc_sasl=self.vnc_sasl,
            vnc_sasl_dir=self.vnc_sasl_dir,
            spice_listen=self.spice_listen,
            spice_auto_unix_socket=self.spice_auto_unix_socket,
            spice_tls=self.spice_tls,
            spice_tls_x509_cert_dir=self._cert_dir(self.spice_tls_x509_cert_dir, "spice"),
            spice_password=self.spice_password,
            spice_sasl=self.spice_sasl,
            port_min=self.remote_display_port_min,
            port_max=self.remote_display_port_max,
            websocket_min=self.remote_websocket_port_min,
            websocket_max=self.remote_websocket_port_max,
        )

    def chardev_tls_config(self) -> ChardevTls:
        """TLS for TCP character devices, with libvirt's fallbacks: ``/etc/pki/libvirt-chardev`` or the default
        directory, and peer verification on unless a key says otherwise (SET_TLS_VERIFY_DEFAULT(chardev, true))."""
        return ChardevTls(
            enabled=self.chardev_tls,
            cert_dir=self._cert_dir(self.chardev_tls_x509_cert_dir, "chardev"),
            verify=_first_set(self.chardev_tls_x509_verify, self.default_tls_x509_verify, True),
            secret_uuid=self._secret_uuid(self.chardev_tls_x509_secret_uuid, self.chardev_tls_x509_cert_dir),
        )

    def nbd_tls_config(self) -> NbdTls:
        """TLS for NBD disks, with libvirt's fallbacks: ``/etc/pki/libvirt-nbd`` or the default directory, and
        the default secret when neither the directory nor the secret is NBD's own (a client always verifies)."""
        return NbdTls(
            enabled=self.nbd_tls,
            cert_dir=self._cert_dir(self.nbd_tls_x509_cert_dir, "nbd"),
            secret_uuid=self._secret_uuid(self.nbd_tls_x509_secret_uuid, self.nbd_tls_x509_cert_dir),
        )

    def backup_tls_config(self) -> BackupTls:
        """TLS for a pull backup's NBD server, with libvirt's fallbacks: ``/etc/pki/libvirt-backup`` or the default
        directory, peer verification on unless a key says otherwise (SET_TLS_VERIFY_DEFAULT(backup, true))."""
        return BackupTls(
            cert_dir=self._cert_dir(self.backup_tls_x509_cert_dir, "backup"),
            verify=_first_set(self.backup_tls_x509_verify, self.default_tls_x509_verify, True),
            secret_uuid=self._secret_uuid(self.backup_tls_x509_secret_uuid, self.backup_tls_x509_cert_dir),
        )


def _first_set(*values: bool | None) -> bool:
    return next(v for v in values if v is not None)


def load_qemu_settings(path: str) -> QemuSettings:
    """``qemu.conf`` at ``path`` (missing: libvirt's defaults)."""
    return load_driver_config(path, QemuSettings)
