"""A kit for driver authors: contract test suites to run against their own driver.

Subclass a suite in your test suite, provide its fixtures, and pytest
collects the tests (pytest is the only requirement; install ``pyvirt[test]``):

- :class:`pyvirt.testing.hypervisor.HypervisorDriverContract`: open and close,
  list and lookup, define/undefine round trip, the lifecycle state machine,
  lifecycle events, libvirt's error codes, read-only refusal;
- :class:`pyvirt.testing.security.SecurityDriverContract`: the label
  lifecycle (GenLabel, SetAllLabel, SetProcessLabel, GetProcessLabel,
  RestoreAllLabel, ReleaseLabel) alone and inside core's stack, with the
  rollback when a later driver fails.

:mod:`pyvirt.testing.corpus` scores a driver against libvirt's own test
corpora (input to expected output, as libvirt's test programs run them).
:mod:`pyvirt.testing.doubles` holds test doubles that are real
implementations of the contract (an event recorder, a security driver that
records its calls and fails on request), and :mod:`pyvirt.testing.sources`
fetches the test data (libvirt's source tree, a tiny Linux guest) or says why not.
:mod:`pyvirt.testing.virsh` runs one command line as a script does, so a
driver's pyvirsh output can be put beside Debian's virsh against libvirtd.

Core runs both against its own drivers (``test:///`` and ``none``/``dac``),
so a suite that fails on a third-party driver points at the driver, not at
the kit. Why in the wheel: a driver out of tree has no other way to learn
that it behaves as pyvirt's callers (pyvirsh, pyvirtd, libvirt clients) expect.
"""

from __future__ import annotations

__all__ = ["corpus", "doubles", "hypervisor", "security", "sources", "virsh"]
