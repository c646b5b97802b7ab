"""Hook specifications: the contracts drivers implement (the reference documentation).

- ``hypervisor``: open a connection and manage domains (one driver per connection).
- ``secondary``: networks, storage, secrets, node devices, host interfaces.
- ``security``: the label lifecycle, implemented by security drivers and
  driven by ``pyvirt.security``'s stack, never called through pluggy's order.
- ``state``: what pyvirtd asks of a driver with host state (libvirt's
  stateInitialize/stateReload/stateCleanup and the shutdown pair),
  implemented by the entry point's driver object, not by connections.

Every hypervisor/secondary spec is ``firstresult``: the connection's one
driver answers. A driver that lacks a hook makes the call fail with
NO_SUPPORT ("this function is not supported by the connection driver").

Each hypervisor and secondary hook has one row in :mod:`pyvirt.plugin.api`
(its libvirt API name, whether a read-only connection may call it, the
contract version that added it); a new hook needs its row there too.
"""

# The submodules are not imported here: a connection needs hypervisor, secondary and state (a driver
# object carries both its ``connect_open`` and its state hooks), and ``from pyvirt.plugin.specs import
# security`` loads the last when the security stack does.
__all__ = ["hypervisor", "secondary", "security", "state"]
