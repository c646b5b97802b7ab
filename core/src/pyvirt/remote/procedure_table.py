"""A program's procedure table: one record per procedure, its codec functions imported on first use.

Apart from :mod:`pyvirt.remote.xdr` because a client never reads a table:
it finds its few procedures in ``_remote_index`` (see
``pyvirt.remote.driver._procedure``), and these two classes cost each short
``pyvirsh`` run about 0.4 million instructions to make. The generated program
modules (``_remote``, ``_virnet``, ...) and the daemon use them.
"""

from __future__ import annotations

from _collections_abc import Callable, Iterator, Mapping

# mypy treats any constant named TYPE_CHECKING as true (see pyvirt/__init__.py): typing is not imported at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NamedTuple

    from pyvirt.remote.xdr import Pack, Unpack
else:
    from pyvirt.util.named_tuple import NamedTuple

__all__ = ["LazyProcedures", "Procedure"]


class Procedure(NamedTuple):
    """One entry of a program's procedure table, with libvirt's annotations from the ``.x`` comments.

    For an event (``is_message``) ``pack_args``/``unpack_args`` encode the
    ``_msg`` struct the server sends; there is no reply.
    """

    number: int
    name: str
    pack_args: Pack | None
    unpack_args: Unpack | None
    pack_ret: Pack | None
    unpack_ret: Unpack | None
    is_message: bool
    annotations: tuple[tuple[str, str], ...]
    args_type: str | None = None  # the ``.x`` type names (``remote_domain_lookup_by_name_args``), for FIELDS
    ret_type: str | None = None

    def annotation(self, key: str) -> list[str]:
        """Every value of one annotation (``acl`` may repeat; ``generate``/``priority`` appear once)."""
        return [value for k, value in self.annotations if k == key]

    @property
    def priority(self) -> str:
        """``high`` or ``low`` (libvirt's default when the annotation is absent)."""
        found = self.annotation("priority")
        return found[0] if found else "low"


class LazyProcedures(Mapping[int, Procedure]):
    """A program's procedure table whose codec functions are imported when a procedure is first used.

    ``table`` maps a number to (name, args type, ret type, is an event,
    annotations); ``module_of(type)`` imports the generated module holding
    that type's pack/unpack functions. A client that makes five calls
    imports the code of five procedures, not of all 443.
    """

    def __init__(
        self,
        module_of: Callable[[str], Any],
        table: dict[int, tuple[str, str | None, str | None, bool, tuple[tuple[str, str], ...]]],
    ) -> None:
        self._module_of = module_of
        self._table = table
        self._cache: dict[int, Procedure] = {}

    def _codec(self, type_name: str | None) -> tuple[Pack | None, Unpack | None]:
        if type_name is None:
            return None, None
        mod = self._module_of(type_name)
        return getattr(mod, f"pack_{type_name}"), getattr(mod, f"unpack_{type_name}")

    def __getitem__(self, number: int) -> Procedure:
        proc = self._cache.get(number)
        if proc is None:
            name, args, ret, is_message, annotations = self._table[number]
            proc = self._cache[number] = Procedure(
                number, name, *self._codec(args), *self._codec(ret), is_message, annotations, args, ret
            )
        return proc

    def get(self, number: int, default: Procedure | None = None) -> Procedure | None:  # type: ignore[override]
        """``Mapping.get`` without its Python-level ``try: self[key]`` (a frame more, and a KeyError raised
        and caught for every unknown number): the programs look each message's procedure up here."""
        proc = self._cache.get(number)
        if proc is not None:
            return proc
        return self[number] if number in self._table else default

    def __iter__(self) -> Iterator[int]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)

    def __contains__(self, number: object) -> bool:
        return number in self._table
