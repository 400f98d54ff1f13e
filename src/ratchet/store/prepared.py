"""INSERTs compiled once and run on the driver's cursor: the store writer's hot path.

Why this exists: the writer thread commits several small batches a second (orders, fills,
stops, signals, audit). Through ``Connection.execute`` each INSERT cost more in SQLAlchemy's
per-execute overhead (cache key, compiled-cache lookup, execution context, result object,
bind processing) than in the database. A :class:`PreparedInsert` pays the compilation once per
dialect and set of row keys, and then:

* the SQL text and paramstyle are still the dialect compiler's (``?`` on SQLite, ``%(name)s``
  with casts on PostgreSQL), upserts included;
* each value goes through the bind processor SQLAlchemy itself would use for its column type
  (``DecimalText`` refuses floats and non-finite Decimals, ``Boolean`` anything but a bool);
* the rows go to ``execute``/``executemany`` of a DB-API cursor of the connection, inside
  its current transaction (which commits or rolls back as before);
* a failure is raised as the exception ``Connection.execute`` would raise: a
  :class:`~sqlalchemy.exc.StatementError` for a refused value, an
  :class:`~sqlalchemy.exc.IntegrityError` (or kin) wrapping the driver's error.

Only for statements fed by their rows alone: one with a RETURNING clause, bound literals,
Python-side defaults or expanding parameters is refused when first compiled.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, cast

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.sql.dml import Insert

Row = Mapping[str, Any]
Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Plan:
    """The statement compiled for one set of row keys, and how a row becomes its parameters."""

    sql: str
    values: Callable[[Row], tuple[Any, ...]]  # a row's values in the parameters' order
    processors: tuple[tuple[int, Processor], ...]  # (position, bind processor), where needed
    names: tuple[str, ...] | None  # the parameter names of a named paramstyle

    def parameters(self, row: Row) -> Sequence[Any] | dict[str, Any]:
        """The driver's parameters for ``row``: processed values, by position or by name."""
        values: Sequence[Any] = self.values(row)
        if self.processors:
            values = list(values)
            for index, process in self.processors:
                values[index] = process(values[index])
        return values if self.names is None else dict(zip(self.names, values, strict=True))


class PreparedInsert:
    """An INSERT (or upsert) of rows, compiled once for ``dialect``, run with ``executemany``."""

    def __init__(self, statement: Insert, dialect: Dialect) -> None:
        self.statement = statement
        self.dialect = dialect
        self._plans: dict[tuple[str, ...], _Plan] = {}

    def __repr__(self) -> str:
        return f"PreparedInsert({self.statement.table}, {self.dialect.name})"

    def execute(self, connection: Connection, rows: Sequence[Row]) -> None:
        """Insert ``rows`` in ``connection``'s current transaction (each row needs the first
        row's keys; other keys are ignored, as ``Connection.execute`` does).

        Raises:
            StatementError: a value its column type refuses (nothing of ``rows`` is sent).
            DBAPIError: the driver's error, wrapped as ``Connection.execute`` wraps it.
        """
        if not rows:
            return
        keys = tuple(rows[0])
        plan = self._plans.get(keys) or self._compile(keys)
        base_error: type[Exception] = self.dialect.loaded_dbapi.Error
        many = len(rows) > 1
        try:
            parameters: list[Any] = [plan.parameters(row) for row in rows]
        except Exception as exc:  # a bind processor refused a value, or a row lacks a key
            raise DBAPIError.instance(
                plan.sql, list(rows), exc, base_error, dialect=self.dialect, ismulti=many
            ) from exc
        proxied = connection.connection
        cursor = proxied.cursor()
        try:
            if many:
                cursor.executemany(plan.sql, parameters)
            else:
                cursor.execute(plan.sql, parameters[0])
        except base_error as exc:
            gone = self.dialect.is_disconnect(cast(Any, exc), proxied.dbapi_connection, cursor)
            if gone:
                connection.invalidate(exc)
            raise DBAPIError.instance(
                plan.sql,
                parameters,
                exc,
                base_error,
                connection_invalidated=gone,
                dialect=self.dialect,
                ismulti=many,
            ) from exc
        finally:
            # a cursor of a broken connection may fail to close: the error above is the news
            with contextlib.suppress(base_error):
                cursor.close()

    def _compile(self, keys: tuple[str, ...]) -> _Plan:
        compiled = self.statement.compile(
            dialect=self.dialect, column_keys=list(keys), for_executemany=True
        )
        if compiled.effective_returning or compiled.insert_prefetch or compiled.post_compile_params:
            raise ArgumentError(f"{self!r}: only statements fed by their rows alone")
        names = list(compiled.positiontup or ()) if compiled.positional else list(compiled.binds)
        binds = [compiled.binds[name] for name in names]
        outside = [bind.key for bind in binds if bind.key not in keys]
        if outside:
            raise ArgumentError(f"{self!r}: parameters {outside} are not columns of the rows")
        processors = tuple(
            (index, process)
            for index, bind in enumerate(binds)
            if (process := bind.type.dialect_impl(self.dialect).bind_processor(self.dialect))
        )
        wanted = [bind.key for bind in binds]
        values = _getter(wanted)
        escaped = compiled.escaped_bind_names
        plan = _Plan(
            sql=compiled.string,
            values=values,
            processors=processors,
            names=None if compiled.positional else tuple(escaped.get(n, n) for n in names),
        )
        self._plans[keys] = plan
        return plan


def _getter(keys: Sequence[str]) -> Callable[[Row], tuple[Any, ...]]:
    """A function giving a row's values at ``keys``, as a tuple (``itemgetter``, at C speed)."""
    if len(keys) > 1:
        return itemgetter(*keys)
    return lambda row: tuple(row[key] for key in keys)
