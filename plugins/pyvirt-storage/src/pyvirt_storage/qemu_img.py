"""The qemu-img command line that creates (or converts into) a volume, as libvirt builds it.

:func:`create_command` is libvirt's virStorageBackendCreateQemuImgCmdFromVol:
``qemu-img create -f FMT [-b BACKING] [--object secret,...] [-o OPTIONS] PATH SIZEK``,
or ``qemu-img convert -f IN -O OUT ... INPUT PATH`` when the volume is built
from another one. Options come in libvirt's order (``backing_fmt``, the LUKS
options, ``preallocation``, ``nocow``, ``compat``, ``cluster_size``, the qcow2
features) and the size is in KiB rounded up. A qcow2 volume without
``<compat>`` gets ``compat=0.10``, as libvirt gives it. Encrypting a volume
from an input volume takes two commands (create, then ``convert
--image-opts -n --target-image-opts``): ``ConvertStep`` says which one.

Building the command touches no file but the backing store (libvirt checks it
is readable), so libvirt's storagevolxml2argv corpus runs against it directly.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from enum import IntEnum

from pyvirt.conf.storage import Encryption, Volume
from pyvirt.errors import Error, ErrorCode, InternalError, InvalidArgumentError, NotSupportedError, XMLError

__all__ = ["PREALLOC_METADATA", "ConvertStep", "create_command"]

PREALLOC_METADATA = 1  # VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA
# virStorageEncryptionFormat, whose number libvirt prints in one error
_ENCRYPTION_FORMATS = ("default", "qcow", "luks", "luks2")


class ConvertStep(IntEnum):
    """virStorageVolEncryptConvertStep: which command of an encrypting conversion is built."""

    NONE = 0
    CREATE = 1
    CONVERT = 2
    DONE = 3


def _comma_escaped(text: str) -> str:
    """virQEMUBuildBufferEscapeComma: a comma in a value is doubled for QEMU's option parser."""
    return text.replace(",", ",,")


def _format_of(vol: Volume) -> str:
    return (vol.target.format_type if vol.target is not None else None) or "none"


def _encryption_options(fmt: str, enc: Encryption, alias: str) -> list[str]:
    """storageBackendBuildQemuImgEncriptionOpts: LUKS key, cipher and ivgen (``encrypt.``-prefixed in qcow2)."""
    prefix = "encrypt." if fmt == "qcow2" else ""
    opts = ["encrypt.format=luks"] if fmt == "qcow2" else []
    opts.append(f"{prefix}key-secret={alias}")
    cipher, ivgen = enc.cipher, enc.ivgen
    if cipher is None or cipher.name is None:
        return opts
    opts.append(f"{prefix}cipher-alg={_comma_escaped(cipher.name)}-{cipher.size}")
    if cipher.mode:
        opts.append(f"{prefix}cipher-mode={_comma_escaped(cipher.mode)}")
    if cipher.hash:
        opts.append(f"{prefix}hash-alg={_comma_escaped(cipher.hash)}")
    if ivgen is None or ivgen.name is None:
        return opts
    opts.append(f"{prefix}ivgen-alg={_comma_escaped(ivgen.name)}")
    if ivgen.hash:
        opts.append(f"{prefix}ivgen-hash-alg={_comma_escaped(ivgen.hash)}")
    return opts


def _check_encryption(fmt: str, type_name: str, enc: Encryption) -> None:
    """storageBackendCreateQemuImgCheckEncryption: LUKS with exactly one secret, in a raw or qcow2 image."""
    if fmt not in ("raw", "qcow2"):
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"volume encryption unsupported with format {type_name}")
    if enc.format != "luks":
        number = _ENCRYPTION_FORMATS.index(enc.format) if enc.format in _ENCRYPTION_FORMATS else -1
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"unsupported volume encryption format {number}")
    if len(enc.secrets or []) > 1:
        raise XMLError(ErrorCode.XML_ERROR, "too many secrets for luks encryption")
    if not enc.secrets:
        raise XMLError(ErrorCode.XML_ERROR, "no secret provided for luks encryption")


def _kib(value: int) -> int:
    return -(-value // 1024)


def create_command(
    pool_target_path: str | None,
    vol: Volume,
    inputvol: Volume | None,
    flags: int,
    tool: str = "qemu-img",
    secret_path: str | None = None,
    input_secret_path: str | None = None,
    step: ConvertStep = ConvertStep.NONE,
    readable: Callable[[str], bool] = lambda path: os.access(path, os.R_OK),
) -> list[str]:
    """The argv libvirt runs to create ``vol`` (from ``inputvol`` when given); errors are libvirt's.

    ``pool_target_path`` resolves a relative backing store; ``readable`` is the access check libvirt
    makes on the backing store (tests may pass their own).
    """
    if flags & ~PREALLOC_METADATA:
        raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"unsupported flags (0x{flags & ~PREALLOC_METADATA:x}) "
                                   "in function virStorageBackendCreateQemuImgCmdFromVol")  # fmt: skip
    target = vol.target
    assert target is not None
    enc = target.encryption
    inputenc = inputvol.target.encryption if inputvol is not None and inputvol.target is not None else None
    fmt = _format_of(vol)
    if enc is not None and enc.format in ("qcow", "default") and fmt in ("qcow", "qcow2"):
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "creation of qcow2 encrypted image is not supported")
    if inputenc is not None and inputenc.format != "luks":
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "encryption format of inputvol must be LUKS")
    preallocate = bool(flags & PREALLOC_METADATA)
    # virStorageBackendCreateQemuImgSetInfo
    if vol.type == "block" or fmt == "iso":
        fmt = "raw"  # block devices and ISO images are written raw
    type_name = fmt
    input_type = _format_of(inputvol) if inputvol is not None else None
    if preallocate and fmt != "qcow2":
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "metadata preallocation only available with qcow2")
    if target.compat and fmt != "qcow2":
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "compatibility option only available with qcow2")
    if target.features is not None and fmt != "qcow2":
        raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "format features only available with qcow2")
    if fmt == "raw" and enc is not None:
        if enc.format != "luks":
            raise InternalError(ErrorCode.INTERNAL_ERROR, "Only luks encryption is supported for raw files")
        type_name = "luks"
    if inputvol is not None and input_type == "raw" and inputenc is not None:
        input_type = "luks"  # checked above: an encrypted input is LUKS
    input_path: str | None = None
    input_format = ""
    if inputvol is not None:
        assert inputvol.target is not None
        if step != ConvertStep.CREATE:
            input_path = inputvol.target.path
            if not input_path:
                raise InvalidArgumentError(ErrorCode.INVALID_ARG, "missing input volume target path")
        input_format = _format_of(inputvol)
        if inputvol.type == "block" or input_format == "iso":
            input_format = "raw"
    backing_path: str | None = None
    backing_format = ""
    if vol.backing is not None and vol.backing.path:
        if fmt == "raw":
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "cannot set backing store for raw volume")
        backing_path, backing_format = vol.backing.path, vol.backing.format_type or "none"
        if preallocate:
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED,
                                    "metadata preallocation conflicts with backing store")  # fmt: skip
        other = inputvol.backing.path if inputvol is not None and inputvol.backing is not None else None
        if inputvol is not None and other and other != backing_path:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "a different backing store cannot be specified.")
        absolute = backing_path if backing_path.startswith("/") else f"{pool_target_path}/{backing_path}"
        if not readable(absolute):
            code = errno.ENOENT if not os.path.lexists(absolute) else errno.EACCES
            raise Error(ErrorCode.SYSTEM_ERROR, f"inaccessible backing store volume {backing_path}: "
                        f"{os.strerror(code)}")  # fmt: skip
    if enc is not None:
        _check_encryption(fmt, type_name, enc)
    size_arg = _kib(vol.capacity.value if vol.capacity is not None else 0)
    allocation = _kib(vol.allocation.value if vol.allocation is not None else 0)

    argv = [tool]
    if input_path or step == ConvertStep.CREATE:
        backing_path = None  # a conversion copies the data, it does not stack on a backing store
    if input_path and step == ConvertStep.NONE:
        argv += ["convert", "-f", input_format, "-O", type_name]
    elif input_path and step == ConvertStep.CONVERT:
        argv += ["convert", "--image-opts", "-n", "--target-image-opts"]
    else:
        argv += ["create", "-f", type_name]
    if backing_path:
        argv += ["-b", backing_path]
    alias = f"{vol.name}_encrypt0"
    if enc is not None:
        if not secret_path:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "path to secret data file is required")
        argv += ["--object", f"secret,id={alias},file={_comma_escaped(secret_path)}"]
    input_alias = f"{inputvol.name}_encrypt0" if inputvol is not None else ""
    if inputenc is not None and step == ConvertStep.CONVERT:
        if not input_secret_path:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "path to inputvol secret data file is required")
        argv += ["--object", f"secret,id={input_alias},file={_comma_escaped(input_secret_path)}"]
    if step == ConvertStep.CONVERT:
        source_prefix = "encrypt." if input_format == "qcow2" else ""
        source = f"driver={input_type or 'raw'},file.filename={input_path}"
        if inputenc is not None:
            source += f",{source_prefix}key-secret={input_alias}"
        dest = f"driver={type_name},file.filename={target.path}"
        if enc is not None:
            dest += f",{'encrypt.' if _format_of(vol) == 'qcow2' else ''}key-secret={alias}"
        return [*argv, source, dest]
    opts = []
    if backing_path:
        opts.append(f"backing_fmt={backing_format}")
    if enc is not None:
        opts += _encryption_options(fmt, enc, alias)
    if preallocate:
        opts.append("preallocation=metadata" if size_arg > allocation else "preallocation=falloc")
    if target.nocow:
        opts.append("nocow=on")
    if target.compat:
        opts.append(f"compat={target.compat}")
    elif fmt == "qcow2":
        opts.append("compat=0.10")
    if target.cluster_size is not None and target.cluster_size.value > 0:
        opts.append(f"cluster_size={target.cluster_size.value}")
    if target.features is not None and fmt == "qcow2":
        for feature, option in (("lazy_refcounts", "lazy_refcounts"), ("extended_l2", "extended_l2=on")):
            if feature in target.features:
                if target.compat == "0.10":
                    what = feature if feature == "lazy_refcounts" else f"'{feature}'"
                    raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, f"{what} not supported with compat "
                                            f"level {target.compat}")  # fmt: skip
                opts.append(option)
    if opts:
        argv += ["-o", ",".join(opts)]
    if input_path:
        argv.append(input_path)
    argv.append(target.path or "")
    if not input_path and (size_arg or not backing_path):
        argv.append(f"{size_arg}K")
    return argv
