"""libvirt's answer for an API no pyvirt driver hook carries.

virsh calls some APIs (virStorageVolGetInfoFlags, virDomainSetMemoryFlags,
...) that pyvirt's API table has no hook for yet. No driver here can answer
them, so the command fails exactly as virsh fails on a libvirt connection
driver without that entry point: error code NO_SUPPORT, "this function is
not supported by the connection driver: virXxx". When a hook is added to
``pyvirt.plugin.api``, the command calls it instead.
"""

from __future__ import annotations

from pyvirt.errors import ErrorCode, NotSupportedError

__all__ = ["not_supported"]


def not_supported(api: str) -> NotSupportedError:
    """The error libvirt's public API raises when the connection driver has no ``api`` entry point."""
    return NotSupportedError(ErrorCode.NO_SUPPORT, api)
