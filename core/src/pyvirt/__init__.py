"""pyvirt: libvirt, rebuilt in Python as a plugin framework."""

from pyvirt.errors import Error, ErrorCode, ErrorDomain

__all__ = ["Error", "ErrorCode", "ErrorDomain", "__version__"]

__version__ = "0.1.0"
