"""Test certificates in libvirt's layout, made with the openssl program: a CA, servers, clients, bad ones.

Every certificate is made fresh by the test that needs it, so nothing
secret or long-lived is kept in the tree. ``server(root, ...)`` writes the
server's files where ``pyvirtd --root ROOT`` looks for them
(``ROOT/etc/pki/CA/cacert.pem``, ``ROOT/etc/pki/libvirt/servercert.pem``,
``ROOT/etc/pki/libvirt/private/serverkey.pem``); ``client(dir, ...)`` writes
a ``?pkipath=DIR`` directory (``cacert.pem``, ``clientcert.pem``,
``clientkey.pem``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

__all__ = ["TestCA"]


def _run(*argv: str) -> None:
    subprocess.run(["openssl", *argv], check=True, capture_output=True, timeout=60)


class TestCA:
    """A certificate authority in ``base``; each call signs a new certificate with it."""

    __test__ = False  # a helper, not a test class

    def __init__(self, base: Path, name: str = "pyvirt test CA") -> None:
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        self.key = base / "cakey.pem"
        self.cert = base / "cacert.pem"
        _run(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(self.key), "-out", str(self.cert),
            "-days", "2", "-subj", f"/O=pyvirt tests/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip
        self._serial = 0

    def _sign(self, key: Path, cert: Path, subject: str, extensions: str, days: int) -> None:
        self._serial += 1
        csr = cert.with_suffix(".csr")
        ext = cert.with_suffix(".ext")
        ext.write_text(extensions)
        _run("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", subject)
        _run(
            "x509", "-req", "-in", str(csr), "-CA", str(self.cert), "-CAkey", str(self.key),
            "-set_serial", str(1000 + self._serial), "-out", str(cert), "-days", str(days), "-extfile", str(ext),
        )  # fmt: skip
        csr.unlink()
        ext.unlink()

    def server(self, root: Path, names: list[str], *, days: int = 1) -> None:
        """A server certificate for ``names`` (IP addresses or DNS names) under ``root/etc/pki``."""
        pki = root / "etc" / "pki"
        (pki / "CA").mkdir(parents=True, exist_ok=True)
        (pki / "libvirt" / "private").mkdir(parents=True, exist_ok=True)
        shutil.copy(self.cert, pki / "CA" / "cacert.pem")
        alt = ",".join(f"IP:{n}" if n.replace(".", "").isdigit() or ":" in n else f"DNS:{n}" for n in names)
        self._sign(
            pki / "libvirt" / "private" / "serverkey.pem",
            pki / "libvirt" / "servercert.pem",
            f"/C=GB/O=pyvirt tests/CN={names[0]}",
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
            f"extendedKeyUsage=serverAuth\nsubjectAltName={alt}\n",
            days,
        )

    def client(self, pkipath: Path, cn: str = "client", *, days: int = 1) -> Path:
        """A ``?pkipath=`` directory with this CA and a client certificate for ``cn``."""
        pkipath.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.cert, pkipath / "cacert.pem")
        self._sign(
            pkipath / "clientkey.pem",
            pkipath / "clientcert.pem",
            f"/C=GB/O=pyvirt tests/CN={cn}",
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=clientAuth\n",
            days,
        )
        return pkipath
