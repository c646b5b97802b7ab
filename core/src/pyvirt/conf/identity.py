"""Names and UUIDs of libvirt objects: the checks every document type shares.

Kept apart from :mod:`pyvirt.conf.common` (which needs lxml and the model
machinery) because the public API and the test driver's start-up need only
these, and a short ``pyvirsh`` run should not pay for importing lxml.
"""

from pyvirt.errors import ErrorCode, ErrorDomain, XMLError

__all__ = ["check_name", "new_uuid", "normalize_uuid"]

_HEX = frozenset("0123456789abcdef")


def normalize_uuid(text: str) -> str:
    """libvirt accepts UUIDs with or without dashes (and with spaces): canonical lower-case text."""
    # Not uuid.UUID: importing the uuid module loads platform, a few ms on every pyvirsh start.
    compact = text.replace("-", "").replace(" ", "").lower()
    if len(compact) != 32 or not all(c in _HEX for c in compact):
        raise XMLError(ErrorCode.XML_ERROR, f"malformed uuid element: {text}")
    return f"{compact[:8]}-{compact[8:12]}-{compact[12:16]}-{compact[16:20]}-{compact[20:]}"


def new_uuid() -> str:
    import uuid

    return str(uuid.uuid4())


def check_name(name: str | None, what: str = "name") -> str:
    """A name a driver can store as a file name, refused as libvirt refuses it.

    Domains and pools: "name X cannot contain '/'" (XML_ERROR, from
    domain_postparse.c and storage_conf.c); networks: the illegal-character
    check ("invalid char in name: /", XML_DETAIL, network_conf.c).
    """
    if not name:
        raise XMLError(ErrorCode.NO_NAME, None)
    if "/" in name:
        if what == "network name":
            raise XMLError(ErrorCode.XML_DETAIL, "invalid char in name: /", domain=ErrorDomain.XML, verbatim=True)
        raise XMLError(ErrorCode.XML_ERROR, f"name {name} cannot contain '/'")
    return name
