"""Many trials of a study at once, as the store read them, decoded a column at a time.

A :class:`~tunewise.trial.Trial` costs tens of microseconds to build (a frozen dataclass, five
datetimes, two JSON documents, two enums): reading a 100,000-trial study as ``Trial`` objects
took 6-7 s, which is what kept the dashboard's first view of a big study waiting. A view over
many trials needs a few columns of every trial (numbers, states, values, hyperparameters) and
the whole record of a few (a page of a table, the best trial). A :class:`TrialTable` keeps the
rows as read, decodes a column for every row at once the first time it is asked for (each
column's JSON documents in one parse), and builds a ``Trial`` only for the rows indexed.

No database code here: the store hands over its rows (in the layout of
:data:`tunewise.store.schema.trials`) and the function that turns one row into a ``Trial``, so
a whole record is decoded in one place (:func:`tunewise.store.schema.trial_from_row`).
"""

from __future__ import annotations

import bisect
import json
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, overload

from tunewise.trial import FailureKind, Trial, TrialState

#: Columns a table decodes in bulk (:meth:`TrialTable.column`), as the ``Trial`` attributes of
#: the same names, except that times are epoch seconds (``None`` when unset), not datetimes.
COLUMNS = (
    "number",
    "state",
    "params",
    "value",
    "metrics",
    "failure_kind",
    "error",
    "attempt",
    "lease_owner",
    "heartbeat_at",
    "lease_deadline",
    "created_at",
    "started_at",
    "finished_at",
    "last_step",
    "user_attrs",
    "space_version",
    "suggestion",
)

_STATES = {state.value: state for state in TrialState}
_KINDS = {kind.value: kind for kind in FailureKind}


class TrialTable(Sequence[Trial]):
    """Trials of one study in number order: ``table[i]`` is a :class:`Trial`, ``table[a:b]``
    a table, :meth:`column` one attribute of every trial.

    Like every record the store returns, a table is a snapshot: it never changes. Decoded
    columns are kept; two threads asking for the same column at once may both decode it, and
    both get equal lists.

    ``rows`` are the store's rows of the trials (tuples in the layout whose column names are
    ``fields``), in number order; ``decode`` turns one row into its ``Trial``.
    """

    __slots__ = ("_columns", "_decode", "_index", "_rows")

    def __init__(
        self,
        rows: Sequence[Sequence[Any]],
        fields: Sequence[str],
        decode: Callable[[Any], Trial],
    ) -> None:
        self._rows = rows
        self._index = {name: i for i, name in enumerate(fields)}
        self._decode = decode
        self._columns: dict[str, list[Any]] = {}

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> Trial: ...

    @overload
    def __getitem__(self, index: slice) -> TrialTable: ...

    def __getitem__(self, index: int | slice) -> Trial | TrialTable:
        if isinstance(index, slice):
            part = self._like(self._rows[index])
            part._columns = {name: column[index] for name, column in self._decoded()}
            return part
        return self._decode(self._rows[index])

    def __iter__(self) -> Iterator[Trial]:
        return map(self._decode, self._rows)

    def __repr__(self) -> str:
        return f"TrialTable({len(self)} trials)"

    def column(self, name: str) -> list[Any]:
        """Attribute ``name`` (one of :data:`COLUMNS`) of every trial, in row order.

        Raises:
            KeyError: ``name`` is not one of :data:`COLUMNS`.
        """
        cached = self._columns.get(name)
        if cached is None:
            if name not in COLUMNS:
                raise KeyError(name)
            cached = self._columns[name] = _DECODERS.get(name, _raw)(self, name)
        return cached

    def numbered_below(self, number: int) -> TrialTable:
        """The trials numbered below ``number``."""
        return self[: bisect.bisect_left(self.column("number"), number)]

    def concat(self, newer: TrialTable) -> TrialTable:
        """This table's trials followed by ``newer``'s (which must be numbered higher): a
        reader that keeps a table of finished trials adds the ones read since. The columns this
        table has decoded stay decoded (``newer``'s part is decoded for them)."""
        joined = self._like([*self._rows, *newer._rows])
        joined._columns = {name: [*column, *newer.column(name)] for name, column in self._decoded()}
        return joined

    def _like(self, rows: Sequence[Sequence[Any]]) -> TrialTable:
        table = TrialTable.__new__(TrialTable)
        table._rows, table._index, table._decode = rows, self._index, self._decode
        table._columns = {}
        return table

    def _decoded(self) -> list[tuple[str, list[Any]]]:
        """The columns decoded so far (a copy: another thread may be adding one)."""
        return list(self._columns.items())

    def _cells(self, name: str) -> list[Any]:
        return list(map(operator.itemgetter(self._index[name]), self._rows))


# Bulk decoders, one per stored encoding ------------------------------------------------------
def _raw(table: TrialTable, name: str) -> list[Any]:
    return table._cells(name)


def _json(table: TrialTable, name: str) -> list[Any]:
    """Every row's JSON document in one parse (about twice as fast as one parse per row); a
    cell that is not one document (``1, 2``) is caught by the count and parsed on its own."""
    cells = table._cells(name)
    values = json.loads("[" + ",".join(cells) + "]") if cells else []
    return values if len(values) == len(cells) else [json.loads(cell) for cell in cells]


def _json_or_none(table: TrialTable, name: str) -> list[Any]:
    """A nullable JSON column: ``None`` where the cell is NULL."""
    return [None if cell is None else json.loads(cell) for cell in table._cells(name)]


def _value(table: TrialTable, name: str) -> list[float | None]:
    """``value``, or ``value_special`` (NaN, infinities) where it is set; an int is a float
    (SQLite may hand back a REAL 0.0 as 0)."""
    pairs = zip(table._cells("value_special"), table._cells("value"), strict=True)
    return [
        None if (stored := special or value) is None else float(stored) for special, value in pairs
    ]


def _enum(members: Mapping[str, Any]) -> Callable[[TrialTable, str], list[Any]]:
    def decode(table: TrialTable, name: str) -> list[Any]:
        return [members[cell] if cell else None for cell in table._cells(name)]

    return decode


_DECODERS: dict[str, Callable[[TrialTable, str], list[Any]]] = {
    "params": _json,
    "metrics": _json,
    "user_attrs": _json,
    "suggestion": _json_or_none,
    "value": _value,
    "state": _enum(_STATES),
    "failure_kind": _enum(_KINDS),
}
