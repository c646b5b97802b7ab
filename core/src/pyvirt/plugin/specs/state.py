"""State driver contract: what pyvirtd asks of a driver that keeps host state (libvirt's ``virStateDriver``).

libvirtd creates each driver's state once, at daemon start
(``stateInitialize``), and every client's connection then reaches that one
state. pyvirtd does the same through these hooks, implemented by the object
behind a ``pyvirt.hypervisor`` entry point (the one whose ``connect_open``
opens connections), never by a connection object. The daemon calls them one
driver at a time, in its own order (network and storage before the
hypervisors that use them; cleanup in the reverse order), so a driver that
fails to start is logged and the others go on, as libvirtd does.

Lifecycle, as libvirtd's: ``state_initialize`` at start; ``state_reload`` on
SIGHUP; on SIGTERM ``state_shutdown_prepare``, ``state_shutdown_wait`` and
``state_cleanup``. Guests and containers keep running through all of them:
a daemon that stops is not a host that shuts down.

Every spec is ``firstresult``: the daemon's manager for one driver holds
only that driver. A driver without these hooks is opened like any
connection instead (the daemon holds a connection to it).
"""

from __future__ import annotations

from pyvirt.plugin import hookspec

# ---------------------------------------------------------------- start


@hookspec(firstresult=True)
def state_initialize(privileged: bool, root: str | None) -> bool:
    """Create the driver's state for this daemon and hold it until ``state_cleanup``.

    Load the definitions and status files, find running guests or
    containers again (reconnecting to their monitors and controllers), and
    run autostart once per host boot: libvirt keeps a marker file
    ``autostarted`` in the driver's run directory, which lives on tmpfs, so
    its absence means a new boot. Every connection the daemon opens to the
    driver afterwards shares this state.

    :param privileged: the system instance (root): ``DRIVER:///system``'s
        paths; otherwise the per-user session paths (``DRIVER:///session``).
    :param root: an embedded root (``pyvirtd --root DIR``): the paths of
        ``DRIVER:///embed?root=DIR`` instead, whatever ``privileged`` says.
    :returns: True once the state is held (libvirt's
        VIR_DRV_STATE_INIT_COMPLETE); False when the driver does not serve
        this kind of instance (VIR_DRV_STATE_INIT_SKIPPED, e.g. LXC in a
        session daemon).
    :raises Error: the state cannot be created (VIR_DRV_STATE_INIT_ERROR).

    Stops at first non-None result.

    Added in contract 1.6.
    """


# ---------------------------------------------------------------- while running


@hookspec(firstresult=True)
def state_reload() -> None:
    """SIGHUP: read the driver's definitions again and start what autostart says should run.

    As libvirt's ``stateReload``: definitions added or changed on disk
    behind the daemon's back appear (persistent domains, networks, pools),
    autostart marks are read again, and networks and pools marked autostart
    that are not running are started. Running guests are left alone.

    Stops at first non-None result.

    Added in contract 1.6.
    """


# ---------------------------------------------------------------- stop


@hookspec(firstresult=True)
def state_shutdown_prepare() -> None:
    """The daemon is going down: begin no new work (autostart in progress stops after the current guest).

    Must return at once; the waiting is ``state_shutdown_wait``'s.

    Stops at first non-None result.

    Added in contract 1.6.
    """


@hookspec(firstresult=True)
def state_shutdown_wait(timeout: float) -> bool:
    """Wait until the jobs in flight (a start, a save) have ended; guests keep running.

    :param timeout: seconds to wait at most (libvirtd gives the whole
        shutdown 30 seconds before it exits regardless).
    :returns: True when nothing is in flight any more, False when the time
        ran out first.

    Stops at first non-None result.

    Added in contract 1.6.
    """


@hookspec(firstresult=True)
def state_cleanup() -> None:
    """Release the state ``state_initialize`` created: monitors, watchers, descriptors.

    Guests and containers keep running; the next ``state_initialize`` (a
    restarted daemon) finds them again from their status files.

    Stops at first non-None result.

    Added in contract 1.6.
    """
