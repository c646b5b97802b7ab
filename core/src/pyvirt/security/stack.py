"""``SecurityStack``: libvirt's security manager over an ordered list of drivers.

Order comes from configuration, primary (MAC) driver first, DAC last. The
call semantics are libvirt's, not pluggy's:

- GenLabel runs for every driver, after libvirt's implicit-seclabel rule
  (a driver without a ``<seclabel>`` of its model gets a dynamic one only
  when it confines by default; a ``none`` label is refused when the host
  requires confinement);
- ReserveLabel, GetProcessLabel, model and DOI belong to the primary driver;
- SetAllLabel and the per-path label calls are all-or-nothing: a failure
  restores what earlier drivers did, in reverse order, then raises;
- RestoreAllLabel, ReleaseLabel and SetProcessLabel try every driver and
  report every failure together.
"""

from __future__ import annotations

from pyvirt.errors import Error, ErrorCode, ErrorDomain, InternalError, NotSupportedError
from pyvirt.plugin import PROJECT
from pyvirt.plugin.records import SecurityLabel

# Not typing's TYPE_CHECKING: the test driver builds this stack in short pyvirsh runs that import no typing
# (mypy treats any constant of that name as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any, NamedTuple

    # annotations only: a stack is built to answer the model and DOI (capabilities, nodeinfo) too,
    # which need no domain model and so not the domain modules and lxml
    from pyvirt.conf.domain import Domain, Seclabel
    from pyvirt.util.command import Command  # annotations only: importing it costs pyvirsh start-up
else:
    # a record without dataclasses: the test driver builds this stack in short pyvirsh runs
    from pyvirt.util.named_tuple import NamedTuple

__all__ = ["SecurityConfig", "SecurityStack", "load_security_stack"]

PROBE_ORDER = ("selinux", "apparmor", "none")


class SecurityConfig(NamedTuple):
    """``security_driver`` list (empty: probe), confinement policy, DAC identity."""

    drivers: tuple[str, ...] = ()
    default_confined: bool = True
    require_confined: bool = False
    dac_user: int = 0
    dac_group: int = 0
    dynamic_ownership: bool = True


class _Entry:
    __slots__ = ("default_confined", "driver", "name", "require_confined")

    def __init__(self, name: str, driver: Any, default_confined: bool, require_confined: bool) -> None:
        self.name = name
        self.driver = driver
        self.default_confined = default_confined
        self.require_confined = require_confined


def _validated(name: str, driver: Any) -> Any:
    """Register the driver with the security specs so a wrong signature fails at load time."""
    # here: a stack of drivers checked by a test (``checked=True``) needs neither pluggy nor the specs
    import pluggy

    from pyvirt.plugin.specs import security as security_specs

    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(security_specs)
    try:
        pm.register(driver, name=name)
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise InternalError(
            ErrorCode.INTERNAL_ERROR, f"security driver '{name}' does not match the hook specs: {exc}"
        ) from exc
    return driver


class SecurityStack:
    """The configured security drivers of a hypervisor driver, primary first, with libvirt's stack semantics.

    Label generation and the process label go to the primary driver only;
    labelling is all-or-nothing across the drivers (a failure rolls back what
    the earlier ones did); restoring tries every driver and reports every
    failure. pluggy's own call order and error handling are neither, hence
    this explicit stack.
    """

    def __init__(self, drivers: Sequence[tuple[str, Any]], config: SecurityConfig | None = None, *,
                 checked: bool = False) -> None:  # fmt: skip
        """``checked``: the drivers' hooks are validated against the specs by pluggy in a test (core's test
        driver's model, built by every short ``pyvirsh`` run that starts or stops a test:/// guest), so they
        are not registered again here at every start-up."""
        if not drivers:
            raise InternalError(ErrorCode.INTERNAL_ERROR, "a security stack needs at least one driver")
        cfg = config or SecurityConfig()
        self._entries = [
            _Entry(name, drv if checked else _validated(name, drv), cfg.default_confined and name != "none",
                   cfg.require_confined and name not in ("none", "dac"))
            for name, drv in drivers
        ]  # fmt: skip

    @property
    def primary(self) -> Any:
        return self._entries[0].driver

    @property
    def models(self) -> list[tuple[str, str]]:
        """(model, doi) of every driver, primary first (capabilities' ``<secmodel>``)."""
        return [(e.driver.security_get_model(), e.driver.security_get_doi()) for e in self._entries]

    def model(self) -> str:
        return str(self.primary.security_get_model())

    def doi(self) -> str:
        return str(self.primary.security_get_doi())

    def base_label(self, virt_type: str) -> str:
        """The primary driver's starting label for a virt type (libvirt's GetBaseLabel)."""
        getter = getattr(self.primary, "security_get_base_label", None)
        return str(getter(virt_type=virt_type)) if getter is not None else ""

    # ------------------------------------------------------------------ lifecycle
    def gen_label(self, domain: Domain) -> None:
        from pyvirt.conf.domain import Seclabel

        added: list[Seclabel] = []
        try:
            for entry in self._entries:
                model = entry.driver.security_get_model()
                labels = domain.seclabels or []
                sl = next((s for s in labels if s.model == model), None)
                if sl is None and len(labels) == 1 and labels[0].model is None and entry is self._entries[0]:
                    sl = labels[0]
                    sl.model = model
                if sl is None:
                    if not entry.default_confined:
                        continue
                    sl = Seclabel(type="dynamic", model=model, relabel=True, implicit=True)
                    domain.seclabels = [*labels, sl]
                    added.append(sl)
                elif sl.type == "none" and entry.require_confined:
                    raise NotSupportedError(
                        ErrorCode.CONFIG_UNSUPPORTED, "Unconfined guests are not allowed on this host",
                        domain=ErrorDomain.SECURITY,
                    )  # fmt: skip
                entry.driver.security_gen_label(domain=domain)
        except Exception:
            for entry in self._entries:
                # the label's own error is what the caller sees; a failing release on top of it is not
                # (try/except rather than contextlib.suppress: contextlib is not loaded in short pyvirsh runs)
                try:  # noqa: SIM105
                    entry.driver.security_release_label(domain=domain)
                except Exception:
                    pass
            domain.seclabels = [s for s in domain.seclabels or [] if s not in added] or None
            raise

    def reserve_label(self, domain: Domain, pid: int) -> None:
        self.primary.security_reserve_label(domain=domain, pid=pid)

    def release_label(self, domain: Domain) -> None:
        self._every("release_label", lambda d: d.security_release_label(domain=domain))

    def set_all_label(self, domain: Domain, incoming_path: str | None = None) -> None:
        self._all_or_nothing(
            lambda d: d.security_set_all_label(domain=domain, incoming_path=incoming_path),
            lambda d: d.security_restore_all_label(domain=domain, migrated=False),
        )

    def restore_all_label(self, domain: Domain, migrated: bool = False) -> None:
        self._every("restore_all_label", lambda d: d.security_restore_all_label(domain=domain, migrated=migrated))

    def set_process_label(self, domain: Domain, cmd: Command) -> None:
        self._every("set_process_label", lambda d: d.security_set_process_label(domain=domain, cmd=cmd))

    def process_exec_attrs(self, domain: Domain) -> list[tuple[str, str]]:
        """Every driver's process label as (procfs attribute, text), for a child that is not a ``Command``."""
        out: list[tuple[str, str]] = []
        for entry in self._entries:
            getter = getattr(entry.driver, "security_process_exec_attr", None)
            attr = getter(domain=domain) if getter is not None else None
            if attr is not None:
                out.append((str(attr[0]), str(attr[1])))
        return out

    def get_process_label(self, domain: Domain, pid: int) -> SecurityLabel:
        result: SecurityLabel = self.primary.security_get_process_label(domain=domain, pid=pid)
        return result

    def process_labels(self, domain: Domain, pid: int) -> list[SecurityLabel]:
        """Every driver's view of the process (``dominfo`` / virDomainGetSecurityLabelList)."""
        return [e.driver.security_get_process_label(domain=domain, pid=pid) for e in self._entries]

    def set_path_label(self, domain: Domain, path: str, kind: str = "image", remember: bool = True) -> None:
        self._all_or_nothing(
            lambda d: d.security_set_path_label(domain=domain, path=path, kind=kind, remember=remember),
            lambda d: d.security_restore_path_label(domain=domain, path=path, kind=kind, recall=remember),
        )

    def restore_path_label(self, domain: Domain, path: str, kind: str = "image", recall: bool = True) -> None:
        self._every(
            "restore_path_label",
            lambda d: d.security_restore_path_label(domain=domain, path=path, kind=kind, recall=recall),
        )

    # ------------------------------------------------------------------ the guest's own files
    def _dac(self) -> Any:
        from pyvirt.security.dac import DacDriver

        return next((e.driver for e in self._entries if isinstance(e.driver, DacDriver)), None)

    def process_ids(self, domain: Domain, default: tuple[int, int]) -> tuple[int, int]:
        """uid/gid the guest's process will run as (DAC's label), ``default`` without a DAC driver."""
        dac = self._dac()
        if dac is None:
            return default
        ids: tuple[int, int] = dac.process_ids(domain)
        return ids

    def hand_over_labels(self, domain: Domain, pid: int) -> None:
        """Once the guest's process ``pid`` runs, it (not the starting process) keeps the remembered labels.

        A start that dies between labelling and this call leaves references owned by a dead
        process, which the next start that needs those files drops (see remembered.py).
        """
        dac = self._dac()
        if dac is not None:
            dac.hand_over(domain, pid)

    # ------------------------------------------------------------------ semantics
    def _all_or_nothing(self, do: Callable[[Any], None], undo: Callable[[Any], None]) -> None:
        done: list[Any] = []
        for entry in self._entries:
            try:
                do(entry.driver)
            except Exception:
                for drv in reversed(done):
                    try:  # noqa: SIM105 (the first failure is the one raised, as in gen_label)
                        undo(drv)
                    except Exception:
                        pass
                raise
            done.append(entry.driver)

    def _every(self, what: str, call: Callable[[Any], None]) -> None:
        failures: list[str] = []
        first: Exception | None = None
        for entry in self._entries:
            try:
                call(entry.driver)
            except Exception as exc:
                failures.append(f"{entry.name}: {exc}")
                first = first or exc
        if failures:
            if len(failures) == 1 and isinstance(first, Error):
                raise first
            raise InternalError(ErrorCode.INTERNAL_ERROR, f"{what} failed for " + "; ".join(failures)) from first


def load_security_stack(config: SecurityConfig) -> SecurityStack:
    """Build the stack from configuration; without a driver list probe selinux → apparmor → none."""
    from pyvirt.plugin.registry import load_driver

    names = list(config.drivers)
    if not names:
        for candidate in PROBE_ORDER:
            try:
                drv = _make(candidate, config, load_driver)
            except Error:
                continue
            if str(drv.security_probe()).startswith("enabled"):
                names = [candidate]
                break
    names = [n for n in names if n != "dac"]
    entries = [(n, _make(n, config, load_driver)) for n in names]
    entries.append(("dac", _make("dac", config, load_driver)))
    return SecurityStack(entries, config)


def _make(name: str, config: SecurityConfig, load_driver: Callable[[str, str], Any]) -> Any:
    if name == "dac":
        from pyvirt.security.dac import DacDriver

        return DacDriver(config.dac_user, config.dac_group, config.dynamic_ownership)
    if name == "none":
        from pyvirt.security.none import NoneDriver

        return NoneDriver()
    try:
        return load_driver("security", name)
    except Error as exc:
        if exc.code != ErrorCode.NO_CONNECT:  # installed but broken: that error says more
            raise
        # libvirt's virSecurityDriverLookup for a security_driver name it has no driver for.
        raise InternalError(ErrorCode.INTERNAL_ERROR, f"Security driver {name} not found") from exc
