"""pyVmomi as this driver imports it: the vSphere (``vim``) API's type information only.

Why: a short ``pyvirsh -c esx://... list`` pays for every import, and
importing ``pyVmomi`` loads the type information of six SOAP endpoints, of
which a libvirt-style driver talks to one (``/sdk``, the ``vim`` API). The
others (ESX Agent Manager, storage policies, storage monitoring, first-class
disks, vSAN health) are a third of pyVmomi's import time. pyVmomi loads each
of them under ``try: ... except ImportError`` (its way of coping with trimmed
installations); marking them unimportable for the duration of the first
``import pyVmomi`` skips them. The marks are removed right after, so a program
that needs those endpoints can still import their type modules itself; one that
imported ``pyVmomi`` before this module gets the full load and is untouched.
"""

from __future__ import annotations

import sys
from typing import Any

# pyVmomi modules that describe endpoints other than /sdk (pyVmomi/_typeinfos.py loads them optionally)
OTHER_ENDPOINTS = ("eam", "pbm", "sms", "vslm", "vsanhealth")

if "pyVmomi" not in sys.modules:
    _marked = [
        f"pyVmomi._typeinfo_{name}" for name in OTHER_ENDPOINTS if f"pyVmomi._typeinfo_{name}" not in sys.modules
    ]
    for _name in _marked:
        sys.modules[_name] = None  # type: ignore[assignment]  # None in sys.modules: "import fails", by design
    try:
        import pyVmomi  # noqa: F401
    finally:
        for _name in _marked:
            if sys.modules.get(_name, 0) is None:
                del sys.modules[_name]

from pyVmomi import SoapAdapter as _SoapAdapter  # noqa: E402
from pyVmomi import VmomiSupport as _VmomiSupport  # noqa: E402
from pyVmomi import vim, vmodl  # noqa: E402

# pyVmomi's serializer, stub and type registry carry no annotations: to mypy they are what they are, Any
SoapAdapter: Any = _SoapAdapter
SoapStubAdapter: Any = _SoapAdapter.SoapStubAdapter
VmomiSupport: Any = _VmomiSupport

__all__ = ["OTHER_ENDPOINTS", "SoapAdapter", "SoapStubAdapter", "VmomiSupport", "vim", "vmodl"]
