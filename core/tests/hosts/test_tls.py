"""``pyvirtd --listen`` over TLS and TCP, reached by pyvirt's client and by Debian's virsh from another host.

Host ``a`` serves with a good certificate and a ``tls_allowed_dn_list``;
host ``b`` is reconfigured by each bad-input test (expired certificate,
certificate for another name, no daemon at all). Every refusal must be
libvirt's error and leave no connection open on the server.
"""

from __future__ import annotations

import importlib.util
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hosts_harness import TestHost, TestNetwork
from hosts_pki import TestCA

import pyvirt
from pyvirt.errors import Error, ErrorCode

_A_CONF = 'tls_allowed_dn_list = ["C=GB,O=pyvirt tests,CN=client*"]\n'

needs_qemu_driver = pytest.mark.skipif(
    importlib.util.find_spec("pyvirt_qemu") is None,
    reason="the core tested alone (tox -e core) has no QEMU driver: needs pyvirt-qemu installed",
)


@pytest.fixture(scope="module")
def host_a(network: TestNetwork, ca: TestCA) -> Iterator[TestHost]:
    a = network.hosts["a"]
    ca.server(a.root, [a.address])
    a.start_pyvirtd(_A_CONF, "--listen")
    yield a
    a.close_daemon()


@pytest.fixture(scope="module")
def client_pki(ca: TestCA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ca.client(tmp_path_factory.mktemp("client") / "pki", "client-1")


def _established(host: TestHost, port: int) -> list[str]:
    """Connections open on the host's side of ``port``: after a refusal there must be none left."""
    argv = host.argv("ss", "-Htn", "state", "established", f"sport = :{port}")
    out = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=30).stdout
    return [line for line in out.splitlines() if line.strip()]


def _settled(host: TestHost, port: int, timeout: float = 5.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while (left := _established(host, port)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def _listening_ports(host: TestHost) -> set[int]:
    out = subprocess.run(host.argv("ss", "-Hltn"), check=False, capture_output=True, text=True, timeout=30).stdout
    return {int(line.split()[3].rsplit(":", 1)[1]) for line in out.splitlines() if line.strip()}


def _virsh(uri: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["virsh", "-c", uri, *args], check=False, capture_output=True, text=True, timeout=120)


def test_pyvirt_and_virsh_list_domains_over_tls(host_a: TestHost, client_pki: Path) -> None:
    uri = f"test+tls://{host_a.address}/default?pkipath={client_pki}"
    with pyvirt.open(uri) as conn:
        assert [d.name for d in conn.list_all_domains()] == ["test"]
    # A host and no transport means TLS, as in libvirt.
    with pyvirt.open(f"test://{host_a.address}/default?pkipath={client_pki}") as conn:
        assert [d.name for d in conn.list_all_domains()] == ["test"]
    listed = _virsh(uri, "list", "--all")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split("\n")[2].split() == ["1", "test", "running"]
    assert not _settled(host_a, 16514)


@needs_qemu_driver
def test_virsh_reaches_qemu_system_over_tls(host_a: TestHost, client_pki: Path) -> None:
    listed = _virsh(f"qemu+tls://{host_a.address}/system?pkipath={client_pki}", "list", "--all")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith(" Id   Name   State")


def test_client_dn_not_on_the_list_is_refused(host_a: TestHost, ca: TestCA, tmp_path: Path) -> None:
    other = ca.client(tmp_path / "pki", "intruder")
    with pytest.raises(Error, match=r"server verification \(of our certificate or IP address\) failed") as exc:
        pyvirt.open(f"test+tls://{host_a.address}/default?pkipath={other}")
    assert exc.value.code == ErrorCode.RPC
    assert "Client's Distinguished Name is not on the list of allowed clients" in host_a.daemon_log()
    assert "C=GB,O=pyvirt tests,CN=intruder" in host_a.daemon_log()
    virsh = _virsh(f"test+tls://{host_a.address}/default?pkipath={other}", "list")
    assert virsh.returncode == 1
    assert "server verification (of our certificate or IP address) failed" in virsh.stderr
    assert not _settled(host_a, 16514)


def test_client_certificate_of_another_ca_is_refused(host_a: TestHost, client_pki: Path, tmp_path: Path) -> None:
    stranger = TestCA(tmp_path / "ca", "some other CA")
    pki = stranger.client(tmp_path / "pki", "client-1")
    (pki / "cacert.pem").write_bytes((client_pki / "cacert.pem").read_bytes())  # trusts the server, is not trusted
    # as libvirt's client, ours checks its own certificate first, and names the file and the CA file
    with pytest.raises(Error, match=r"Our own certificate .*/clientcert\.pem failed validation against .*/cacert\.pem: "
                       "The certificate hasn't got a known issuer"):  # fmt: skip
        pyvirt.open(f"test+tls://{host_a.address}/default?pkipath={pki}")
    # without that check, the server refuses it during the handshake
    with pytest.raises(Error, match=r"server verification \(of our certificate or IP address\) failed: .*unknown ca"):
        pyvirt.open(f"test+tls://{host_a.address}/default?pkipath={pki}&no_sanity=1")
    # virsh first checks its own certificate against its CA file; no_sanity=1 lets it try the server, whose
    # TLS 1.3 alert comes while virsh reads the confirmation byte: a clean error, not a broken pipe
    virsh = _virsh(f"test+tls://{host_a.address}/default?pkipath={pki}&no_sanity=1", "list")
    assert virsh.returncode == 1 and "Unable to read TLS confirmation" in virsh.stderr, virsh.stderr
    assert "TLS handshake with" in host_a.daemon_log()  # the server says why it refused
    assert not _settled(host_a, 16514)


def test_expired_client_certificate_is_refused(host_a: TestHost, ca: TestCA, tmp_path: Path) -> None:
    pki = ca.client(tmp_path / "pki", "client-old", days=-1)
    with pytest.raises(Error, match=r"The client certificate .*/clientcert\.pem has expired"):
        pyvirt.open(f"test+tls://{host_a.address}/default?pkipath={pki}")
    with pytest.raises(Error, match=r"server verification \(of our certificate or IP address\) failed: .*expired"):
        pyvirt.open(f"test+tls://{host_a.address}/default?pkipath={pki}&no_sanity=1")
    assert not _settled(host_a, 16514)


def test_server_of_unknown_ca_is_refused(host_a: TestHost, tmp_path: Path) -> None:
    stranger = TestCA(tmp_path / "ca", "some other CA")
    pki = stranger.client(tmp_path / "pki", "client-1")  # this client trusts only the other CA
    with pytest.raises(Error, match=r"Failed to verify peer's certificate: .*hasn't got a known issuer") as exc:
        pyvirt.open(f"test+tls://{host_a.address}/default?pkipath={pki}")
    assert exc.value.code == ErrorCode.AUTH_FAILED
    virsh = _virsh(f"test+tls://{host_a.address}/default?pkipath={pki}", "list")
    assert virsh.returncode == 1 and "Failed to verify peer's certificate" in virsh.stderr
    assert not _settled(host_a, 16514)


def test_expired_or_misnamed_server_certificate(network: TestNetwork, ca: TestCA, client_pki: Path) -> None:
    b = network.hosts["b"]
    try:
        ca.server(b.root, [b.address], days=-1)
        # like libvirtd, pyvirtd will not serve with an expired certificate of its own ...
        with pytest.raises(RuntimeError, match=r"The server certificate .*/servercert\.pem has expired"):
            b.start_pyvirtd("", "--listen")
        # ... unless told not to check it, and then the clients refuse it
        b.start_pyvirtd("tls_no_sanity_certificate = 1\n", "--listen")
        with pytest.raises(Error, match=r"Failed to verify peer's certificate: The server certificate .*has expired"):
            pyvirt.open(f"test+tls://{b.address}/default?pkipath={client_pki}")
        virsh = _virsh(f"test+tls://{b.address}/default?pkipath={client_pki}", "list")
        assert virsh.returncode == 1 and "Failed to verify peer's certificate" in virsh.stderr
        # ?no_verify=1: libvirt shakes hands and ignores what it found wrong with the server
        with pyvirt.open(f"test+tls://{b.address}/default?pkipath={client_pki}&no_verify=1") as conn:
            assert conn.list_all_domains()[0].name == "test"
        b.close_daemon()
        ca.server(b.root, ["192.0.2.99"])  # a valid certificate, for some other address
        b.start_pyvirtd("", "--listen")
        with pytest.raises(Error, match=f"owner does not match the hostname {b.address}"):
            pyvirt.open(f"test+tls://{b.address}/default?pkipath={client_pki}")
        assert not _settled(b, 16514)
    finally:
        b.close_daemon()


def test_unknown_host_and_refused_connection(network: TestNetwork, client_pki: Path) -> None:
    b = network.hosts["b"]  # no daemon listening there now
    with pytest.raises(Error, match=r"Unable to resolve address 'no-such-host\.invalid' service '16514'"):
        pyvirt.open(f"test+tls://no-such-host.invalid/default?pkipath={client_pki}")
    with pytest.raises(Error, match=f"unable to connect to server at '{b.address}:16514': Connection refused"):
        pyvirt.open(f"test+tls://{b.address}/default?pkipath={client_pki}")
    with pytest.raises(Error, match=f"unable to connect to server at '{b.address}:16509': Connection refused"):
        pyvirt.open(f"test+tcp://{b.address}/default")
    with pytest.raises(Error, match=r"Cannot read CA certificate '/nonexistent/cacert\.pem'"):
        pyvirt.open(f"test+tls://{b.address}/default?pkipath=/nonexistent")


def test_tcp_needs_auth_none(network: TestNetwork, ca: TestCA) -> None:
    b = network.hosts["b"]
    ca.server(b.root, [b.address])
    try:
        with pytest.raises(RuntimeError, match=r'auth_tcp: unsupported auth sasl .*set auth_tcp = "none"'):
            b.start_pyvirtd("listen_tcp = 1\n", "--listen")
        b.close_daemon()
        b.start_pyvirtd('listen_tcp = 1\nlisten_tls = 0\nauth_tcp = "none"\ntcp_port = "16600"\n', "--listen")
        assert _listening_ports(b) == {16600}  # listen_tls = 0: no TLS port
        uri = f"test+tcp://{b.address}:16600/default"
        with pyvirt.open(uri) as conn:
            assert conn.list_all_domains()[0].name == "test"
        listed = _virsh(uri, "list", "--name")
        assert listed.returncode == 0 and listed.stdout.strip() == "test", listed.stderr
    finally:
        b.close_daemon()


def test_without_listen_nothing_is_on_the_network(network: TestNetwork, ca: TestCA) -> None:
    b = network.hosts["b"]
    ca.server(b.root, [b.address])
    try:
        b.start_pyvirtd('listen_tcp = 1\nauth_tcp = "none"\n')
        assert _listening_ports(b) == set()
    finally:
        b.close_daemon()
