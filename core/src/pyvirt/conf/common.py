"""Small pieces shared by several document types (parse and format helpers; names and UUIDs re-exported)."""

from __future__ import annotations

from lxml import etree

from pyvirt.conf.identity import check_name, new_uuid, normalize_uuid
from pyvirt.conf.xmlmodel import XmlModel, format_model, parse_model
from pyvirt.conf.xmlparse import parse_xml
from pyvirt.conf.xmlwriter import to_string

TYPE_CHECKING = False  # typing and collections.abc only for type checkers: see conf/xmlmodel.py
if TYPE_CHECKING:
    from typing import TypeVar

    M = TypeVar("M", bound=XmlModel)

__all__ = ["check_name", "document_to_string", "new_uuid", "normalize_uuid", "parse_document"]


def parse_document(cls: type[M], xml: str | bytes, url: str) -> M:
    root = parse_xml(xml, cls.TAG, url)
    return parse_model(cls, root)


def document_to_string(model: XmlModel, keep_open: tuple[str, ...] = ()) -> str:
    root = etree.Element(type(model).TAG)
    format_model(model, root)
    return to_string(root, keep_open=keep_open)
