"""Scheduler hooks of the test driver: libvirt's test driver's "fair" scheduler with one "weight".

libvirt's test driver (testDomainGetSchedulerType and friends) reports a
``fair`` scheduler whose one parameter, ``weight``, is an unsigned int of
50. Setting it checks the parameters exactly as a real driver would
(virTypedParamsValidate: only ``weight``, only as a UINT, only once) and is
then accepted without changing what is reported: libvirt's test driver has
nowhere to keep it (its source marks the store "XXX"), and ``virsh schedinfo
--set weight=N`` on ``test:///default`` prints 50 afterwards. Answering the
same is what lets virsh and libvirt-python scripts written against libvirt's
test driver run unchanged here.
"""

from __future__ import annotations

from pyvirt.drivers.test.marker import hookimpl
from pyvirt.drivers.test.state import TestState
from pyvirt.plugin.flags import check_flags
from pyvirt.plugin.records import DomainRef
from pyvirt.plugin.typed_params import TypedParam, TypedParamType, check_typed_params

__all__ = ["SchedulerHooks"]

SCHEDULER = "fair"
WEIGHT = "weight"  # VIR_DOMAIN_SCHEDULER_WEIGHT
DEFAULT_WEIGHT = 50
_ACCEPTED = {WEIGHT: TypedParamType.UINT}


class SchedulerHooks:
    """Mixed into the test connection; ``self.state`` comes from it."""

    state: TestState

    @hookimpl
    def domain_get_scheduler_type(self, dom: DomainRef) -> tuple[str, int]:
        self.state.find(dom)
        return (SCHEDULER, len(_ACCEPTED))

    @hookimpl
    def domain_get_scheduler_parameters(self, dom: DomainRef, flags: int) -> list[TypedParam]:
        # No flag at all, not even VIR_TYPED_PARAM_STRING_OKAY, which libvirt's public API adds to
        # every Flags call: the Flags variant of libvirt's test driver fails for every caller.
        check_flags(flags, 0, "testDomainGetSchedulerParametersFlags")
        self.state.find(dom)
        return [TypedParam(WEIGHT, TypedParamType.UINT, DEFAULT_WEIGHT)]

    @hookimpl
    def domain_set_scheduler_parameters(self, dom: DomainRef, params: list[TypedParam], flags: int) -> None:
        check_flags(flags, 0, "testDomainSetSchedulerParametersFlags")
        check_typed_params(params, _ACCEPTED)  # before the lookup, in libvirt's order
        self.state.find(dom)
