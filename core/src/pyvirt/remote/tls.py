"""x509 for libvirt's ``+tls`` transport, both ends: libvirt's file layout, its checks and its wording.

Why Python's ``ssl`` and not a TLS library of our own: OpenSSL verifies the
chain, the validity dates and the host name as GnuTLS does for libvirt; what
libvirt adds on top is kept here: where the files are
(``/etc/pki/CA/cacert.pem``, ``/etc/pki/libvirt/{server,client}cert.pem``,
``/etc/pki/libvirt/private/{server,client}key.pem``, ``?pkipath=DIR``,
``~/.pki/libvirt`` for users other than root), the server's
``tls_allowed_dn_list`` of glob patterns over the client's Distinguished Name
written as GnuTLS writes it (``C=GB,O=Example,CN=client``), and the one
confirmation byte the server sends once it has accepted the client's
certificate (libvirt's client waits for it before its first call).

One difference is forced by ``ssl``: it cannot request a client certificate
and judge it after the handshake, so a client certificate the server's CA
did not sign (or one that has expired) ends the handshake with a TLS alert
instead of a missing confirmation byte. The client reports both as libvirt's
"server verification (of our certificate or IP address) failed", with the
alert as the reason.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import socket
import ssl
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from pyvirt.errors import ConnectionError, Error, ErrorCode, ErrorDomain, NotSupportedError, SystemCallError

__all__ = [
    "CONFIRM",
    "ServerPki",
    "alert_text",
    "client_context",
    "client_pki_files",
    "confirm_failure",
    "dn_allowed",
    "handshake_error",
    "peer_dn",
    "sanity_check",
    "server_context",
    "server_pki_files",
]

PKI_DIR = "/etc/pki"
CACERT = "CA/cacert.pem"
CACRL = "CA/cacrl.pem"
SERVER_CERT = "libvirt/servercert.pem"
SERVER_KEY = "libvirt/private/serverkey.pem"
CLIENT_CERT = "libvirt/clientcert.pem"
CLIENT_KEY = "libvirt/private/clientkey.pem"
# What libvirt's server writes after it accepted the client's certificate (virNetServerClient).
CONFIRM = b"\x01"

# ssl's long attribute names -> the short ones GnuTLS prints in a DN (gnutls_x509_crt_get_dn).
_DN_NAMES = {
    "countryName": "C",
    "stateOrProvinceName": "ST",
    "localityName": "L",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "commonName": "CN",
    "emailAddress": "EMAIL",
    "domainComponent": "DC",
    "userId": "UID",
    "serialNumber": "serialNumber",
    "title": "title",
}


class ServerPki(NamedTuple):
    """The server's files, as libvirtd.conf's ``ca_file``/``cert_file``/``key_file``/``crl_file`` name them."""

    ca_file: str
    cert_file: str
    key_file: str
    crl_file: str | None


def _under(root: str | None, rel: str) -> str:
    base = os.path.join(root, PKI_DIR.lstrip("/")) if root else PKI_DIR
    return os.path.join(base, rel)


def server_pki_files(
    root: str | None, ca_file: str | None, cert_file: str | None, key_file: str | None, crl_file: str | None
) -> ServerPki:
    """libvirtd's rule: all three of ca/cert/key configured, or none (the defaults, under ``--root`` if given)."""
    if ca_file or cert_file or key_file:
        for missing, why in (
            (not ca_file, "No CA certificate path set to match server key/cert"),
            (not cert_file, "No server certificate path set to match server key"),
            (not key_file, "No server key path set to match server cert"),
        ):
            if missing:
                raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, why, domain=ErrorDomain.CONF)
        assert ca_file and cert_file and key_file
        return ServerPki(ca_file, cert_file, key_file, crl_file)
    crl = _under(root, CACRL)
    return ServerPki(_under(root, CACERT), _under(root, SERVER_CERT), _under(root, SERVER_KEY), crl_file or crl)


def client_pki_files(pkipath: str | None) -> tuple[str, str, str]:
    """(CA, certificate, key) as libvirt's client finds them (virNetTLSContextLocateCredentials).

    ``?pkipath=DIR`` names all three inside DIR whether they exist or not; a
    user other than root first tries ``~/.pki/libvirt`` (CA alone, the
    certificate and key as a pair); the rest come from ``/etc/pki``.
    """
    if pkipath:
        return (
            os.path.join(pkipath, "cacert.pem"),
            os.path.join(pkipath, "clientcert.pem"),
            os.path.join(pkipath, "clientkey.pem"),
        )
    ca, cert, key = _under(None, CACERT), _under(None, CLIENT_CERT), _under(None, CLIENT_KEY)
    if os.geteuid() != 0:
        user = os.path.join(os.path.expanduser("~"), ".pki", "libvirt")
        if os.path.exists(os.path.join(user, "cacert.pem")):
            ca = os.path.join(user, "cacert.pem")
        ucert, ukey = os.path.join(user, "clientcert.pem"), os.path.join(user, "clientkey.pem")
        if os.path.exists(ucert) and os.path.exists(ukey):
            cert, key = ucert, ukey
    return ca, cert, key


def _check_file(kind: str, path: str, *, allow_missing: bool) -> bool:
    """libvirt's virNetTLSContextCheckCertFile: "Cannot read CA certificate 'PATH': No such file or directory"."""
    if os.path.exists(path):
        return True
    if allow_missing:
        return False
    raise SystemCallError(errno.ENOENT, f"Cannot read {kind} '{path}'", domain=ErrorDomain.RPC)


def _load_chain(ctx: ssl.SSLContext, cert: str, key: str) -> None:
    try:
        ctx.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as e:
        raise Error(
            ErrorCode.SYSTEM_ERROR,
            f"Unable to set x509 key and certificate: {key}, {cert}: {getattr(e, 'reason', None) or e}",
            domain=ErrorDomain.RPC,
        ) from None


def _load_ca(ctx: ssl.SSLContext, ca: str) -> None:
    try:
        ctx.load_verify_locations(ca)
    except (ssl.SSLError, OSError) as e:
        raise Error(
            ErrorCode.SYSTEM_ERROR,
            f"Unable to set x509 CA certificate: {ca}: {getattr(e, 'reason', None) or e}",
            domain=ErrorDomain.RPC,
        ) from None


def sanity_check(ca: str, cert: str, key: str, *, is_server: bool) -> None:
    """libvirt's check of our own certificate before any connection: in date, and signed by our CA.

    ``ssl`` can verify a certificate only inside a handshake, so this runs one
    in memory: one side presents the certificate, the other judges it with
    the CA for the certificate's role (a server certificate as a client
    would, a client certificate as a server would).
    """
    presenter = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if is_server else ssl.PROTOCOL_TLS_CLIENT)
    judge = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT if is_server else ssl.PROTOCOL_TLS_SERVER)
    presenter.load_cert_chain(cert, key)
    if not is_server:
        presenter.check_hostname = False
        presenter.verify_mode = ssl.CERT_NONE
        judge.load_cert_chain(cert, key)  # the judging "server" needs a certificate; nobody checks it
    judge.load_verify_locations(ca)
    judge.verify_mode = ssl.CERT_REQUIRED
    if is_server:
        judge.check_hostname = False
    client_ctx, server_ctx = (judge, presenter) if is_server else (presenter, judge)
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_side=False)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    judge_end = client if is_server else server
    done = {id(client): False, id(server): False}
    for _ in range(8):
        for end, out, peer_in in ((client, c_out, s_in), (server, s_out, c_in)):
            if done[id(end)]:
                continue
            try:
                end.do_handshake()
                done[id(end)] = True
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLCertVerificationError as e:
                if end is judge_end:
                    raise _own_certificate_error(e, ca, cert, is_server) from None
                return
            except ssl.SSLError as e:
                if end is judge_end:
                    raise Error(
                        ErrorCode.SYSTEM_ERROR,
                        f"Our own certificate {cert} failed validation against {ca}: {alert_text(e)}",
                        domain=ErrorDomain.RPC,
                    ) from None
                return  # the presenter was refused: the judge's error is the one that counts, seen above
            finally:
                if data := out.read():
                    peer_in.write(data)
        if all(done.values()):
            return


def _own_certificate_error(exc: ssl.SSLCertVerificationError, ca: str, cert: str, is_server: bool) -> Error:
    role = "server" if is_server else "client"
    if exc.verify_code == 10:
        detail = f"The {role} certificate {cert} has expired"
    elif exc.verify_code == 9:
        detail = f"The {role} certificate {cert} is not yet active"
    else:
        reason = _REASONS.get(exc.verify_code, exc.verify_message or "Invalid certificate")
        detail = f"Our own certificate {cert} failed validation against {ca}: {reason}"
    return Error(ErrorCode.SYSTEM_ERROR, detail, domain=ErrorDomain.RPC)


def server_context(pki: ServerPki, *, verify_client: bool, sanity: bool = True) -> ssl.SSLContext:
    """The server's context: its certificate, and the client's verified against the CA unless told not to.

    ``tls_no_verify_certificate = 1`` asks for no client certificate at all,
    which is what libvirt's server ends up doing with one it does not check;
    ``tls_no_sanity_certificate = 1`` skips the check of our own certificate.
    """
    _check_file("CA certificate", pki.ca_file, allow_missing=False)
    _check_file("certificate", pki.cert_file, allow_missing=False)
    _check_file("private key", pki.key_file, allow_missing=False)
    if sanity:
        sanity_check(pki.ca_file, pki.cert_file, pki.key_file, is_server=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # No TLS 1.3 session tickets: libvirt's client reads exactly one record after the handshake, the
    # confirmation byte, and fails ("Unable to read TLS confirmation") when a ticket arrives first.
    ctx.num_tickets = 0
    ctx.options |= ssl.OP_NO_TICKET
    _load_chain(ctx, pki.cert_file, pki.key_file)
    if verify_client:
        ctx.verify_mode = ssl.CERT_REQUIRED
        _load_ca(ctx, pki.ca_file)
        if pki.crl_file and os.path.exists(pki.crl_file):
            ctx.load_verify_locations(pki.crl_file)
            ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    return ctx


def client_context(pkipath: str | None, *, verify: bool, sanity: bool = True) -> ssl.SSLContext:
    """The client's context: the CA to check the server with, and our certificate if there is one.

    As libvirt's client, it first checks its own certificate against its CA
    (``?no_sanity=1`` skips that), so a stale or foreign client certificate
    is named here rather than refused by a server.
    """
    ca, cert, key = client_pki_files(pkipath)
    _check_file("CA certificate", ca, allow_missing=False)
    have_cert = _check_file("certificate", cert, allow_missing=True)
    have_key = _check_file("private key", key, allow_missing=True)
    if sanity and have_cert and have_key:
        sanity_check(ca, cert, key, is_server=False)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_ca(ctx, ca)
    if have_cert and have_key:
        _load_chain(ctx, cert, key)
    if verify:
        ctx.check_hostname = True
        ctx.hostname_checks_common_name = True  # GnuTLS falls back to the CN when there is no subjectAltName
    else:  # ?no_verify=1: libvirt still shakes hands, then ignores what it found wrong
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def peer_dn(cert: Mapping[str, object] | None) -> str:
    """The peer's Distinguished Name as GnuTLS writes it, in the certificate's order: ``C=GB,O=X,CN=name``."""
    if not cert:
        return ""
    parts = []
    for rdn in cert.get("subject", ()):  # type: ignore[attr-defined]
        for name, value in rdn:
            parts.append(f"{_DN_NAMES.get(name, name)}={value}")
    return ",".join(parts)


def dn_allowed(dn: str, patterns: Sequence[str]) -> bool:
    """``tls_allowed_dn_list``: shell globs (``*``, ``?``), as libvirt matches them with g_pattern_match_simple."""
    return any(fnmatch.fnmatchcase(dn, p.replace("[", "[[]")) for p in patterns)


# OpenSSL's verification results -> GnuTLS's reasons, as libvirt words them (virNetTLSContextValidCertificate).
_REASONS = {
    2: "The certificate hasn't got a known issuer.",  # unable to get issuer certificate
    9: "The certificate is not yet active",
    10: "The certificate has expired",
    18: "The certificate hasn't got a known issuer.",  # self-signed leaf
    19: "The certificate hasn't got a known issuer.",  # self-signed in chain
    20: "The certificate hasn't got a known issuer.",  # unable to get local issuer
    21: "The certificate hasn't got a known issuer.",
    23: "The certificate has been revoked.",
    62: "The certificate does not match the host name",  # hostname mismatch
    64: "The certificate does not match the host address",  # IP address mismatch
}


def handshake_error(exc: BaseException, host: str, cert_file: str = "[session]") -> Error:
    """A failed client handshake as libvirt reports it: what was wrong with the server's certificate, or the alert."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = _REASONS.get(exc.verify_code, exc.verify_message or "Invalid certificate")
        if exc.verify_code in (62, 64):
            detail = f"Certificate {cert_file} owner does not match the hostname {host}"
        elif exc.verify_code in (9, 10):
            detail = f"The server certificate {cert_file} {reason.removeprefix('The certificate ')}"
        else:
            detail = f"Certificate failed validation: {reason}"
        return ConnectionError(
            ErrorCode.AUTH_FAILED, f"Failed to verify peer's certificate: {detail}", domain=ErrorDomain.RPC
        )
    if isinstance(exc, ssl.SSLError):
        why = alert_text(exc)
        if "alert" in why:  # the server refused our certificate during the handshake
            return confirm_failure(why)
        return ConnectionError(ErrorCode.AUTH_FAILED, f"TLS handshake failed {why}", domain=ErrorDomain.RPC)
    if isinstance(exc, socket.timeout):
        return ConnectionError(ErrorCode.AUTH_FAILED, "TLS handshake failed: timed out", domain=ErrorDomain.RPC)
    if isinstance(exc, OSError):
        return SystemCallError(exc.errno or errno.EIO, "Cannot recv data", domain=ErrorDomain.RPC)
    raise exc


def alert_text(exc: ssl.SSLError) -> str:
    """OpenSSL's reason in words ("tlsv1 alert unknown ca"), not its constant (TLSV1_ALERT_UNKNOWN_CA)."""
    return (exc.reason or str(exc)).lower().replace("_", " ")


def confirm_failure(why: str | None = None) -> Error:
    """The server did not confirm our certificate: libvirt's wording, with the TLS alert when there was one."""
    message = "server verification (of our certificate or IP address) failed"
    if why:
        message += f": {why}"
    return ConnectionError(ErrorCode.RPC, message, domain=ErrorDomain.RPC)
