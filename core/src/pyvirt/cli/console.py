"""The ``pyvirsh`` executable: process-level start and exit around :func:`pyvirt.cli.main.main`.

A ``pyvirsh`` run is short, and its cost is start-up: this module is the
console-script entry point so that the two process-wide settings that pay
off are made before anything heavy is imported, and undone by nobody, since
the process ends right after. ``main()`` stays an ordinary function that
callers and tests use without these effects.
"""

import _imp
import gc
import marshal
import os
import sys

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from _collections_abc import Sequence
    from importlib.machinery import ModuleSpec
    from importlib.machinery import ModuleSpec as _ModuleSpec
    from importlib.machinery import SourceFileLoader as _SourceFileLoader
    from importlib.util import MAGIC_NUMBER as _PYC_MAGIC
    from types import CodeType, ModuleType
    from typing import NoReturn
else:  # the import system's own classes, loaded with the interpreter: importlib itself is not imported
    _ModuleSpec = sys.modules["_frozen_importlib"].ModuleSpec
    _SourceFileLoader = sys.modules["_frozen_importlib_external"].SourceFileLoader
    _PYC_MAGIC = sys.modules["_frozen_importlib_external"].MAGIC_NUMBER

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
    if "lxml.etree" not in sys.modules:
        sys.meta_path.insert(0, _LxmlFirstImport())
    if not sys.flags.optimize and sys.pycache_prefix is None:
        sys.meta_path.insert(0, _InstalledBytecode())
    from pyvirt.cli.main import main

    try:
        rc = main()
    except BrokenPipeError:
        if not _reader_gone():
            raise
        _die_of_sigpipe()
    _leave(rc)


class _LxmlFirstImport:
    """Puts :mod:`pyvirt.util.lxml_import`'s finder in place when ``lxml.etree`` is first imported, not before.

    That finder spares lxml's init the inspect, gzip and typing modules (the
    module says why); loading it, about a million instructions, is paid only
    by the runs that read or write XML, not by ``destroy``, ``start`` or
    ``list`` through pyvirtd. Every other name is declined at once.
    """

    def find_spec(
        self, fullname: str, path: "Sequence[str] | None", target: "ModuleType | None" = None
    ) -> "ModuleSpec | None":
        if fullname != "lxml.etree":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        from pyvirt.util.lxml_import import install

        install()  # its finder goes first in sys.meta_path and answers this very import
        # The import system is walking sys.meta_path, which changed under it: ask the finders here and answer.
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            spec = None if find is None else find(fullname, path, target)
            if spec is not None:
                return spec  # type: ignore[no-any-return]
        return None


class _InstalledBytecode:
    """Finds a pyvirt module or package (core's or a plugin's) by its up-to-date bytecode in ``__pycache__``.

    Why: a remote ``destroy`` imports about thirty pyvirt modules, and the
    standard path finder costs each about 240,000 instructions before the
    module's own code runs (the path hooks, the directory cache, the suffix
    loop, then the loader's stat, open, header checks, each a few Python
    frames deep): a sixth of the whole run. The file names are known from the
    parent package's one directory, so this finder opens the bytecode (a
    package's first, as the standard finder prefers a package to a module of
    the same name), checks its header exactly as the standard loader does
    (magic number, timestamp flags, the source's mtime and size) and hands the
    bytes to a ``SourceFileLoader`` that unmarshals them; a module then costs
    about 100,000. Anything else (no bytecode, a stale or hash-based one, a
    module of another distribution than pyvirt's, ``-O``, a
    ``pycache_prefix``) is declined, and the standard finders handle it as
    always, writing bytecode where they would. Used by the console script
    only: a long-lived process pays its imports once.
    """

    def find_spec(
        self, fullname: str, path: "Sequence[str] | None", target: "ModuleType | None" = None
    ) -> "ModuleSpec | None":
        if path is None or len(path) != 1 or not fullname.startswith(("pyvirt.", "pyvirt_")):
            return None
        directory = path[0]
        name = fullname.rpartition(".")[2]
        tag = sys.implementation.cache_tag
        package = f"{directory}/{name}"
        for source, cached, is_package in (
            (f"{package}/__init__.py", f"{package}/__pycache__/__init__.{tag}.pyc", True),
            (f"{package}.py", f"{directory}/__pycache__/{name}.{tag}.pyc", False),
        ):
            try:
                fd = os.open(cached, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            except OSError:
                return None
            try:
                size = os.fstat(fd).st_size
                data = os.read(fd, size)
                stat = os.stat(source)
            except OSError:
                return None
            finally:
                os.close(fd)
            if len(data) != size:  # a short read (being rewritten): the standard loader decides
                return None
            stamp = (int(stat.st_mtime) & 0xFFFFFFFF) | (stat.st_size & 0xFFFFFFFF) << 32
            if data[:16] != _PYC_MAGIC + b"\0\0\0\0" + stamp.to_bytes(8, "little"):
                return None
            spec = _ModuleSpec(fullname, _BytecodeLoader(fullname, source, data), origin=source, is_package=is_package)
            if is_package:
                spec.submodule_search_locations = [package]
            spec.has_location = True
            spec.cached = cached
            return spec
        return None


class _BytecodeLoader(_SourceFileLoader):
    """A ``SourceFileLoader`` (so ``get_source``, ``get_data`` and resource readers work as always) whose
    first ``get_code`` unmarshals the bytecode :class:`_InstalledBytecode` read and checked already."""

    def __init__(self, fullname: str, path: str, data: bytes) -> None:
        self.name = fullname
        self.path = path
        self._checked: bytes | None = data

    def get_code(self, fullname: str) -> "CodeType | None":
        data, self._checked = self._checked, None
        if data is None or fullname != self.name:
            return super().get_code(fullname)
        code = marshal.loads(memoryview(data)[16:])
        # as the standard loader: the code names the source's path, wherever the bytecode was compiled
        _imp._fix_co_filename(code, self.path)  # type: ignore[attr-defined]
        return code  # type: ignore[no-any-return]


def _leave(rc: int) -> None:
    import atexit

    run_exitfuncs = getattr(atexit, "_run_exitfuncs", None)
    # Not imported for this: a run that never imported threading (pyvirsh over the local socket) started no
    # thread the interpreter would wait for (threads of _thread, as the RPC client's reader, never are).
    threading = sys.modules.get("threading")
    others: list[object] = []
    if threading is not None:
        main_thread = threading.main_thread()
        others = [t for t in threading.enumerate() if t is not main_thread and not t.daemon]
    if run_exitfuncs is None or others:
        sys.exit(rc)
    run_exitfuncs()  # the interpreter's order: threads joined (none left), atexit, then the streams
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        if _reader_gone():
            _die_of_sigpipe()
        sys.exit(rc)
    except (OSError, ValueError):
        sys.exit(rc)  # let the interpreter report the stream as it always does
    os._exit(rc)


def _reader_gone() -> bool:
    """True when whoever read our stdout or stderr has closed its end (``pyvirsh help | head``).

    Only then is a ``BrokenPipeError`` the reader's doing; one from anywhere
    else (a socket to a daemon, a monitor) is a bug and keeps its traceback.
    A pipe whose read end is closed polls as ``POLLERR``.
    """
    import select

    poller = select.poll()
    for fd in (1, 2):
        poller.register(fd, 0)
    try:
        return any(ev & select.POLLERR for _, ev in poller.poll(0))
    except OSError:
        return False


def _die_of_sigpipe() -> "NoReturn":
    """End as virsh does when its reader goes away: killed by SIGPIPE, nothing on stderr.

    Python ignores SIGPIPE and turns it into ``BrokenPipeError``, whose
    traceback (and the interpreter's own complaint when it flushes stdout at
    exit) is noise after ``| head``. The shell sees status 141 from virsh;
    pyvirsh gives it the same.
    """
    import signal

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # whatever is still buffered goes nowhere, quietly
    os.dup2(devnull, 2)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGPIPE])
    os.kill(os.getpid(), signal.SIGPIPE)
    os._exit(128 + signal.SIGPIPE)  # not reached: SIGPIPE's default action ends the process
