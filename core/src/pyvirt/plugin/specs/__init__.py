"""Hook specifications: the contracts drivers implement (the reference documentation).

- ``hypervisor``: open a connection and manage domains (one driver per connection).
- ``secondary``: networks, storage, secrets, node devices, host interfaces.
- ``security``: the label lifecycle, implemented by security drivers and
  driven by ``pyvirt.security``'s stack, never called through pluggy's order.

Every hypervisor/secondary spec is ``firstresult``: the connection's one
driver answers. A driver that lacks a hook makes the call fail with
NO_SUPPORT ("this function is not supported by the connection driver").

Each hypervisor and secondary hook has one row in :mod:`pyvirt.plugin.api`
(its libvirt API name, whether a read-only connection may call it, the
contract version that added it); a new hook needs its row there too.
"""

# The submodules are not imported here: a connection needs hypervisor and secondary only,
# and ``from pyvirt.plugin.specs import security`` loads the third when the security stack does.
__all__ = ["hypervisor", "secondary", "security"]
