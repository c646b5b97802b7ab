"""Import ``lxml.etree`` in a pyvirsh process without loading :mod:`inspect`, :mod:`gzip`, :mod:`typing`,
:mod:`contextlib`, :mod:`re`, :mod:`collections`, :mod:`functools`, :mod:`operator` and :mod:`types` for it.

Why: lxml's compiled module, when it is initialised, runs
``from inspect import getfullargspec`` (``parsertarget.pxi``: for parser
targets whose ``start`` method it must introspect), ``import gzip`` /
``from gzip import GzipFile`` (``serializer.pxi``: for output written with
``compression=N``), ``from contextlib import contextmanager`` (the same
file: the opener of ``ElementTree.write``'s file) and
``from typing import Generic, TypeVar`` (``etree.pyx``: the base of its
``ElementTree`` factory class). pyvirsh uses none of them, yet every short
command that reads or writes XML paid for all: :mod:`inspect` brings ``ast``,
``dis``, ``tokenize`` and ``linecache`` (about 22 million instructions in a
pyvirsh ``dumpxml``, a tenth of the run; virsh's whole ``dominfo`` is 44
million), :mod:`typing` with :mod:`contextlib` and :mod:`warnings` about 16
million, :mod:`gzip` ``zlib``, ``struct`` and ``_compression`` about 4 million.
It also reads seven names of :mod:`collections` (with ``keyword``,
``reprlib``), :mod:`collections.abc`, :mod:`functools`, :mod:`operator` and
:mod:`types` (``OrderedDict``, ``MutableMapping``, ``Sequence``,
``partial``, ``eq``, ``itemgetter``, ``GenericAlias``): each is an object
those modules themselves take from a module loaded at start-up
(``_collections``, ``_collections_abc``, ``_functools``, ``_operator``, the
type of ``list[int]``), so the stand-ins give lxml the very same objects,
and spare the eight million instructions of loading the modules.

How, exactly rather than hopefully: :func:`install` puts a finder at the
front of ``sys.meta_path``. The only name it answers is ``lxml.etree``; it
asks the other finders for the real spec and wraps its loader, so that while
the extension module's init runs (``create_module`` and ``exec_module``:
Cython modules use multi-phase init, older ones do all their work in the
first), and only then, each of those modules that is not loaded yet is a
stand-in in ``sys.modules``:

- the names lxml binds from it are functions that import the real module
  when called and return the real function's (or class's) answer; lxml only
  ever calls these, never compares them (``contextmanager`` it applies once,
  to a generator function, and the result is only called);
- ``typing.Generic`` and ``TypeVar`` are the exception: lxml subclasses
  ``Generic[T]`` once, in ``class ElementTree(ABC, Generic[T])``. The stand-in
  gives a small base class whose ``ElementTree[X]`` is a ``types.GenericAlias``,
  as for the builtin collections. In a pyvirsh process ``etree.ElementTree``
  is therefore not a ``typing.Generic`` subclass; it still makes trees and
  recognises them (its ABC registration is lxml's own). pyvirsh never asks
  typing about lxml's classes, and a thread that imported ``typing`` during
  those microseconds would get this ``Generic``: pyvirsh starts none then;
- any other name is answered by the real module, imported on first use
  (PEP 562 module ``__getattr__``), so even an import of the module by another
  thread during that window gets the real objects.

Right after, the stand-ins leave ``sys.modules`` (unless a real module
replaced one meanwhile), the spec and the module get the real loader back,
and the finder leaves ``sys.meta_path``: a later ``import inspect`` (or
typing...) loads the real module, and ``lxml.etree`` looks as if imported
without any of this. lxml keeps what it bound (the functions, the base
class, and the ``gzip`` stand-in in a C global no Python code can reach).

What it relies on: lxml using only those names of those modules (true of lxml
6 to 6.2; lxml 5.0's init also reads ``inspect.isgenerator``, so there it
still works, answered by the real module, only without the saving of inspect), and the import system's documented
loader protocol (PEP 451, PEP 489). :mod:`re` is spared too (with ``enum``
it brings, about twenty million instructions): the ten patterns lxml keeps
are compiled when first used (``re.compile`` is stood in for), the two flags
it reads are their constant values, and its one ``re.match`` at init, the
leading digits of libxml2's version string (``_LIBXML_VERSION_INT``), is
answered without :mod:`re` (any other pattern goes to the real module). A
``find()``/``findall()`` with a path then compiles ``_elementpath``'s
tokenizer, and so loads :mod:`re`: pyvirt's models and the test driver walk
children with ``iterchildren(tag)`` instead (``pyvirt.conf.xmlparse``).

Only pyvirsh's console entry point installs it: a library must not change
what its caller's ``import`` statements do, so ``import pyvirt`` never does.
"""

from __future__ import annotations

import _collections  # type: ignore[import-not-found]  # (C modules typeshed has no stubs for)
import _collections_abc
import _functools  # type: ignore[import-not-found]
import _operator
import sys

TYPE_CHECKING = False  # not typing's: this module is on every pyvirsh run, which typing would slow
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any

__all__ = ["install"]

_TARGET = "lxml.etree"
_MARK = "_pyvirt_stand_in"


def _real(name: str) -> ModuleType:
    """The real module ``name``, imported now if need be (also while its stand-in is in ``sys.modules``)."""
    current = sys.modules.get(name)
    if current is not None and not getattr(current, _MARK, False):
        return current
    package = name.rpartition(".")[0]
    if package:
        _real(package)  # a submodule is imported from its real package, never from a stand-in
    if current is not None:
        del sys.modules[name]  # the real module takes the stand-in's place for good
    __import__(name)
    return sys.modules[name]


def _getfullargspec(func: object) -> Any:
    """What lxml binds as ``inspect.getfullargspec``: the real function, imported when first called."""
    return _real("inspect").getfullargspec(func)


def _gzip_file(*args: Any, **kwargs: Any) -> Any:
    """What lxml binds as ``gzip.GzipFile`` (and reads from its ``gzip``): a real ``GzipFile``, made by the
    real class, imported when lxml first writes compressed output."""
    return _real("gzip").GzipFile(*args, **kwargs)


def _contextmanager(func: Callable[..., Any]) -> Callable[..., Any]:
    """What lxml binds as ``contextlib.contextmanager`` and applies, at init, to one generator (the file it
    opens for ``ElementTree.write``): each call returns what the real decorator's function returns."""

    def helper(*args: Any, **kwargs: Any) -> Any:
        return _real("contextlib").contextmanager(func)(*args, **kwargs)

    helper.__name__, helper.__qualname__, helper.__doc__ = func.__name__, func.__qualname__, func.__doc__
    return helper


class _TypeParameter:
    """What lxml's ``TypeVar("T")`` gets: a name for ``Generic[T]`` (lxml deletes both right after)."""

    __slots__ = ("__name__",)

    def __init__(self, name: str, *constraints: object, **options: object) -> None:
        self.__name__ = name

    def __repr__(self) -> str:
        return f"~{self.__name__}"


class _GenericBase:
    """The base ``Generic[T]`` gives lxml's ``ElementTree`` factory class (``class ElementTree(ABC, Generic[T])``,
    lxml 6), so that ``etree.ElementTree[X]`` is still subscriptable, as the builtin collections are."""

    __slots__ = ()

    def __class_getitem__(cls, item: object) -> object:
        alias: Any = type(list[int])  # types.GenericAlias, without importing types for it
        return alias(cls, item)


class _Generic:
    """What lxml binds as ``typing.Generic``: subscripted once at init, as a class's base."""

    def __class_getitem__(cls, params: object) -> type:
        return _GenericBase


class _DigitsMatch:
    """What ``re.match("[0-9]+", text)`` gives lxml's init: the leading digits of libxml2's version string.

    lxml only calls ``group()`` on it; any other attribute is the real match object's.
    """

    __slots__ = ("_digits", "_text")

    def __init__(self, digits: str, text: str) -> None:
        self._digits = digits
        self._text = text

    def group(self, *indices: int) -> str | tuple[str, ...]:
        if indices in ((), (0,)):
            return self._digits
        return _real("re").match(_DIGITS, self._text).group(*indices)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(_real("re").match(_DIGITS, self._text), name)


_DIGITS = "[0-9]+"


def _match(pattern: object, string: object, flags: int = 0) -> Any:
    """What lxml binds as ``re.match``: its one pattern at init (leading ASCII digits) answered here, any other
    by the real module."""
    if pattern == _DIGITS and flags == 0 and isinstance(string, str):
        end = 0
        while end < len(string) and string[end] in "0123456789":
            end += 1
        return _DigitsMatch(string[:end], string) if end else None
    return _real("re").match(pattern, string, flags)


class _LazyPattern:
    """What ``re.compile`` gives lxml's init (and its ``_elementpath``'s): the pattern, compiled by the real
    :mod:`re` the first time one of its methods is called.

    lxml compiles ten patterns at init (public ids, processing instructions,
    encoding declarations in text input, objectify paths, XSLT ...) and keeps
    their bound ``match``/``search``/``findall``/``sub``: compiling them cost
    every XML-reading pyvirsh command about five million instructions, for
    patterns it mostly never uses. Any other attribute compiles at once.
    """

    __slots__ = ("_args", "_compiled")

    _METHODS = frozenset({"match", "fullmatch", "search", "findall", "finditer", "sub", "subn", "split"})

    def __init__(self, pattern: str | bytes, flags: int = 0) -> None:
        self._args = (pattern, flags)
        self._compiled: Any = None

    def _pattern(self) -> Any:
        if self._compiled is None:
            self._compiled = _real("re").compile(*self._args)
        return self._compiled

    def __getattr__(self, name: str) -> Any:
        if name not in _LazyPattern._METHODS:
            return getattr(self._pattern(), name)

        def method(*args: Any, **kwargs: Any) -> Any:
            return getattr(self._pattern(), name)(*args, **kwargs)

        return method


# module -> the names lxml.etree binds from it at init and what the stand-in binds there (lxml 6):
# inspect.getfullargspec for parser targets (getargspec is its fallback on Pythons without it), only called;
# gzip.GzipFile (read from the gzip module too) for writing with compression=N, only called;
# contextlib.contextmanager, applied once at init to a generator that is only called later;
# typing.Generic and TypeVar, for one class statement: the one place lxml builds a class on a stand-in;
# re.compile, whose patterns lxml keeps; re.match, called once at init; re.U/UNICODE, the one flag it passes to
# compile (sre's SRE_FLAG_UNICODE, 32 since Python 2; re.compile takes the plain int as it takes the RegexFlag).
_HIDDEN: dict[str, dict[str, Any]] = {
    "re": {"compile": _LazyPattern, "match": _match, "U": 32, "UNICODE": 32},
    "inspect": {"getfullargspec": _getfullargspec},
    "gzip": {"GzipFile": _gzip_file},
    "contextlib": {"contextmanager": _contextmanager},
    "typing": {"Generic": _Generic, "TypeVar": _TypeParameter},
    # The same objects as the real modules', taken from where those modules take them (the C modules and
    # _collections_abc, loaded at start-up): collections with its keyword, operator and reprlib, functools and
    # types cost every XML-reading pyvirsh command about eight million instructions for these seven names.
    "collections": {"OrderedDict": _collections.OrderedDict},  # (and its submodule abc, set by _Loader._hide)
    "collections.abc": {  # lxml registers its classes with them
        "MutableMapping": _collections_abc.MutableMapping,
        "Sequence": _collections_abc.Sequence,
    },
    "functools": {"partial": _functools.partial},  # functools.partial is this C class
    "operator": {"eq": _operator.eq, "itemgetter": _operator.itemgetter},  # operator re-exports _operator's
    "types": {"GenericAlias": type(list[int])},  # as types defines it
}


def _stand_in(name: str) -> ModuleType:
    """A module that answers lxml's one name with a function importing the real module, and any other name
    from the real module (PEP 562 ``__getattr__``), so that even an import of it by another thread during
    lxml's init gets the real objects.

    Except ``__path__``, which the import statement looks up on every module
    it imports names from (is it a package?): neither real module has one,
    and answering by importing it would undo the whole point.
    """

    def forward(attr: str) -> Any:
        if attr == "__path__":
            raise AttributeError(f"module {name!r} has no attribute {attr!r}")
        return getattr(_real(name), attr)

    module = type(sys)(name, f"Stand-in for {name} while lxml.etree initialises (pyvirt.util.lxml_import).")
    module.__dict__.update({**_HIDDEN[name], "__getattr__": forward, _MARK: True})
    return module


class _Loader:
    """The real loader of ``lxml.etree``, with the stand-ins in ``sys.modules`` while it runs the module's init."""

    def __init__(self, real: Any, spec: ModuleSpec) -> None:
        self._real = real
        self._spec = spec
        self._stand_ins: dict[str, ModuleType] = {}

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        self._hide()
        try:
            create: Callable[[ModuleSpec], ModuleType | None] = self._real.create_module
            return create(spec)
        except BaseException:
            self._restore(None)
            raise

    def exec_module(self, module: ModuleType) -> None:
        try:
            self._real.exec_module(module)
        finally:
            self._restore(module)

    def _hide(self) -> None:
        for name in _HIDDEN:
            if name in sys.modules:  # a module loaded already costs nothing more: lxml gets the real one
                continue
            package, _, leaf = name.rpartition(".")
            if package and package not in self._stand_ins:
                continue  # the real package is loaded: its submodule must be the real one too
            self._stand_ins[name] = sys.modules[name] = _stand_in(name)
            if package:
                setattr(self._stand_ins[package], leaf, self._stand_ins[name])  # ``import collections.abc`` reads it

    def _restore(self, module: ModuleType | None) -> None:
        for name, stand_in in self._stand_ins.items():
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]
        self._stand_ins.clear()
        self._spec.loader = self._real
        if module is not None and getattr(module, "__loader__", None) is self:
            module.__loader__ = self._real


class _Finder:
    """A ``sys.meta_path`` finder that answers ``lxml.etree`` once, then leaves."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != _TARGET:
            return None
        self._leave()
        if all(name in sys.modules for name in _HIDDEN):
            return None  # loaded already: nothing to save, the normal import goes on
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec: ModuleSpec | None = None if find is None else find(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    # a loader by protocol: subclassing importlib.abc.Loader would import importlib.abc on every run
                    spec.loader = _Loader(spec.loader, spec)  # type: ignore[assignment]
                return spec
        return None

    def _leave(self) -> None:
        if self in sys.meta_path:  # else removed by someone else: then nothing of ours is left to undo
            sys.meta_path.remove(self)


def install() -> None:
    """From now on in this process, ``lxml.etree``'s first import loads neither :mod:`inspect` nor :mod:`gzip`.

    Does nothing when ``lxml.etree`` is imported already, or when the finder
    is installed already.
    """
    if _TARGET in sys.modules or any(isinstance(f, _Finder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder())
