"""The ``selinux`` security driver (sVirt): thin hook implementations over contexts and MCS.

Label rules are libvirt's:

- dynamic: the domain context (``virtual_domain_context``, or ``<baselabel>``)
  with a fresh ``s0:cA,cB``; the image label is the image context with the same pair;
- static: the given label; with relabelling the image label takes its level;
- none: nothing is labelled and the process is not confined by pyvirt;
- per-file: a device ``<seclabel relabel='no'>`` or ``<label>`` wins; otherwise a
  shared image gets the image context without categories, a read-only image,
  a backing file, a kernel, initrd or dtb the content context (second line of
  ``virtual_image_context``), everything else the guest's image label.

Files get their context in the ``security.selinux`` xattr (what ``setfilecon``
writes). The original context of writable, unshared files is remembered in
libvirt's ``trusted.libvirt.security.selinux`` xattrs; without one, restore uses
the policy's default for the path (``matchpathcon``), as libvirt does.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil

from pyvirt.conf.domain import Domain, Seclabel
from pyvirt.conf.domain_devices import DeviceSeclabel
from pyvirt.errors import ErrorCode, InternalError, OperationInvalidError, SystemCallError
from pyvirt.plugin import hookimpl
from pyvirt.plugin.bases import SecurityDriver
from pyvirt.plugin.records import SecurityLabel
from pyvirt.security.remembered import metadata_lock, recall_label, remember_label
from pyvirt.security.resources import FileResource, domain_files
from pyvirt.util.command import Command
from pyvirt_selinux.context import Context, parse_context
from pyvirt_selinux.mcs import McsAllocator

__all__ = ["SelinuxDriver"]

MODEL = "selinux"
XATTR = "security.selinux"
SELINUXFS = "/sys/fs/selinux"
CONTENT_KINDS = ("kernel", "initrd", "dtb")


def _policy_dir() -> str:
    kind = "default"
    with contextlib.suppress(OSError), open("/etc/selinux/config", encoding="utf-8") as f:
        for line in f:
            if line.startswith("SELINUXTYPE="):
                kind = line.split("=", 1)[1].strip()
    return os.path.join("/etc/selinux", kind, "contexts")


def _read_lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            return [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
    except OSError as exc:
        raise SystemCallError(exc.errno or 0, f"cannot read SELinux virtual context file {path}") from exc


def get_file_context(path: str) -> str | None:
    try:
        return os.getxattr(path, XATTR).decode().rstrip("\0")
    except OSError as exc:
        if exc.errno == errno.ENODATA:
            return None
        raise


def set_file_context(path: str, context: str) -> None:
    """setfilecon(): the context with its NUL, as libselinux writes it."""
    try:
        os.setxattr(path, XATTR, context.encode() + b"\0")
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.ENOTSUP):
            return  # NFS and friends: libvirt logs and goes on
        raise SystemCallError(exc.errno or 0, f"unable to set security context '{context}' on '{path}'") from exc


def domain_seclabel(dom: Domain) -> Seclabel | None:
    labels = dom.seclabels or []
    found = next((s for s in labels if s.model == MODEL), None)
    if found is None and len(labels) == 1 and labels[0].model is None:
        return labels[0]
    return found


def _device_label(seclabels: tuple[DeviceSeclabel, ...]) -> DeviceSeclabel | None:
    return next((s for s in seclabels if s.model in (None, MODEL)), None)


class SelinuxDriver(SecurityDriver):
    pyvirt_contract = "1.7"
    name = MODEL

    def __init__(
        self,
        contexts_dir: str | None = None,
        mcs_range: tuple[int, int] = (0, 1023),
        attr_exec_path: str = "/proc/self/attr/exec",
        selinuxfs: str = SELINUXFS,
    ) -> None:
        cdir = contexts_dir or _policy_dir()
        self.domain_context_file = os.path.join(cdir, "virtual_domain_context")
        self.image_context_file = os.path.join(cdir, "virtual_image_context")
        self.mcs = McsAllocator(*mcs_range)
        self.attr_exec_path = attr_exec_path
        self.selinuxfs = selinuxfs

    # ------------------------------------------------------------------ contexts
    def domain_context(self) -> Context:
        return parse_context(_read_lines(self.domain_context_file)[0])

    def image_context(self) -> Context:
        return parse_context(_read_lines(self.image_context_file)[0])

    def content_context(self) -> Context:
        lines = _read_lines(self.image_context_file)
        return parse_context(lines[1] if len(lines) > 1 else lines[0])

    # ------------------------------------------------------------------ identity
    @hookimpl
    def security_probe(self) -> str:
        if not os.path.exists(os.path.join(self.selinuxfs, "enforce")):
            return f"disabled: SELinux is not enabled in this kernel (no selinuxfs at {self.selinuxfs})"
        return "enabled"

    @hookimpl
    def security_get_model(self) -> str:
        return MODEL

    @hookimpl
    def security_get_doi(self) -> str:
        return "0"

    @hookimpl
    def security_get_base_label(self, virt_type: str) -> str:
        """svirt_t for KVM guests; TCG guests (type 'qemu') get svirt_tcg_t, as in libvirt."""
        ctx = self.domain_context()
        return str(ctx.with_type("svirt_tcg_t")) if virt_type == "qemu" else str(ctx)

    def enforcing(self) -> bool:
        try:
            with open(os.path.join(self.selinuxfs, "enforce"), encoding="ascii") as f:
                return f.read().strip() == "1"
        except OSError:
            return False

    # ------------------------------------------------------------------ labels
    @hookimpl
    def security_gen_label(self, domain: Domain) -> None:
        sl = domain_seclabel(domain)
        if sl is None or sl.type == "none":
            return
        if sl.model not in (None, MODEL):
            raise InternalError(
                ErrorCode.INTERNAL_ERROR, f"security label model {sl.model} is not supported with selinux"
            )
        if sl.type == "dynamic":
            if sl.label and not sl.baselabel:
                raise InternalError(ErrorCode.INTERNAL_ERROR, "security label already defined for VM")
            if sl.imagelabel:
                raise InternalError(ErrorCode.INTERNAL_ERROR, "security image label already defined for VM")
            base = parse_context(sl.baselabel) if sl.baselabel else self.domain_context()
            level = self.mcs.allocate(base.sensitivity)
            sl.label = str(base.with_level(level))
            sl.imagelabel = str(self.image_context().with_level(level))
        elif sl.type == "static":
            if not sl.label:
                raise InternalError(
                    ErrorCode.INTERNAL_ERROR, f"missing label for static security driver in domain {domain.name}"
                )
            label = parse_context(sl.label)
            if sl.relabel and not sl.imagelabel:
                sl.imagelabel = str(self.image_context().with_level(label.level))

    @hookimpl
    def security_reserve_label(self, domain: Domain, pid: int) -> None:
        """Re-register the MCS pair of a guest found running (from its process, else its status XML)."""
        sl = domain_seclabel(domain)
        if sl is None or sl.type != "dynamic":
            return
        try:
            label = self._process_context(pid)
        except SystemCallError:
            label = sl.label or ""
        if label:
            self.mcs.reserve(parse_context(label).level)

    @hookimpl
    def security_release_label(self, domain: Domain) -> None:
        sl = domain_seclabel(domain)
        if sl is None or sl.type != "dynamic" or not sl.label:
            return
        self.mcs.release(parse_context(sl.label).level)
        sl.label = None
        sl.imagelabel = None

    # ------------------------------------------------------------------ files
    def _file_label(self, domain: Domain, res: FileResource) -> str | None:
        sl = domain_seclabel(domain)
        if sl is None or sl.type == "none" or sl.relabel is False or not sl.imagelabel:
            return None
        dev = _device_label(res.seclabels)
        if dev is not None:
            if dev.relabel is False:
                return None
            if dev.label:
                return dev.label
        if res.kind in CONTENT_KINDS or res.role in ("readonly", "backing"):
            return str(self.content_context())
        if res.role == "shared":
            return str(self.image_context())
        return sl.imagelabel

    def _set_one(self, domain: Domain, res: FileResource) -> None:
        label = self._file_label(domain, res)
        if label is None or not os.path.exists(res.path):
            return
        if res.remember:
            current = get_file_context(res.path) or ""
            refs = remember_label(res.path, MODEL, current)
            if refs is not None and refs > 1 and current != label:
                recall_label(res.path, MODEL)
                raise OperationInvalidError(
                    ErrorCode.OPERATION_INVALID,
                    f"Setting different SELinux label on {res.path} which is already in use",
                )
        set_file_context(res.path, label)

    def _restore_one(self, domain: Domain, res: FileResource) -> None:
        if self._file_label(domain, res) is None or not res.remember or not os.path.exists(res.path):
            return
        recalled = recall_label(res.path, MODEL)
        if recalled is not None:
            remaining, label = recalled
            if remaining > 0:
                return
            if label:
                set_file_context(res.path, label)
                return
        default = self._default_context(res.path)
        if default:
            set_file_context(res.path, default)
        else:
            with contextlib.suppress(OSError):
                os.removexattr(res.path, XATTR)

    @staticmethod
    def _default_context(path: str) -> str | None:
        """The policy's file_contexts answer for ``path`` (libvirt's matchpathcon fallback)."""
        tool = shutil.which("matchpathcon") or (
            "/usr/sbin/matchpathcon" if os.path.exists("/usr/sbin/matchpathcon") else None
        )
        if tool is None:
            return None
        cmd = Command([tool, "-n", path]).capture_stdout().capture_stderr().run(check=False, timeout=30)
        out = cmd.stdout.decode().strip()
        return out if cmd.exit_status == 0 and out else None

    @hookimpl
    def security_set_all_label(self, domain: Domain, incoming_path: str | None) -> None:
        resources = list(domain_files(domain))
        done: list[FileResource] = []
        with metadata_lock([r.path for r in resources]):
            try:
                for res in resources:
                    self._set_one(domain, res)
                    done.append(res)
                if incoming_path:
                    sl = domain_seclabel(domain)
                    if sl is not None and sl.imagelabel:
                        set_file_context(incoming_path, sl.imagelabel)
            except Exception:
                for res in reversed(done):
                    with contextlib.suppress(Exception):
                        self._restore_one(domain, res)
                raise

    @hookimpl
    def security_restore_all_label(self, domain: Domain, migrated: bool) -> None:
        resources = list(domain_files(domain))
        failures = []
        with metadata_lock([r.path for r in resources]):
            for res in reversed(resources):
                try:
                    self._restore_one(domain, res)
                except Exception as exc:
                    failures.append(str(exc))
        if failures:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "; ".join(failures))

    @hookimpl
    def security_set_path_label(self, domain: Domain, path: str, kind: str, remember: bool) -> None:
        with metadata_lock([path]):
            self._set_one(
                domain,
                FileResource(
                    "image" if kind in ("image", "readonly", "shared", "backing") else kind,
                    path,
                    remember,
                    role="top" if remember and kind == "image" else kind,
                ),
            )

    @hookimpl
    def security_restore_path_label(self, domain: Domain, path: str, kind: str, recall: bool) -> None:
        with metadata_lock([path]):
            self._restore_one(
                domain,
                FileResource(
                    "image" if kind in ("image", "readonly", "shared", "backing") else kind,
                    path,
                    recall,
                    role="top" if recall and kind == "image" else kind,
                ),
            )

    # ------------------------------------------------------------------ process
    @hookimpl
    def security_process_exec_attr(self, domain: Domain) -> tuple[str, str] | None:
        sl = domain_seclabel(domain)
        if sl is None or sl.type == "none" or not sl.label:
            return None
        return self.attr_exec_path, sl.label

    @hookimpl
    def security_set_process_label(self, domain: Domain, cmd: Command) -> None:
        attr = self.security_process_exec_attr(domain)
        if attr is None:
            return
        target, label = attr

        def apply_label() -> None:
            # In the child, after fork and before exec: the next exec runs under this context.
            with open(target, "w", encoding="ascii") as f:
                f.write(label)

        cmd.add_pre_exec_hook("selinux", apply_label)

    def _process_context(self, pid: int) -> str:
        try:
            with open(f"/proc/{pid}/attr/current", encoding="ascii") as f:
                return f.read().rstrip("\0\n")
        except OSError as exc:
            raise SystemCallError(exc.errno or 0, f"unable to get PID {pid} security context") from exc

    @hookimpl
    def security_get_process_label(self, domain: Domain, pid: int) -> SecurityLabel:
        return SecurityLabel(self._process_context(pid), self.enforcing())
