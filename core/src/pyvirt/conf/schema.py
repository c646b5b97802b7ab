"""Validation against libvirt's own RelaxNG schemas (Debian's ``libvirt0`` ships them).

Used by ``define --validate`` and by the test suite, which checks that every
document pyvirt emits is valid libvirt XML.
"""

from __future__ import annotations

import functools
import os

from lxml import etree

from pyvirt.conf.xmlparse import parse_xml
from pyvirt.errors import ErrorCode, NotSupportedError, XMLError

__all__ = ["SCHEMA_DIR", "SCHEMA_FILES", "validate"]

SCHEMA_DIR = os.environ.get("PYVIRT_SCHEMA_DIR", "/usr/share/libvirt/schemas")
SCHEMA_FILES = {
    "domain": "domain.rng",
    "network": "network.rng",
    "pool": "storagepool.rng",
    "volume": "storagevol.rng",
    "capabilities": "capability.rng",
    "domaincapabilities": "domaincaps.rng",
    "domainsnapshot": "domainsnapshot.rng",
    "secret": "secret.rng",
    "device": "nodedev.rng",
    "interface": "interface.rng",
    "networkport": "networkport.rng",
    "domainbackup": "domainbackup.rng",
}


@functools.cache
def _schema(kind: str) -> etree.RelaxNG:
    path = os.path.join(SCHEMA_DIR, SCHEMA_FILES[kind])
    if not os.path.exists(path):
        raise NotSupportedError(
            ErrorCode.OPERATION_UNSUPPORTED,
            f"libvirt's RNG schema {path} is missing (install Debian's libvirt0 package)",
        )
    return etree.RelaxNG(etree.parse(path))


def validate(xml: str | bytes, kind: str) -> None:
    """Raise XML_INVALID_SCHEMA with the schema's complaint if ``xml`` is not valid."""
    root_tag = {"domaincapabilities": "domainCapabilities"}.get(kind, kind)
    doc = parse_xml(xml, root_tag, f"{kind}_definition")
    schema = _schema(kind)
    if not schema.validate(doc):
        path = os.path.join(SCHEMA_DIR, SCHEMA_FILES[kind])
        # libvirt appends every message libxml2 gave, each ending with its newline (virXMLValidateAgainstSchema)
        detail = f"Unable to validate doc against {path}\n" + "".join(f"{e.message}\n" for e in schema.error_log)
        raise XMLError(ErrorCode.XML_INVALID_SCHEMA, detail)
