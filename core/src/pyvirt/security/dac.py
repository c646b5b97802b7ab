"""The DAC security driver: file ownership and the guest process's uid/gid.

Labels are ``user:group`` names or ``+uid:+gid`` numbers. A dynamic label is
the driver's configured user and group (libvirt's qemu.conf ``user``/``group``);
static labels are taken as given; ``none`` (or ``relabel='no'``) leaves files
alone. Every file a guest uses is chowned at start; the original owner of a
writable, unshared chain top (and of kernels, chardevs, nvram, …) is remembered
in xattrs with a refcount so a file shared by guests is restored only when the
last one stops, exactly as libvirt's DAC driver does, with libvirt's xattrs.
"""

from __future__ import annotations

import contextlib
import errno
import grp
import os
import pwd

from pyvirt.conf.domain import Domain, Seclabel
from pyvirt.conf.domain_devices import DeviceSeclabel
from pyvirt.errors import ErrorCode, InternalError, OperationInvalidError, SystemCallError
from pyvirt.plugin import CONTRACT_VERSION, hookimpl
from pyvirt.plugin.records import SecurityLabel
from pyvirt.security.remembered import hand_over_label, metadata_lock, recall_label, remember_label
from pyvirt.security.resources import FileResource, domain_files
from pyvirt.util.caps import read_process_caps
from pyvirt.util.command import Command

__all__ = ["DacDriver", "parse_dac_label"]

MODEL = "dac"


def parse_dac_label(label: str) -> tuple[int, int]:
    """``+107:+107`` or ``qemu:kvm`` -> (uid, gid); names resolved on this host."""
    user, sep, group = label.partition(":")
    if not sep or not user or not group:
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"Failed to parse DAC seclabel '{label}'")

    def one(text: str, lookup_name: str) -> int:
        if text.startswith("+"):
            if text[1:].isdigit():
                return int(text[1:])
        elif text.isdigit():
            return int(text)
        try:
            return pwd.getpwnam(text).pw_uid if lookup_name == "user" else grp.getgrnam(text).gr_gid
        except KeyError:
            raise InternalError(
                ErrorCode.INTERNAL_ERROR, f"Failed to find {lookup_name} record for name '{text}'"
            ) from None

    return one(user, "user"), one(group, "group")


def _label_of(path: str) -> str:
    st = os.stat(path)
    return f"+{st.st_uid}:+{st.st_gid}"


def domain_seclabel(dom: Domain, model: str) -> Seclabel | None:
    labels = dom.seclabels or []
    for sl in labels:
        if sl.model == model:
            return sl
    if len(labels) == 1 and labels[0].model is None:
        return labels[0]
    return None


def _owner(domain: Domain) -> str:
    """Whose reference a remembered label is (the UUID; a name without spaces for UUID-less test domains)."""
    return domain.uuid or "name:" + "_".join((domain.name or "").split())


def _device_label(seclabels: tuple[DeviceSeclabel, ...]) -> DeviceSeclabel | None:
    return next((s for s in seclabels if s.model in (None, MODEL)), None)


class DacDriver:
    """``dac``: always last in the stack."""

    pyvirt_contract = CONTRACT_VERSION
    name = MODEL

    def __init__(self, user: int = 0, group: int = 0, dynamic_ownership: bool = True) -> None:
        self.user = user
        self.group = group
        self.dynamic_ownership = dynamic_ownership

    # ------------------------------------------------------------------ identity
    @hookimpl
    def security_probe(self) -> str:
        return "enabled"

    @hookimpl
    def security_get_model(self) -> str:
        return MODEL

    @hookimpl
    def security_get_doi(self) -> str:
        return "0"

    # ------------------------------------------------------------------ labels
    @hookimpl
    def security_gen_label(self, domain: Domain) -> None:
        sl = domain_seclabel(domain, MODEL)
        if sl is None:
            return
        if sl.imagelabel:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "security image label already defined for VM")
        if sl.type == "static":
            if not sl.label:
                raise InternalError(
                    ErrorCode.INTERNAL_ERROR, f"missing label for static security driver in domain {domain.name}"
                )
            parse_dac_label(sl.label)
        elif sl.type == "dynamic":
            sl.label = f"+{self.user}:+{self.group}"
        else:
            return
        if sl.relabel is not False and not sl.imagelabel:
            sl.imagelabel = sl.label

    @hookimpl
    def security_reserve_label(self, domain: Domain, pid: int) -> None:
        """Nothing to reserve: DAC labels are not unique per guest."""

    @hookimpl
    def security_release_label(self, domain: Domain) -> None:
        sl = domain_seclabel(domain, MODEL)
        if sl is not None and sl.type == "dynamic":
            sl.label = sl.imagelabel = None

    def _ids(self, domain: Domain) -> tuple[int, int] | None:
        """The guest's uid/gid, or None when this domain is not relabelled."""
        sl = domain_seclabel(domain, MODEL)
        if sl is None:
            return (self.user, self.group) if self.dynamic_ownership else None
        if sl.type == "none" or sl.relabel is False or (not self.dynamic_ownership and sl.type == "dynamic"):
            return None
        return parse_dac_label(sl.imagelabel or sl.label or f"+{self.user}:+{self.group}")

    # ------------------------------------------------------------------ files
    def _chown(self, path: str, uid: int, gid: int) -> None:
        try:
            os.chown(path, uid, gid)
        except OSError as exc:
            if exc.errno in (errno.EOPNOTSUPP, errno.EINVAL, errno.EPERM, errno.EROFS):
                return  # libvirt logs and goes on: the filesystem cannot hold owners (NFS root squash, …)
            raise SystemCallError(exc.errno or 0, f"unable to set user and group to '{uid}:{gid}' on '{path}'") from exc

    def process_ids(self, domain: Domain) -> tuple[int, int]:
        """The uid/gid the guest's process runs as, and so owns what the hypervisor makes for it.

        libvirt's virSecurityDACGetIds: the seclabel's label, else qemu.conf's user and group
        (also for a dynamic label not generated yet); an unconfined (``none``) guest runs as we do.
        """
        sl = domain_seclabel(domain, MODEL)
        if sl is not None and sl.type == "none":
            return os.geteuid(), os.getegid()
        return parse_dac_label((sl.label if sl is not None else None) or f"+{self.user}:+{self.group}")

    def hand_over(self, domain: Domain, pid: int) -> None:
        """The guest's process ``pid`` now keeps this domain's remembered labels (see remembered.py).

        Bookkeeping for stale-record recovery only: the guest already runs, so a file whose owner
        line cannot be rewritten is left as it is (its reference then looks like the starter's)
        rather than failing a start that has succeeded.
        """
        if self._ids(domain) is None:
            return
        resources = [r for r in domain_files(domain) if r.remember and os.path.exists(r.path)]
        with metadata_lock([r.path for r in resources]):
            for res in resources:
                with contextlib.suppress(OSError, SystemCallError):
                    hand_over_label(res.path, MODEL, _owner(domain), pid)

    def _set_one(self, res: FileResource, uid: int, gid: int, owner: str | None = None) -> None:
        dev = _device_label(res.seclabels)
        if dev is not None:
            if dev.relabel is False:
                return
            if dev.label:
                uid, gid = parse_dac_label(dev.label)
        if not os.path.exists(res.path):
            if res.kind in ("chardev",):
                return  # created later by the hypervisor with the guest's identity
            raise SystemCallError(errno.ENOENT, f"unable to stat: {res.path}")
        if res.remember:
            refs = remember_label(res.path, MODEL, _label_of(res.path), owner)
            if refs is not None and refs > 1 and _label_of(res.path) != f"+{uid}:+{gid}":
                recall_label(res.path, MODEL, owner)
                raise OperationInvalidError(
                    ErrorCode.OPERATION_INVALID,
                    f"Setting different DAC user or group on {res.path} which is already in use",
                )
        self._chown(res.path, uid, gid)

    def _restore_one(self, res: FileResource, owner: str | None = None) -> None:
        dev = _device_label(res.seclabels)
        if dev is not None and dev.relabel is False:
            return
        if res.kind == "image" and not res.remember:
            return  # read-only, shared or backing layers are never restored (others may use them)
        if not os.path.exists(res.path):
            return
        uid, gid = 0, 0  # libvirt's fallback: root:root
        recalled = recall_label(res.path, MODEL, owner) if res.remember else None
        if recalled is not None:
            remaining, label = recalled
            if remaining > 0:
                return  # another guest still uses it
            if label:
                uid, gid = parse_dac_label(label)
        self._chown(res.path, uid, gid)

    @hookimpl
    def security_set_all_label(self, domain: Domain, incoming_path: str | None) -> None:
        ids = self._ids(domain)
        if ids is None:
            return
        resources = list(domain_files(domain))
        done: list[FileResource] = []
        with metadata_lock([r.path for r in resources]):
            try:
                for res in resources:
                    self._set_one(res, *ids, owner=_owner(domain))
                    done.append(res)
                if incoming_path:
                    self._chown(incoming_path, *ids)
            except Exception:
                for res in reversed(done):
                    with contextlib.suppress(Exception):
                        self._restore_one(res, _owner(domain))
                raise

    @hookimpl
    def security_restore_all_label(self, domain: Domain, migrated: bool) -> None:
        if self._ids(domain) is None:
            return
        resources = list(domain_files(domain))
        failures: list[str] = []
        with metadata_lock([r.path for r in resources]):
            for res in reversed(resources):
                try:
                    self._restore_one(res, _owner(domain))
                except Exception as exc:
                    failures.append(str(exc))
        if failures:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "; ".join(failures))

    @hookimpl
    def security_set_path_label(self, domain: Domain, path: str, kind: str, remember: bool) -> None:
        ids = self._ids(domain)
        if ids is not None:
            with metadata_lock([path]):
                # no owner line: the process hot-plugging a path is not the one keeping it
                self._set_one(FileResource(kind, path, remember), *ids)

    @hookimpl
    def security_restore_path_label(self, domain: Domain, path: str, kind: str, recall: bool) -> None:
        if self._ids(domain) is not None:
            with metadata_lock([path]):
                self._restore_one(FileResource(kind, path, recall), _owner(domain))

    # ------------------------------------------------------------------ process
    @hookimpl
    def security_set_process_label(self, domain: Domain, cmd: Command) -> None:
        sl = domain_seclabel(domain, MODEL)
        if sl is not None and sl.type == "none":
            return
        uid, gid = self.process_ids(domain)
        try:
            groups = os.getgrouplist(pwd.getpwuid(uid).pw_name, gid)
        except KeyError:
            groups = [gid]
        cmd.set_uid(uid).set_gid(gid).set_groups(groups)

    @hookimpl
    def security_get_process_label(self, domain: Domain, pid: int) -> SecurityLabel:
        st = read_process_caps(pid)
        return SecurityLabel(f"+{st.uids[0]}:+{st.gids[0]}", False)
