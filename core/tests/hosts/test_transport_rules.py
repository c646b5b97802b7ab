"""libvirt's rules for transports, certificates and listening, checked without any network.

Which transport a URI means, how a client DN is written and matched, which
certificate files a server and a client use, and what pyvirtd.conf accepts
for listening: each is libvirt's behaviour, and a user who gets it wrong
sees libvirt's message.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import pytest
from hosts_pki import TestCA

from pyvirt.daemon.config import load_daemon_config
from pyvirt.daemon.sockets import open_inet_listeners
from pyvirt.errors import Error, ErrorCode
from pyvirt.remote.tls import client_pki_files, dn_allowed, peer_dn, server_pki_files
from pyvirt.remote.transport import transport_of
from pyvirt.uri import parse_uri


@pytest.mark.parametrize(
    ("uri", "transport"),
    [
        ("qemu:///system", "unix"),
        ("qemu://host.example/system", "tls"),
        ("qemu+ssh://root@host/system", "ssh"),
        ("test+tcp://10.0.0.1:1234/default", "tcp"),
        ("test+unix:///default?socket=/x", "unix"),
    ],
)
def test_transport_of_a_uri_is_libvirts(uri: str, transport: str) -> None:
    assert transport_of(parse_uri(uri)) == transport


def test_unknown_transport_is_libvirts_error() -> None:
    with pytest.raises(Error) as exc:
        transport_of(parse_uri("test+pigeon://host/default"))
    assert exc.value.code == ErrorCode.INVALID_ARG
    assert exc.value.message == (
        "remote_open: transport in URL not recognised (should be tls|unix|ssh|ext|tcp|libssh2|libssh)"
    )


def test_peer_dn_is_written_as_gnutls_writes_it(tmp_path: Path) -> None:
    ca = TestCA(tmp_path / "ca")
    pki = ca.client(tmp_path / "pki", "client-1")
    decoded = ssl._ssl._test_decode_cert(str(pki / "clientcert.pem"))  # type: ignore[attr-defined]
    assert peer_dn(decoded) == "C=GB,O=pyvirt tests,CN=client-1"
    assert dn_allowed("C=GB,O=pyvirt tests,CN=client-1", ["C=GB,O=pyvirt tests,CN=client*"])
    assert dn_allowed("C=GB,O=x,CN=a", ["nomatch", "C=GB,O=?,CN=*"])
    assert not dn_allowed("C=GB,O=pyvirt tests,CN=intruder", ["C=GB,O=pyvirt tests,CN=client*"])
    assert not dn_allowed("C=GB,O=[x],CN=a", ["C=GB,O=[x],CN=b"])  # brackets are literal, as in GLib's globs
    assert dn_allowed("C=GB,O=[x],CN=a", ["C=GB,O=[x],CN=a"])


def test_server_certificate_files() -> None:
    default = server_pki_files(None, None, None, None, None)
    assert (default.ca_file, default.cert_file, default.key_file) == (
        "/etc/pki/CA/cacert.pem", "/etc/pki/libvirt/servercert.pem", "/etc/pki/libvirt/private/serverkey.pem",
    )  # fmt: skip
    rooted = server_pki_files("/srv/h1", None, None, None, None)
    assert rooted.cert_file == "/srv/h1/etc/pki/libvirt/servercert.pem"
    with pytest.raises(Error, match="No CA certificate path set to match server key/cert") as exc:
        server_pki_files(None, None, "/c.pem", "/k.pem", None)
    assert exc.value.code == ErrorCode.CONFIG_UNSUPPORTED
    with pytest.raises(Error, match="No server key path set to match server cert"):
        server_pki_files(None, "/ca.pem", "/c.pem", None, None)


def test_client_certificate_files(tmp_path: Path) -> None:
    assert client_pki_files(str(tmp_path)) == (
        f"{tmp_path}/cacert.pem", f"{tmp_path}/clientcert.pem", f"{tmp_path}/clientkey.pem",
    )  # fmt: skip
    if os.geteuid() == 0:  # root never looks in ~/.pki
        assert client_pki_files(None) == (
            "/etc/pki/CA/cacert.pem", "/etc/pki/libvirt/clientcert.pem", "/etc/pki/libvirt/private/clientkey.pem",
        )  # fmt: skip


def test_listen_settings(tmp_path: Path) -> None:
    conf = tmp_path / "pyvirtd.conf"
    conf.write_text('listen_tcp = 1\ntcp_port = 16600\nauth_tcp = "none"\nlisten_addr = "127.0.0.1"\nlisten_tls = 0\n')
    cfg = load_daemon_config(str(conf))
    assert (cfg.listen_tcp, cfg.listen_tls, cfg.tcp_port, cfg.tls_port) == (True, False, "16600", "16514")
    conf.write_text('auth_tls = "sasl"\n')
    with pytest.raises(Error, match="auth_tls"):
        load_daemon_config(str(conf))
    # the default auth_tcp is SASL, which pyvirtd does not have: TCP is refused, nothing is left listening
    conf.write_text("listen_tcp = 1\nlisten_tls = 0\n")
    with pytest.raises(Error, match="auth_tcp: unsupported auth sasl") as exc:
        open_inet_listeners(load_daemon_config(str(conf)), str(tmp_path), str(conf))
    assert exc.value.code == ErrorCode.CONFIG_UNSUPPORTED
    # TLS without certificates: libvirt's message naming the missing file
    conf.write_text("")
    with pytest.raises(Error, match=f"Cannot read CA certificate '{tmp_path}/etc/pki/CA/cacert.pem'"):
        open_inet_listeners(load_daemon_config(str(conf)), str(tmp_path), str(conf))
