"""virDomainSetMetadata's argument checks, answered as libvirt 9.0 answers them, wherever the call comes from.

libvirt makes these checks in its public entry point, so every driver, the
client library and libvirtd's dispatch (which calls the public API again)
refuse a NULL namespace with INVALID_ARG before any driver sees it. pyvirt's
test driver met ``uri=None`` as a raw lxml error. Debian's virsh cannot send
these calls (its ``metadata`` requires ``--uri``, and ``--key`` to set), so the
reference is libvirtd 9.0 reached through pyvirt's client: once through the
public ``Domain.set_metadata`` (checked client-side, as libvirt's client
library does) and once as the bare RPC call, which only the daemon checks.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

import pyvirt
from pyvirt.daemon.instance import PrivateDaemon
from pyvirt.errors import ErrorCode, ErrorDomain

DESCRIPTION, TITLE, ELEMENT = 0, 1, 2  # virDomainMetadataType
NS = "http://pyvirt.org/args"

# (type, metadata, key, uri) -> libvirt 9.0's message (all INVALID_ARG, from the domain API, no prefix)
REFUSED = [
    ((ELEMENT, "<a/>", "k", None), "uri in virDomainSetMetadata must not be NULL"),
    ((ELEMENT, None, None, None), "uri in virDomainSetMetadata must not be NULL"),
    ((ELEMENT, "<a/>", None, NS), "key in virDomainSetMetadata must not be NULL"),
    ((TITLE, "a\nb", None, None), "metadata title can't contain newlines"),
    ((DESCRIPTION, "d", None, NS), "uri in virDomainSetMetadata must be NULL"),
    ((DESCRIPTION, "d", "k", None), "key in virDomainSetMetadata must be NULL"),
    ((TITLE, "t", "k", NS), "uri in virDomainSetMetadata must be NULL"),
]


def _refusal(call: Any, args: tuple[Any, ...]) -> tuple[int, int, str]:
    with pytest.raises(pyvirt.Error) as caught:
        call(*args)
    return caught.value.code, caught.value.domain, caught.value.message


@pytest.mark.parametrize(("args", "message"), REFUSED)
def test_the_test_driver_refuses_as_libvirt(args: tuple[Any, ...], message: str) -> None:
    with pyvirt.open("test:///default") as conn:
        dom = conn.lookup_domain_by_name("test")
        assert _refusal(dom.set_metadata, args) == (ErrorCode.INVALID_ARG, ErrorDomain.DOMAIN, message)
        # What may pass still passes: removing a namespace's element needs no key, a description no namespace.
        dom.set_metadata(ELEMENT, None, None, NS)
        dom.set_metadata(DESCRIPTION, "a\nmulti-line description")
        assert dom.metadata(DESCRIPTION) == "a\nmulti-line description"


def test_a_read_only_connection_is_refused_before_the_arguments() -> None:
    with pyvirt.open_readonly("test:///default") as conn:
        code, _, message = _refusal(conn.lookup_domain_by_name("test").set_metadata, (ELEMENT, "<a/>", "k", None))
    assert (code, message) == (
        ErrorCode.OPERATION_DENIED,
        "operation forbidden: read only access prevents virDomainSetMetadata",
    )


def _bare_set_metadata(conn: pyvirt.Connection, dom: pyvirt.Domain) -> Any:
    def call(type: int, metadata: str | None, key: str | None, uri: str | None) -> None:
        conn.calls._call("domain_set_metadata", dom=dom._ref, type=type, metadata=metadata, key=key, uri=uri, flags=0)

    return call


@pytest.fixture(scope="module")
def pyvirtd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateDaemon]:
    with PrivateDaemon(tmp_path_factory.mktemp("pyvirtd")) as daemon:
        yield daemon


@pytest.mark.skipif(not shutil.which("virsh"), reason="Debian's libvirt 9.0 is the reference")
def test_pyvirtd_refuses_as_libvirtd(libvirtd: Any, pyvirtd: PrivateDaemon) -> None:
    answers: dict[str, list[tuple[int, int, str]]] = {}
    for name, uri in (("libvirtd", libvirtd.uri()), ("pyvirtd", pyvirtd.uri())):
        with pyvirt.open(uri) as conn:
            dom = conn.lookup_domain_by_name("test")
            client_side = [_refusal(dom.set_metadata, args) for args, _ in REFUSED]
            # The bare procedure, past the client's typed call and its checks: only the daemon answers.
            raw = [_refusal(_bare_set_metadata(conn, dom), args) for args, _ in REFUSED]
            answers[f"{name} via the public API"] = client_side
            answers[f"{name}, bare RPC"] = raw
    expected = [(ErrorCode.INVALID_ARG, ErrorDomain.DOMAIN, message) for _, message in REFUSED]
    for name, got in answers.items():
        assert got == expected, name
