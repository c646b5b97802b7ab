"""Small pieces shared by several document types (parse helpers, names, UUIDs)."""

import uuid as uuidmod
from typing import TypeVar

from lxml import etree

from pyvirt.conf.xmlmodel import XmlModel, format_model, parse_model
from pyvirt.conf.xmlparse import parse_xml
from pyvirt.conf.xmlwriter import to_string
from pyvirt.errors import ErrorCode, XMLError

__all__ = ["check_name", "document_to_string", "new_uuid", "normalize_uuid", "parse_document"]

M = TypeVar("M", bound=XmlModel)


def normalize_uuid(text: str) -> str:
    """libvirt accepts UUIDs with or without dashes (and with spaces): canonical lower-case text."""
    compact = text.replace("-", "").replace(" ", "")
    try:
        return str(uuidmod.UUID(hex=compact))
    except ValueError:
        raise XMLError(ErrorCode.XML_ERROR, f"malformed uuid element: {text}") from None


def new_uuid() -> str:
    return str(uuidmod.uuid4())


def check_name(name: str | None, what: str = "name") -> str:
    if not name:
        raise XMLError(ErrorCode.NO_NAME, None)
    if "/" in name:
        raise XMLError(ErrorCode.XML_ERROR, f"{what} {name} cannot contain '/'")
    return name


def parse_document(cls: type[M], xml: str | bytes, url: str) -> M:
    root = parse_xml(xml, cls.TAG, url)
    return parse_model(cls, root)


def document_to_string(model: XmlModel, keep_open: tuple[str, ...] = ()) -> str:
    root = etree.Element(type(model).TAG)
    format_model(model, root)
    return to_string(root, keep_open=keep_open)
