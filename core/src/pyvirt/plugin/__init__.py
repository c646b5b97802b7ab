"""What plugin authors import: hook markers, the contract version, shared record types.

A hypervisor driver distribution declares an entry point in the
``pyvirt.hypervisor`` group named after its URI scheme, pointing at a driver
object that implements ``connect_open`` and declares ``pyvirt_contract``.
The connection object ``connect_open`` returns implements the hypervisor
(and, if it wants, secondary) specs in ``pyvirt.plugin.specs``.
"""

from __future__ import annotations

import pluggy

__all__ = ["CONTRACT_VERSION", "PROJECT", "hookimpl", "hookspec"]

PROJECT = "pyvirt"
CONTRACT_VERSION = "1.0"
"""Semantic version of the hook specs. Drivers declare the version they
implement (``pyvirt_contract``); same major and a minor not newer than this
one is accepted."""

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
