"""What each remote procedure does in pyvirtd: wire arguments -> driver hooks -> wire result.

Procedures that carry one hook each are the rows of
:data:`pyvirt.remote.calls.CALLS` read backwards (the same hook, the same
procedure; a test checks that every procedure the client sends for a hook is
served here by that hook). The rest are libvirt's own conveniences built
from the hooks, as libvirt builds them in its drivers: ``virDomainIsActive``
from the domain's flags, the old ``virConnectListDomains``/``NumOf*`` calls
from the full list, ``virDomainGetOSType`` from the definition.

Values on the wire: records travel as tuples in the ``.x`` field order, UUIDs
as 16 bytes, booleans as ints, fixed ``char[]`` buffers as NUL-padded bytes.
"""

from __future__ import annotations

# importing the modules registers their handlers in HANDLERS
from pyvirt.daemon.procedures import (  # noqa: F401
    connection,
    domains,
    events,
    guest_agent,
    guest_fs,
    iothreads,
    migration,
    nwfilters,
    objects,
    tuning,
)
from pyvirt.daemon.procedures.table import HANDLERS, NO_CONNECTION_NEEDED, ONE_HOOK, WITH_FDS

__all__ = ["HANDLERS", "NO_CONNECTION_NEEDED", "ONE_HOOK", "WITH_FDS"]
