"""A local driver's configuration file (``qemu.conf``, ``lxc.conf``) as a typed, validated object.

libvirt reads each of these files with ``virConf`` and a getter per setting
that insists on the setting's type ("expected a bool for 'X' parameter").
pyvirt does the same in one place: the text is read by the one parser of
libvirt's syntax (:mod:`pyvirt.util.virconf`), then checked against a
pydantic model the driver declares. Why pydantic here and not in hot paths:
a configuration is read once per driver start (once per pyvirtd, or once per
process in direct mode), so its import cost never lands on a short command.

What is refused, each with VIR_ERR_CONF_SYNTAX and ``FILE:LINE: KEY: why``:
a value of the wrong type (a quoted ``"1"`` for a bool, as libvirt refuses
it), a value out of range, and a key that neither pyvirt nor libvirt knows
(a typo would otherwise be silently ignored). A key that libvirt knows and
pyvirt does not implement is logged and ignored, so a ``qemu.conf`` copied
from a libvirt host still loads. A missing file is the driver's defaults.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from pyvirt.errors import Error, ErrorCode, ErrorDomain
from pyvirt.security.stack import SecurityConfig
from pyvirt.util.virconf import read_conf_lines

__all__ = ["ConfBool", "ConfStrList", "DriverSettings", "SecuritySettings", "load_driver_config"]

log = logging.getLogger("pyvirt.local_driver.driver_config")

M = TypeVar("M", bound="DriverSettings")


def _conf_bool(value: object) -> bool:
    """libvirt's ``virConfGetValueBool``: an integer 0 or 1, nothing else (not ``"1"``, not ``yes``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("expected a bool (0 or 1)")
    if value not in (0, 1):
        raise ValueError("must be 0 or 1")
    return bool(value)


def _str_list(value: object) -> tuple[str, ...]:
    """libvirt's ``virConfGetValueStringList`` with "compat" on: a list of strings, or one string."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError("expected a string or a list of strings")


ConfBool = Annotated[bool, BeforeValidator(_conf_bool)]
"""A boolean setting written as libvirt writes it: ``0`` or ``1``."""

ConfStrList = Annotated[tuple[str, ...], BeforeValidator(_str_list)]
"""A setting that takes one string or a ``[ "a", "b" ]`` list."""


class DriverSettings(BaseModel):
    """Base of every driver's settings: frozen, no key it does not declare."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    libvirt_keys: ClassVar[frozenset[str]] = frozenset()
    """Keys libvirt's own file of the same name accepts: one here and not in the model is logged and ignored."""


class SecuritySettings(DriverSettings):
    """The security settings ``qemu.conf`` and ``lxc.conf`` share, with libvirt's meaning.

    ``security_driver`` names the stack in order (``[ "selinux", "dac" ]``):
    unset means probe (selinux, then apparmor, then none), ``"none"`` means
    no confining driver, and any installed ``pyvirt.security`` entry point
    may be named, so an out-of-tree security driver is selected by
    configuration alone. DAC always ends the stack, as in libvirt.
    """

    security_driver: ConfStrList = ()
    security_default_confined: ConfBool = True
    security_require_confined: ConfBool = False

    def security_config(
        self, *, dac_user: int = 0, dac_group: int = 0, dynamic_ownership: bool = True
    ) -> SecurityConfig:
        """The security stack's configuration these settings describe."""
        return SecurityConfig(
            drivers=self.security_driver,
            default_confined=self.security_default_confined,
            require_confined=self.security_require_confined,
            dac_user=dac_user,
            dac_group=dac_group,
            dynamic_ownership=dynamic_ownership,
        )


def _error(path: str, line: int | None, key: str, why: str) -> Error:
    where = f"{path}:{line}" if line is not None else path
    return Error(ErrorCode.CONF_SYNTAX, f"{where}: {key}: {why}", domain=ErrorDomain.CONF)


def load_driver_config(path: str, model: type[M]) -> M:
    """``path`` read and validated as ``model``; see the module docstring for what is refused."""
    values, lines = read_conf_lines(path)
    known = set(model.model_fields)
    accepted: dict[str, Any] = {}
    for key, value in values.items():
        if key in known:
            accepted[key] = value
        elif key in model.libvirt_keys:
            log.info("%s:%d: '%s' is a libvirt setting pyvirt does not implement; ignored", path, lines[key], key)
        else:
            raise _error(path, lines.get(key), key, "unknown setting")
    try:
        return model.model_validate(accepted)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = str(first["loc"][0]) if first["loc"] else "?"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise _error(path, lines.get(key), key, message) from None
