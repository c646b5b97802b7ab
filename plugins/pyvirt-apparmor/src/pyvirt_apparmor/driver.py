"""The ``apparmor`` security driver: hook implementations over ``profile`` and apparmor_parser.

GenLabel names the profile ``libvirt-<uuid>``; SetAllLabel writes the profile
and its ``.files`` include and loads them (``apparmor_parser -r``); hotplugged
files regenerate the include and reload; RestoreAllLabel unloads (``-R``) and
removes both files. SetProcessLabel adds a pre-exec hook that writes
``exec libvirt-<uuid>`` to ``/proc/self/attr/exec`` (what ``aa_change_onexec``
does), so the guest is confined from its first instruction.
"""

from __future__ import annotations

import contextlib
import os

from pyvirt.conf.domain import Domain, Seclabel
from pyvirt.errors import ErrorCode, InternalError, OperationFailedError, SystemCallError
from pyvirt.plugin import hookimpl
from pyvirt.plugin.bases import SecurityDriver
from pyvirt.plugin.records import SecurityLabel
from pyvirt.security.resources import FileResource
from pyvirt.util.command import Command
from pyvirt_apparmor.profile import abstractions_dir, render_files, render_profile, rules_for

__all__ = ["AppArmorDriver"]

MODEL = "apparmor"
PREFIX = "libvirt-"


def domain_seclabel(dom: Domain) -> Seclabel | None:
    labels = dom.seclabels or []
    found = next((s for s in labels if s.model == MODEL), None)
    if found is None and len(labels) == 1 and labels[0].model is None:
        return labels[0]
    return found


def _atomic_write(path: str, text: str) -> None:
    tmp = f"{path}.pyvirt-new"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class AppArmorDriver(SecurityDriver):
    pyvirt_contract = "1.7"
    name = MODEL

    def __init__(
        self,
        apparmor_dir: str = "/etc/apparmor.d",
        parser: str = "/sbin/apparmor_parser",
        load_args: tuple[str, ...] = ("-r", "-W"),
        attr_exec_path: str = "/proc/self/attr/exec",
        run_dir: str = "/run/pyvirt/{driver}",
    ) -> None:
        self.apparmor_dir = apparmor_dir
        self.profile_dir = os.path.join(apparmor_dir, "libvirt")
        self.parser = parser if os.path.exists(parser) else "/usr/sbin/apparmor_parser"
        self.load_args = load_args
        self.attr_exec_path = attr_exec_path
        self.run_dir = run_dir
        self._extra: dict[str, dict[str, FileResource]] = {}

    # ------------------------------------------------------------------ identity
    @hookimpl
    def security_probe(self) -> str:
        try:
            with open("/sys/module/apparmor/parameters/enabled", encoding="ascii") as f:
                enabled = f.read().strip() == "Y"
        except OSError:
            enabled = False
        if not enabled or not os.path.isdir("/sys/kernel/security/apparmor"):
            return "disabled: AppArmor is not enabled in this kernel"
        if not os.path.exists(self.parser):
            return f"disabled: {self.parser} is missing (install apparmor)"
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
        sl = domain_seclabel(domain)
        if sl is None or sl.type != "dynamic":
            if sl is not None and sl.type == "static" and not sl.label:
                raise InternalError(
                    ErrorCode.INTERNAL_ERROR, f"missing label for static security driver in domain {domain.name}"
                )
            return
        if sl.label:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "security label already defined for VM")
        if sl.baselabel:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "Cannot set a base label with AppArmor")
        sl.label = f"{PREFIX}{domain.uuid}"
        sl.imagelabel = sl.label

    @hookimpl
    def security_reserve_label(self, domain: Domain, pid: int) -> None:
        """Profiles are named by UUID: nothing to reserve."""

    @hookimpl
    def security_release_label(self, domain: Domain) -> None:
        sl = domain_seclabel(domain)
        if sl is not None and sl.type == "dynamic":
            sl.label = sl.imagelabel = None
        self._extra.pop(domain.uuid or "", None)

    # ------------------------------------------------------------------ profiles
    def paths(self, name: str) -> tuple[str, str]:
        return os.path.join(self.profile_dir, name), os.path.join(self.profile_dir, f"{name}.files")

    def _template_kind(self, domain: Domain) -> str:
        return "lxc" if domain.type == "lxc" else "qemu"

    def runtime_files(self, domain: Domain) -> list[FileResource]:
        """The hypervisor's per-guest runtime files (DESIGN §6): pidfile, monitor socket, log."""
        base = os.path.join(self.run_dir.format(driver=self._template_kind(domain)), domain.name or "")
        return [
            FileResource("pidfile", f"{base}.pid", False),
            FileResource("monitor", f"{base}.monitor", False),
            FileResource("log", f"{base}.log", False),
        ]

    def write_profile(self, domain: Domain) -> str:
        """Generate (or regenerate) the profile and its include; returns the profile's path."""
        sl = domain_seclabel(domain)
        assert sl is not None and sl.label
        extra = [*self.runtime_files(domain), *self._extra.get(domain.uuid or "", {}).values()]
        rules = rules_for(domain, extra)
        profile, files = self.paths(sl.label)
        os.makedirs(self.profile_dir, exist_ok=True)
        _atomic_write(files, render_files(domain, rules))
        if not os.path.exists(profile):
            include = os.path.relpath(files, self.apparmor_dir)
            _atomic_write(profile, render_profile(sl.label, self._template_kind(domain), include))
        return profile

    def _parser(self, *args: str) -> None:
        cmd = Command([self.parser, *args, "-I", abstractions_dir(), "-I", self.apparmor_dir])
        cmd.capture_stdout().capture_stderr().run(check=False, timeout=120)
        if cmd.exit_status != 0:
            raise OperationFailedError(
                ErrorCode.OPERATION_FAILED,
                f"apparmor_parser {' '.join(args)} failed: {cmd.stderr.decode(errors='replace').strip()}",
            )

    def _managed(self, domain: Domain) -> Seclabel | None:
        sl = domain_seclabel(domain)
        return sl if sl is not None and sl.type == "dynamic" and sl.label else None

    @hookimpl
    def security_set_all_label(self, domain: Domain, incoming_path: str | None) -> None:
        sl = self._managed(domain)
        if sl is None:
            return
        if incoming_path:
            self._extra.setdefault(domain.uuid or "", {})[incoming_path] = FileResource(
                "image", incoming_path, False, role="readonly"
            )
        profile = self.write_profile(domain)
        try:
            self._parser(*self.load_args, profile)
        except Exception:
            self._remove(domain, sl)
            raise

    def _remove(self, domain: Domain, sl: Seclabel) -> None:
        profile, files = self.paths(sl.label or "")
        if os.path.exists(profile):
            with contextlib.suppress(OperationFailedError):
                if "-Q" not in self.load_args:
                    self._parser("-R", profile)
        for path in (profile, files):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    @hookimpl
    def security_restore_all_label(self, domain: Domain, migrated: bool) -> None:
        sl = self._managed(domain)
        if sl is not None:
            self._remove(domain, sl)

    @hookimpl
    def security_set_path_label(self, domain: Domain, path: str, kind: str, remember: bool) -> None:
        sl = self._managed(domain)
        if sl is None:
            return
        role = {"image": "top"}.get(kind, kind)
        res_kind = "image" if kind in ("image", "readonly", "backing", "shared") else kind
        extra = self._extra.setdefault(domain.uuid or "", {})
        extra[path] = FileResource(res_kind, path, remember, role=role)
        try:
            self._parser(*self.load_args, self.write_profile(domain))
        except Exception:
            extra.pop(path, None)
            self.write_profile(domain)
            raise

    @hookimpl
    def security_restore_path_label(self, domain: Domain, path: str, kind: str, recall: bool) -> None:
        sl = self._managed(domain)
        if sl is None or self._extra.get(domain.uuid or "", {}).pop(path, None) is None:
            return
        self._parser(*self.load_args, self.write_profile(domain))

    # ------------------------------------------------------------------ process
    @hookimpl
    def security_process_exec_attr(self, domain: Domain) -> tuple[str, str] | None:
        sl = domain_seclabel(domain)
        if sl is None or sl.type == "none" or not sl.label:
            return None
        return self.attr_exec_path, f"exec {sl.label}"

    @hookimpl
    def security_set_process_label(self, domain: Domain, cmd: Command) -> None:
        attr = self.security_process_exec_attr(domain)
        if attr is None:
            return
        target, request = attr

        def change_onexec() -> None:
            with open(target, "w", encoding="ascii") as f:
                f.write(request)

        cmd.add_pre_exec_hook("apparmor", change_onexec)

    @hookimpl
    def security_get_process_label(self, domain: Domain, pid: int) -> SecurityLabel:
        try:
            with open(f"/proc/{pid}/attr/current", encoding="ascii") as f:
                current = f.read().strip("\0\n ")
        except OSError as exc:
            raise SystemCallError(exc.errno or 0, f"unable to get PID {pid} security label") from exc
        name, _, mode = current.partition(" ")
        return SecurityLabel(name, mode.strip("()") == "enforce")
