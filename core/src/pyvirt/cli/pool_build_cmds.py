"""``pool-build`` and ``pool-delete``: make or remove an inactive pool's storage (virsh-pool.c's cmdPoolBuild/Delete).

Kept apart from :mod:`pyvirt.cli.storage_cmds` so that the two commands
Ansible's ``virt_pool`` relies on (``command: build``, ``state: deleted``)
have their own small module. As virsh, the success line names the pool as
it was given (a UUID stays a UUID), and both build flags are passed on as
given: libvirt's backend, not virsh, refuses the pair.
"""

from __future__ import annotations

from pyvirt.cli.framework import CommandError, Opt, Session, command
from pyvirt.cli.lookup import get_pool
from pyvirt.errors import Error
from pyvirt.flags import StoragePoolBuildFlags

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

POOL = Opt("pool", "pool name or uuid", required=True, positional=True)


@command(
    "pool-build", "build a pool", POOL,
    Opt("no-overwrite", "do not overwrite any existing data", flag=True),
    Opt("overwrite", "overwrite any existing data", flag=True),
    description="Build a given pool.",
)  # fmt: skip
def cmd_pool_build(s: Session, o: dict[str, Any]) -> None:
    pool = get_pool(s, o["pool"])
    flags = StoragePoolBuildFlags.NEW
    if o["no-overwrite"]:
        flags |= StoragePoolBuildFlags.NO_OVERWRITE
    if o["overwrite"]:
        flags |= StoragePoolBuildFlags.OVERWRITE
    try:
        pool.build(int(flags))
    except Error as exc:
        raise CommandError(f"Failed to build pool {o['pool']}", exc.message) from None
    s.extra(f"Pool {o['pool']} built")


@command("pool-delete", "delete a pool", POOL, description="Delete a given pool.")
def cmd_pool_delete(s: Session, o: dict[str, Any]) -> None:
    pool = get_pool(s, o["pool"])
    try:
        pool.delete(0)
    except Error as exc:
        raise CommandError(f"Failed to delete pool {o['pool']}", exc.message) from None
    s.extra(f"Pool {o['pool']} deleted")
