"""Secrets handed to QEMU: ``-object secret`` objects encrypted with the guest's master key.

libvirt never puts a password, passphrase or cookie on QEMU's command line in
the clear: each one becomes a ``secret`` object whose ``data`` is the value
encrypted with AES-256-CBC (PKCS#7 padding) under the guest's 32-byte master
key (``masterKey0``, a file only QEMU's user can read) with a fresh 16-byte IV,
both base64 (qemuDomainSecretAESSetup). QEMU decrypts it with the key it
loaded first. Values come from libvirt's secret driver, looked up by UUID or
by usage; a secret of another usage type than the device expects is refused
in libvirt's words (virSecretGetSecretString).

The cipher is OpenSSL's libcrypto (which Python's own ``ssl`` module already
needs) through ctypes: pyvirt-qemu then depends on no crypto package.
"""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyvirt.errors import ErrorCode, InternalError, InvalidArgumentError, NotSupportedError, XMLError

__all__ = ["GuestSecrets", "SecretLookup", "aes_cbc_encrypt", "random_bytes"]

MASTER_KEY_LEN = 32
IV_LEN = 16

# (usage type, uuid, usage id) -> (the secret's own usage type, its value); libvirt's secret driver
SecretLookup = Callable[[str, str | None, str | None], tuple[str, bytes]]


def random_bytes(count: int) -> bytes:
    """Key and IV material (libvirt's virRandomBytes); a module function so libvirt's test mock can stand in."""
    return os.urandom(count)


@functools.cache
def _libcrypto() -> ctypes.CDLL:
    name = ctypes.util.find_library("crypto")
    if name is None:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "cannot find OpenSSL's libcrypto to encrypt a secret")
    lib = ctypes.CDLL(name)
    lib.EVP_CIPHER_CTX_new.restype = ctypes.c_void_p
    lib.EVP_CIPHER_CTX_free.argtypes = [ctypes.c_void_p]
    lib.EVP_aes_256_cbc.restype = ctypes.c_void_p
    lib.EVP_EncryptInit_ex.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p,
                                       ctypes.c_char_p]  # fmt: skip
    lib.EVP_EncryptUpdate.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int),
                                      ctypes.c_char_p, ctypes.c_int]  # fmt: skip
    lib.EVP_EncryptFinal_ex.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]
    return lib


def aes_cbc_encrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    """AES-256-CBC with PKCS#7 padding, as virCryptoEncryptData (GnuTLS) gives QEMU's ``secret`` objects."""
    if len(key) != MASTER_KEY_LEN or len(iv) != IV_LEN:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "AES-256-CBC needs a 32-byte key and a 16-byte IV")
    lib = _libcrypto()
    ctx = lib.EVP_CIPHER_CTX_new()
    if not ctx:
        raise InternalError(ErrorCode.INTERNAL_ERROR, "failed to initialize the cipher")
    try:
        out = ctypes.create_string_buffer(len(data) + IV_LEN)
        used, tail = ctypes.c_int(0), ctypes.c_int(0)
        ok = lib.EVP_EncryptInit_ex(ctx, lib.EVP_aes_256_cbc(), None, key, iv) == 1
        ok = ok and lib.EVP_EncryptUpdate(ctx, out, ctypes.byref(used), data, len(data)) == 1
        rest = ctypes.cast(ctypes.addressof(out) + used.value, ctypes.c_char_p)
        ok = ok and lib.EVP_EncryptFinal_ex(ctx, rest, ctypes.byref(tail)) == 1
        if not ok:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "failed to encrypt the data")
        return out.raw[: used.value + tail.value]
    finally:
        lib.EVP_CIPHER_CTX_free(ctx)


@dataclass
class GuestSecrets:
    """The master key of one start of a guest, and where its secrets' values come from.

    ``lookup`` is None when no secret driver can be reached: a device that
    names a secret is then refused by name (values the domain XML itself holds,
    such as HTTP cookies, still work).
    """

    master_key: bytes = field(default_factory=lambda: random_bytes(MASTER_KEY_LEN))
    lookup: SecretLookup | None = None

    def secret_object(self, alias: str, value: bytes) -> dict[str, Any]:
        """``-object secret``: ``value`` encrypted for QEMU under the master key, with its own IV."""
        iv = random_bytes(IV_LEN)
        data = aes_cbc_encrypt(self.master_key, iv, value)
        return {"qom-type": "secret", "id": alias, "data": base64.b64encode(data).decode(), "keyid": "masterKey0",
                "iv": base64.b64encode(iv).decode(), "format": "base64"}  # fmt: skip

    def value(self, usage_type: str, uuid: str | None, usage_id: str | None, what: str) -> bytes:
        """The value of the secret a device names (by ``uuid`` or by ``usage_id``), of ``usage_type``."""
        if self.lookup is None:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                    f"{what} (it needs the secret driver) is not supported by the QEMU driver yet")  # fmt: skip
        if uuid is None and usage_id is None:
            raise XMLError(ErrorCode.XML_ERROR, "missing secret uuid or usage attribute")
        found_type, value = self.lookup(usage_type, uuid, usage_id)
        # 'none' is what a secret looked up by UUID reports when its usage was never set (libvirt accepts it)
        if found_type not in ("none", usage_type):
            ref = uuid if uuid is not None else usage_id
            raise InvalidArgumentError(ErrorCode.INVALID_ARG,
                                       f"secret with uuid {ref} is of type '{found_type}' not expected '{usage_type}' "
                                       "type")  # fmt: skip
        return value
