"""Secret XML (``<secret>``)."""

from __future__ import annotations

from pyvirt.conf.common import document_to_string, new_uuid, normalize_uuid, parse_document
from pyvirt.conf.xmlmodel import X, XmlModel
from pyvirt.errors import ErrorCode, XMLError

TYPE_CHECKING = False  # typing only for type checkers: see conf/xmlmodel.py
if TYPE_CHECKING:
    from typing import Annotated

__all__ = ["USAGE_TYPES", "Secret", "format_secret", "parse_secret"]

# virSecretUsageType numbers, with the element that carries each usage id.
USAGE_TYPES = {"none": (0, None), "volume": (1, "volume"), "ceph": (2, "name"), "iscsi": (3, "target"),
               "tls": (4, "name"), "vtpm": (5, "name")}  # fmt: skip


class Secret(XmlModel):
    TAG = "secret"
    ephemeral: Annotated[bool | None, X("@ephemeral")] = None
    private: Annotated[bool | None, X("@private")] = None
    uuid: Annotated[str | None, X("uuid")] = None
    description: Annotated[str | None, X("description")] = None
    usage_type: Annotated[str | None, X("usage/@type")] = None
    usage_volume: Annotated[str | None, X("usage/volume")] = None
    usage_name: Annotated[str | None, X("usage/name")] = None
    usage_target: Annotated[str | None, X("usage/target")] = None

    @property
    def usage_id(self) -> str:
        kind = USAGE_TYPES.get(self.usage_type or "none", (0, None))[1]
        return str(getattr(self, f"usage_{kind}") or "") if kind else ""

    @property
    def usage_number(self) -> int:
        return USAGE_TYPES.get(self.usage_type or "none", (0, None))[0]


def parse_secret(xml: str | bytes) -> Secret:
    sec = parse_document(Secret, xml, "secret_definition")
    sec.uuid = normalize_uuid(sec.uuid) if sec.uuid else new_uuid()
    if sec.ephemeral is None:
        sec.ephemeral = False
    if sec.private is None:
        sec.private = False
    if sec.usage_type is not None:
        if sec.usage_type not in USAGE_TYPES:
            raise XMLError(ErrorCode.XML_ERROR, f"unknown secret usage type {sec.usage_type}")
        kind = USAGE_TYPES[sec.usage_type][1]
        if kind and not getattr(sec, f"usage_{kind}"):
            raise XMLError(ErrorCode.XML_ERROR, f"{sec.usage_type} usage specified, but {kind} is missing")
    return sec


def format_secret(sec: Secret) -> str:
    return document_to_string(sec)
