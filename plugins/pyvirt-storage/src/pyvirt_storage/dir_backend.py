"""The ``dir`` pool: a host directory whose files are the volumes.

Mirrors libvirt's directory backend: building creates the directory (mode
0711 unless the pool says otherwise); starting needs it to exist; sizes
come from ``statvfs``; every regular file or subdirectory is a volume whose
format, size and backing file come from its header (``image_probe``). Raw
volumes are created here (``ftruncate`` plus ``posix_fallocate`` up to the
requested allocation, which by default is the whole capacity, as libvirt
does); other formats through ``qemu-img create``. A failed creation
leaves no file behind.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import os
import stat
from collections.abc import Callable

from pyvirt.conf.storage import Bytes, Permissions, Pool, Timestamps, VolBacking, VolTarget, Volume
from pyvirt.errors import (
    AlreadyExistsError,
    Error,
    ErrorCode,
    ErrorDomain,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    NotSupportedError,
    OperationFailedError,
    OperationInvalidError,
    SystemCallError,
    XMLError,
)
from pyvirt.flags import StoragePoolBuildFlags, StorageVolResizeFlags
from pyvirt.plugin.bases import StorageBackend
from pyvirt.plugin.flags import check_flags
from pyvirt.util.command import Command
from pyvirt_storage.image_probe import probe_image
from pyvirt_storage.qemu_img import create_command

__all__ = ["DirBackend"]

_QEMU_IMG_FORMATS = ("qcow2", "qed", "vmdk", "vdi", "qcow")
_COPY_CHUNK = 1 << 20
# libvirt's virStorageVolWipeAlgorithm, as scrub names its patterns
_WIPE_PATTERNS = ("zero", "nnsa", "dod", "bsi", "gutmann", "schneier", "pfitzner7", "pfitzner33", "random", "trim")
_BUILD_NO_OVERWRITE, _BUILD_OVERWRITE = StoragePoolBuildFlags.NO_OVERWRITE, StoragePoolBuildFlags.OVERWRITE
_RESIZE_ALLOCATE, _RESIZE_SHRINK = StorageVolResizeFlags.ALLOCATE, StorageVolResizeFlags.SHRINK


def _system_error(exc: OSError, what: str) -> SystemCallError:
    return SystemCallError(exc.errno or 0, what, domain=ErrorDomain.STORAGE)


def _run_tool(argv: list[str]) -> None:
    """``argv`` run as virCommandRun runs a helper (qemu-img, scrub) whose status it checks: a failure is
    libvirt's "Child process (ARGV) unexpected exit status N: STDERR".

    Command, not subprocess: a missing program is named with its package (ProgramNotFoundError).
    """
    done = Command(argv).pass_env_common().capture_stderr().run(check=False)
    if done.exit_status != 0:
        err = done.stderr.decode(errors="replace").strip()
        raise InternalError(
            ErrorCode.INTERNAL_ERROR,
            f"Child process ({' '.join(argv)}) unexpected exit status {done.exit_status}: {err}",
            domain=ErrorDomain.STORAGE,
        )


def _no_volume(name: str) -> NotFoundError:
    return NotFoundError(
        ErrorCode.NO_STORAGE_VOL, f"no storage vol with matching name '{name}'", domain=ErrorDomain.STORAGE
    )


def _mode(text: str | None, default: int) -> int:
    """The permission bits to create with. Parsing already refused anything outside 0..0777 (libvirt's
    "malformed octal mode"); a model built in code is held to the same rule here, so no setuid, setgid or
    sticky bit is ever created, whatever path the value took."""
    if not text:
        return default
    try:
        value = int(text, 8)
    except ValueError:
        value = -1
    if not 0 <= value <= 0o777:
        raise XMLError(ErrorCode.XML_ERROR, "malformed octal mode")
    return value


def _mode_text(st: os.stat_result) -> str:
    """As libvirt reports a file's mode (``0%o`` of the permission bits only), so a dumped definition
    can be defined again."""
    return f"0{st.st_mode & 0o777:o}"


def _stamp(ns: int) -> str:
    """virStorageVolTimestampFormat: seconds, and nanoseconds after a dot when there are any."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    return f"{seconds}.{nanos:09d}" if nanos else str(seconds)


def _timestamps(st: os.stat_result) -> Timestamps:
    """What libvirt reports of a volume's file; on Linux its birth time is always written as 0."""
    return Timestamps(atime=_stamp(st.st_atime_ns), mtime=_stamp(st.st_mtime_ns), ctime=_stamp(st.st_ctime_ns),
                      btime="0")  # fmt: skip


class DirBackend(StorageBackend):
    """Entry point ``dir`` of ``pyvirt.storage_backend``: every required and optional method."""

    # the storage-backend contract (pyvirt.plugin.bases.STORAGE_BACKEND_CONTRACT_VERSION); 1.1 added delete,
    # 1.2 create_volume_from and wipe_volume, 1.3 resize_volume
    pyvirt_contract = "1.3"

    @staticmethod
    def _dir(pool: Pool) -> str:
        assert pool.target is not None and pool.target.path
        return pool.target.path

    # ---------------------------------------------------------------- pool
    def build(self, pool: Pool, flags: int) -> None:
        """Create the directory (``pool-build``, ``pool-start --build``) with the pool's permissions.

        libvirt's virStorageBackendFileSystemBuild for a dir pool: the parents
        are made with default permissions, the directory itself with the
        pool's mode (0711 when it says none and the directory is new; an
        existing one keeps its mode then), owner and group. A directory that
        exists is accepted and only gets those permissions again. OVERWRITE
        and NO_OVERWRITE ask to format a source device, which a dir pool has
        not: libvirt refuses them after making the directory, and so does this.
        """
        check_flags(flags, _BUILD_OVERWRITE | _BUILD_NO_OVERWRITE, "virStorageBackendFileSystemBuild")
        if flags & _BUILD_OVERWRITE and flags & _BUILD_NO_OVERWRITE:
            raise InvalidArgumentError(
                ErrorCode.INVALID_ARG,
                "Flags 'VIR_STORAGE_POOL_BUILD_OVERWRITE' and 'VIR_STORAGE_POOL_BUILD_NO_OVERWRITE' "
                "are mutually exclusive",
                verbatim=True,  # virReportInvalidArg: the message alone, no "invalid argument: " before it
            )
        path = self._dir(pool)
        parent = os.path.dirname(path)
        if not os.path.isabs(path):
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"path '{path}' is not absolute")
        try:
            os.makedirs(parent, mode=0o777, exist_ok=True)
        except OSError as exc:
            raise _system_error(exc, f"cannot create path '{parent}'") from exc
        perms = pool.target.permissions if pool.target is not None else None
        mode = _mode(perms.mode, -1) if perms is not None else -1
        created = False
        if not os.path.exists(path):
            if mode == -1:
                mode = 0o711
            try:
                os.mkdir(path, mode)
            except OSError as exc:
                raise _system_error(exc, f"failed to create directory '{path}'") from exc
            created = True
        try:
            self._set_permissions(path, mode, perms)
        except Error:
            if created:
                os.rmdir(path)  # virDirCreate leaves nothing behind when it fails
            raise
        if flags:
            raise OperationInvalidError(
                ErrorCode.OPERATION_INVALID, f"No source device specified when formatting pool '{pool.name}'",
                domain=ErrorDomain.STORAGE,
            )  # fmt: skip

    @staticmethod
    def _set_permissions(path: str, mode: int, perms: Permissions | None) -> None:
        """virDirCreateNoFork's second half: chown when the owner or group differs, then chmod (past the umask)."""
        uid = -1 if perms is None or perms.owner is None else int(perms.owner)
        gid = -1 if perms is None or perms.group is None else int(perms.group)
        try:
            st = os.stat(path)
        except OSError as exc:
            raise _system_error(exc, f"stat of '{path}' failed") from exc
        if uid not in (-1, st.st_uid) or gid not in (-1, st.st_gid):
            try:
                os.chown(path, uid, gid)
            except OSError as exc:
                shown = f"({uid & 0xFFFFFFFF}, {gid & 0xFFFFFFFF})"  # libvirt prints (uid_t)-1 unsigned
                raise _system_error(exc, f"cannot chown '{path}' to {shown}") from exc
        if mode != -1:
            try:
                os.chmod(path, mode)
            except OSError as exc:
                raise _system_error(exc, f"cannot set mode of '{path}' to {mode:04o}") from exc

    def delete(self, pool: Pool, flags: int) -> None:
        """Remove the pool's directory (``pool-delete``): libvirt's virStorageBackendDeleteLocal only runs
        ``rmdir``, so a directory that still holds volumes is refused by the kernel ("Directory not empty"),
        never emptied behind the user's back."""
        check_flags(flags, 0, "virStorageBackendDeleteLocal")
        path = self._dir(pool)
        try:
            os.rmdir(path)
        except OSError as exc:
            raise _system_error(exc, f"failed to remove pool '{path}'") from exc

    def check(self, pool: Pool) -> None:
        """What starting needs: the directory exists (libvirt's words when it does not)."""
        path = self._dir(pool)
        try:
            st = os.stat(path)
        except OSError as exc:
            raise _system_error(exc, f"cannot open directory '{path}'") from exc
        if not stat.S_ISDIR(st.st_mode):
            raise OperationFailedError(
                ErrorCode.OPERATION_FAILED, f"'{path}' is not a directory", domain=ErrorDomain.STORAGE
            )

    def refresh(self, pool: Pool) -> None:
        """Fill in the sizes and the directory's real permissions, as libvirt's refresh does."""
        path = self._dir(pool)
        self.check(pool)
        vfs = os.statvfs(path)
        st = os.stat(path)
        pool.capacity = Bytes(value=vfs.f_frsize * vfs.f_blocks)
        pool.allocation = Bytes(value=(vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize)
        pool.available = Bytes(value=vfs.f_bfree * vfs.f_frsize)  # libvirt counts root's reserve as free
        assert pool.target is not None
        label = pool.target.permissions.label if pool.target.permissions is not None else None
        pool.target.permissions = Permissions(mode=_mode_text(st), owner=st.st_uid,
                                              group=st.st_gid, label=label)  # fmt: skip

    # ---------------------------------------------------------------- volumes
    def volume_names(self, pool: Pool) -> list[str]:
        path = self._dir(pool)
        try:
            entries = list(os.scandir(path))
        except OSError as exc:
            raise _system_error(exc, f"cannot open directory '{path}'") from exc
        return sorted(
            e.name
            for e in entries
            if not e.name.startswith(".") and (e.is_file(follow_symlinks=True) or e.is_dir(follow_symlinks=True))
        )

    def volume(self, pool: Pool, name: str) -> Volume:
        """The volume's XML as libvirt describes it: sizes, format, permissions, backing file."""
        if "/" in name or name.startswith("."):
            raise _no_volume(name)
        path = os.path.join(self._dir(pool), name)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise _no_volume(name) from None
        except OSError as exc:
            raise _system_error(exc, f"cannot stat file '{path}'") from exc
        perms = Permissions(mode=_mode_text(st), owner=st.st_uid, group=st.st_gid)
        stamps = _timestamps(st)
        if stat.S_ISDIR(st.st_mode):
            size = st.st_blocks * 512
            return Volume(type="dir", name=name, key=path, capacity=Bytes(value=size), allocation=Bytes(value=size),
                          target=VolTarget(path=path, format_type="dir", permissions=perms, timestamps=stamps))  # fmt: skip
        if not stat.S_ISREG(st.st_mode):
            raise _no_volume(name)
        try:
            info = probe_image(path)
        except OSError as exc:
            raise _system_error(exc, f"cannot read file '{path}'") from exc
        backing = VolBacking(path=info.backing, format_type=info.backing_format) if info.backing else None
        return Volume(
            type="file", name=name, key=path, capacity=Bytes(value=info.capacity),
            allocation=Bytes(value=info.allocation), physical=Bytes(value=info.physical),
            target=VolTarget(path=path, format_type=info.format, permissions=perms, timestamps=stamps,
                             compat="1.1" if info.features is not None else None,
                             features=list(info.features) if info.features is not None else None),
            backing=backing,
        )  # fmt: skip

    def create_volume(self, pool: Pool, vol: Volume, flags: int) -> Volume:
        """Create the file for a parsed ``<volume>``; nothing is left behind when it fails."""
        assert vol.name is not None and vol.capacity is not None
        if "/" in vol.name:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"volume name '{vol.name}' cannot contain '/'")
        fmt = (vol.target.format_type if vol.target is not None else None) or "raw"
        if vol.target is not None and vol.target.encryption is not None:
            # the secret's value would have to reach qemu-img through a file of ours: not done yet, and an
            # encrypted volume must never be created in the clear
            raise NotSupportedError(ErrorCode.CONFIG_UNSUPPORTED, "unsupported configuration: creating encrypted "
                                    "volumes is not supported by pyvirt's dir pool yet", verbatim=True)  # fmt: skip

        def build(path: str, mode: int) -> None:
            if fmt == "raw":
                self._create_raw(path, vol, mode)
            elif fmt in _QEMU_IMG_FORMATS:
                self._create_with_qemu_img(pool, path, vol, flags, mode)
            else:
                raise NotSupportedError(
                    ErrorCode.NO_SUPPORT, f"creating volumes of format '{fmt}' is not supported in a dir pool"
                )

        return self._create_file(pool, vol, build)

    def _create_file(self, pool: Pool, vol: Volume, build: Callable[[str, int], None]) -> Volume:
        """Make the volume's file with ``build(path, mode)``, then its owner; no file is left when anything fails."""
        assert vol.name is not None
        if "/" in vol.name:
            raise InvalidArgumentError(ErrorCode.INVALID_ARG, f"volume name '{vol.name}' cannot contain '/'")
        path = os.path.join(self._dir(pool), vol.name)
        if os.path.lexists(path):
            raise AlreadyExistsError(ErrorCode.STORAGE_VOL_EXIST, f"'{vol.name}'", domain=ErrorDomain.STORAGE)
        perms = vol.target.permissions if vol.target is not None else None
        mode = _mode(perms.mode if perms else None, 0o600)
        try:
            build(path, mode)
            if perms is not None and (perms.owner is not None or perms.group is not None):
                os.chown(path, -1 if perms.owner is None else perms.owner, -1 if perms.group is None else perms.group)
        except BaseException as exc:
            if os.path.lexists(path) and not isinstance(exc, AlreadyExistsError):
                with contextlib.suppress(OSError):
                    os.unlink(path)
            if isinstance(exc, OSError):
                raise _system_error(exc, f"cannot create volume '{path}'") from exc
            raise
        return self.volume(pool, vol.name)

    @staticmethod
    def _create_raw(path: str, vol: Volume, mode: int) -> None:
        if vol.backing is not None:
            raise NotSupportedError(ErrorCode.NO_SUPPORT, "backing storage not supported for raw volumes")
        assert vol.capacity is not None
        capacity = vol.capacity.value
        allocation = capacity if vol.allocation is None else min(vol.allocation.value, capacity)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        try:
            os.fchmod(fd, mode)
            os.ftruncate(fd, capacity)
            if allocation:
                try:
                    os.posix_fallocate(fd, 0, allocation)
                except OSError as exc:
                    if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                        raise
                    os.pwrite(fd, b"\0", allocation - 1)  # no fallocate here: at least reserve the last byte
            os.fsync(fd)
        finally:
            os.close(fd)

    @staticmethod
    def _create_with_qemu_img(
        pool: Pool, path: str, vol: Volume, flags: int, mode: int, source: Volume | None = None
    ) -> None:
        """libvirt's command line (``pyvirt_storage.qemu_img``): options in its order, the size in KiB.

        With ``source``, ``qemu-img convert`` from it (vol-clone, vol-create-from), as libvirt runs it.
        """
        target = copy.copy(vol.target) if vol.target is not None else VolTarget()
        target.path = path
        vol = copy.copy(vol)
        vol.target, vol.type = target, "file"
        if vol.backing is not None and vol.backing.path and not vol.backing.format_type:
            try:
                vol.backing = VolBacking(path=vol.backing.path, format_type=probe_image(vol.backing.path).format,
                                         permissions=vol.backing.permissions)  # fmt: skip
            except OSError as exc:
                raise _system_error(exc, f"cannot access backing file '{vol.backing.path}'") from exc
        argv = create_command(DirBackend._dir(pool), vol, source, flags)
        # qemu-img creates the file itself; an empty placeholder first makes the mode and O_EXCL ours
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode))
        os.chmod(path, mode)
        _run_tool(argv)

    def create_volume_from(self, pool: Pool, vol: Volume, source: Volume, flags: int) -> Volume:
        """A new volume holding ``source``'s data (libvirt's buildVolFrom of the local backends).

        Raw to raw is copied here, zero blocks left as holes over the
        allocated file, as libvirt's storageBackendCopyToFD; any other pair of
        formats goes through ``qemu-img convert``. Nothing is left behind when it fails.
        """
        fmt = (vol.target.format_type if vol.target is not None else None) or "raw"
        source_fmt = (source.target.format_type if source.target is not None else None) or "raw"
        source_path = source.target.path if source.target is not None else None
        if source.type == "dir" or not source_path:
            raise NotSupportedError(ErrorCode.NO_SUPPORT, f"cannot copy the directory volume '{source.name}'",
                                    domain=ErrorDomain.STORAGE)  # fmt: skip

        def build(path: str, mode: int) -> None:
            if fmt == "raw" and source_fmt == "raw":
                self._create_raw(path, vol, mode)
                self._copy_into(source_path, path)
            elif fmt in (*_QEMU_IMG_FORMATS, "raw"):
                self._create_with_qemu_img(pool, path, vol, flags, mode, source)
            else:
                raise NotSupportedError(
                    ErrorCode.NO_SUPPORT, f"creating volumes of format '{fmt}' is not supported in a dir pool"
                )

        return self._create_file(pool, vol, build)

    @staticmethod
    def _copy_into(source: str, path: str) -> None:
        """The source's bytes over the new file's start; all-zero blocks are skipped (the file reads zeros there).

        As libvirt's storageBackendCopyToFD: the holes are per file system
        block, so a thin copy of a mostly empty disk stays thin.
        """
        try:
            src = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise _system_error(exc, f"could not open input path '{source}'") from exc
        try:
            dst = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            try:
                block = os.fstat(dst).st_blksize or 4096
                zeros = bytes(block)
                offset = 0
                while chunk := os.pread(src, _COPY_CHUNK, offset):
                    view = memoryview(chunk)
                    for start in range(0, len(chunk), block):
                        piece = view[start : start + block]
                        if piece != zeros[: len(piece)]:
                            os.pwrite(dst, piece, offset + start)
                    offset += len(chunk)
                os.fsync(dst)
            finally:
                os.close(dst)
        finally:
            os.close(src)

    def resize_volume(self, pool: Pool, vol: Volume, capacity: int, flags: int) -> None:
        """libvirt's virStorageBackendVolResizeLocal: a raw file is truncated (and with ALLOCATE first
        allocated up to the new size), any other format is resized by ``qemu-img resize``.

        libvirt asks qemu-img for a multiple of 512 bytes (rounded up) and adds ``--shrink``
        when the new size is smaller, as qemu-img wants it for shrinking a raw image.
        """
        check_flags(flags, _RESIZE_ALLOCATE | _RESIZE_SHRINK, "virStorageBackendVolResizeLocal")
        target = vol.target
        assert target is not None and target.path and vol.capacity is not None
        if target.format_type == "raw" and target.encryption is None:
            self._resize_raw(target.path, capacity, bool(flags & _RESIZE_ALLOCATE))
            return
        if flags & _RESIZE_ALLOCATE:
            what = "an unencrypted raw volume" if target.format_type == "raw" else "raw type volume"
            raise NotSupportedError(
                ErrorCode.OPERATION_UNSUPPORTED, f"preallocate is only supported for {what}", domain=ErrorDomain.STORAGE
            )
        if target.encryption is not None:  # libvirt would pass the volume's secret through --object
            raise NotSupportedError(
                ErrorCode.CONFIG_UNSUPPORTED, "resize of an encrypted image is not supported here",
                domain=ErrorDomain.STORAGE,
            )  # fmt: skip
        import shutil

        tool = shutil.which("qemu-img")
        if tool is None:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "unable to find qemu-img", domain=ErrorDomain.STORAGE)
        rounded = -(-capacity // 512) * 512  # VIR_ROUND_UP(capacity, 512)
        argv = [tool, "resize", *(["--shrink"] if rounded < vol.capacity.value else []), target.path, str(rounded)]
        _run_tool(argv)

    @staticmethod
    def _resize_raw(path: str, capacity: int, allocate: bool) -> None:
        """libvirt's virFileResize: posix_fallocate up to the new size when asked, then ftruncate."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except OSError as exc:
            raise _system_error(exc, f"Unable to open '{path}'") from exc
        try:
            if allocate and capacity:
                try:
                    os.posix_fallocate(fd, 0, capacity)
                except OSError as exc:
                    raise _system_error(exc, f"Failed to pre-allocate space for file '{path}'") from exc
            try:
                os.ftruncate(fd, capacity)
            except OSError as exc:
                raise _system_error(exc, f"Failed to truncate file '{path}'") from exc
        finally:
            os.close(fd)

    def wipe_volume(self, pool: Pool, name: str, algorithm: int, flags: int) -> None:
        """libvirt's storageBackendVolWipeLocalFile: zeros written here, the other patterns by ``scrub``.

        A sparse file is zeroed by truncating it to nothing and back to its
        size, as libvirt does; otherwise its allocation is overwritten from
        the start. Every format is wiped as plain data: a qcow2 volume loses
        its header too, exactly as with libvirt.
        """
        check_flags(flags, 0, "virStorageBackendVolWipeLocal")
        vol = self.volume(pool, name)
        assert vol.target is not None and vol.target.path is not None and vol.allocation is not None
        path = vol.target.path
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except OSError as exc:
            raise _system_error(exc, f"Failed to open storage volume with path '{path}'") from exc
        try:
            st = os.fstat(fd)
            pattern = _WIPE_PATTERNS[algorithm]
            if pattern == "trim":
                raise InvalidArgumentError(ErrorCode.ARGUMENT_UNSUPPORTED, "'trim' algorithm not supported",
                                           domain=ErrorDomain.STORAGE)  # fmt: skip
            if pattern != "zero":
                _run_tool(["scrub", "-f", "-p", pattern, path])
            elif stat.S_ISREG(st.st_mode) and st.st_blocks < st.st_size // 512:
                for size in (0, st.st_size):
                    try:
                        os.ftruncate(fd, size)
                    except OSError as exc:
                        raise _system_error(
                            exc, f"Failed to truncate volume with path '{path}' to {size} bytes"
                        ) from exc
            else:
                self._write_zeros(fd, path, vol.allocation.value, st.st_blksize or 4096)
        finally:
            os.close(fd)

    @staticmethod
    def _write_zeros(fd: int, path: str, length: int, block: int) -> None:
        zeros = bytes(block)
        offset = 0
        try:
            while offset < length:
                offset += os.pwrite(fd, zeros[: min(block, length - offset)], offset)
        except OSError as exc:
            raise _system_error(exc, f"Failed to write {block} bytes to storage volume with path '{path}'") from exc
        try:
            os.fdatasync(fd)
        except OSError as exc:
            raise _system_error(exc, f"cannot sync data to volume with path '{path}'") from exc

    def delete_volume(self, pool: Pool, name: str) -> None:
        path = os.path.join(self._dir(pool), name)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                os.rmdir(path)
            else:
                os.unlink(path)
        except FileNotFoundError:
            raise _no_volume(name) from None
        except OSError as exc:
            raise _system_error(exc, f"cannot unlink file '{path}'") from exc
