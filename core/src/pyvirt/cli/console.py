"""The ``pyvirsh`` executable: process-level start and exit around :func:`pyvirt.cli.main.main`.

A ``pyvirsh`` run is short, and its cost is start-up: this module is the
console-script entry point so that the two process-wide settings that pay
off are made before anything heavy is imported, and undone by nobody, since
the process ends right after. ``main()`` stays an ordinary function that
callers and tests use without these effects.
"""

import gc
import os
import sys

__all__ = ["console_main"]

# Young-generation collections every 100,000 allocations instead of every 700: loading the
# CLI, pluggy and a driver allocates (and keeps) tens of thousands of objects, which set off
# about thirty collections that find nothing to free, 3-4 ms of a 45 ms ``pyvirsh list``.
# Cycles are still collected, just later; long-running commands (``event --loop``) keep working.
_YOUNG_THRESHOLD = 100_000


def console_main() -> None:
    """Run ``pyvirsh``, then leave without tearing the interpreter down.

    Why: finalization frees every module and object one at a time, 10-15 ms
    of a 60 ms ``pyvirsh list`` on this host, for a process whose memory the
    kernel is about to reclaim whole. By the time ``main()`` returns the
    session's connections are closed; what remains is done here: the
    ``atexit`` handlers run (logging's among them) and the standard streams
    are flushed. Whenever that is not the whole story (a stream that cannot
    be flushed, a non-daemon thread still running, an interpreter without
    ``atexit._run_exitfuncs``) the normal ``sys.exit`` path is taken instead.
    """
    _, middle, old = gc.get_threshold()
    gc.set_threshold(_YOUNG_THRESHOLD, middle, old)
    from pyvirt.cli.main import main

    _leave(main())


def _leave(rc: int) -> None:
    import atexit
    import threading

    run_exitfuncs = getattr(atexit, "_run_exitfuncs", None)
    main_thread = threading.main_thread()
    others = [t for t in threading.enumerate() if t is not main_thread and not t.daemon]
    if run_exitfuncs is None or others:
        sys.exit(rc)
    run_exitfuncs()  # the interpreter's order: threads joined (none left), atexit, then the streams
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(rc)  # let the interpreter report the stream as it always does
    os._exit(rc)
