"""Bulk inserts at the driver's speed, inside the caller's SQLAlchemy transaction.

SQLAlchemy's executemany spends ~8 µs a row building parameters from dicts. Here each row is
picked into a tuple in column order (``operator.itemgetter``, in C; rows decoded as tuples
already are taken as they are) and handed to the driver:
sqlite3's ``executemany``, or PostgreSQL's ``COPY`` in text format, written in large chunks
rather than row by row (psycopg's ``write_row`` costs ~6 µs a row in Python).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, islice
from operator import itemgetter
from typing import cast

from sqlalchemy import JSON, Connection, Integer, String, Table, Text

from gateway.db.tables import index as t
from gateway.indexer.decode import Row, Values

__all__ = ["bulk_insert"]

_COPY_ROWS = 20_000  # rows per COPY write: a few MB of text
# Parameters per statement: the connection's own limit (SQLITE_LIMIT_VARIABLE_NUMBER: 32,766
# by default since 3.32, 999 before, what the build or the application set), up to 32,766.
# 32,766 rather than 10,000, a third as many statements a part: writer-only CPU on 216k
# decoded events 1.99 -> 1.78 s (mean of 4 alternating pairs, load ~4.4), lower in 7 of 7.
_SQLITE_VARIABLES = 32_766
# PostgreSQL's COPY text format: tab-separated, \N for NULL, backslash escapes.
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_field(value: object) -> str:
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    return str(value)


class _TableWriter:
    """A table's columns in order, how to pick them out of a row, and its bulk statements."""

    def __init__(self, table: Table) -> None:
        names = [column.name for column in table.columns]
        self.pick = itemgetter(*names)
        self.json = [i for i, column in enumerate(table.columns) if isinstance(column.type, JSON)]
        listed = ", ".join(names)
        self._placeholders = f"({', '.join('?' * len(names))})"
        self._insert_prefix = f"INSERT INTO {table.name} ({listed}) VALUES "
        # Many rows a statement, the last part's rest too: sqlite3 releases the GIL once a
        # statement, so executemany hands the GIL back and forth once a row, and waits for it
        # whenever another thread runs Python (the fetcher decoding the next range).
        self._columns = len(names)
        self._inserts: dict[int, str] = {}
        self.copy = f"COPY {table.name} ({listed}) FROM STDIN"
        # Integers and the hex/word String columns the decoder fills never hold NULL, tabs or
        # backslashes, so their COPY text is just str(); Text and JSON columns get escaped.
        self.plain = all(
            not column.nullable
            and isinstance(column.type, Integer | String)
            and not isinstance(column.type, Text)
            for column in table.columns
        )
        # One %-format a row (one C call): 1.2-1.5 us a grant row against 1.6-2.3 us for
        # "\t".join(map(str, row)), measured on 200k rows.
        self.plain_line = "\t".join(["%s"] * len(names)) + "\n"

    def rows_per_insert(self, variables: int) -> int:
        """Rows a statement may hold with ``variables`` parameters at most (our cap too)."""
        return max(1, min(variables, _SQLITE_VARIABLES) // self._columns)

    def insert_rows(self, count: int) -> str:
        """An INSERT of ``count`` rows (parameters in column order, row after row)."""
        return self._insert_prefix + ", ".join([self._placeholders] * count)

    def insert_full(self, count: int) -> str:
        """``insert_rows(count)`` for a statement's full size, kept (one per limit met)."""
        statement = self._inserts.get(count)
        if statement is None:
            statement = self._inserts[count] = self.insert_rows(count)
        return statement

    def values(self, rows: Iterable[Row | Values]) -> list[Values]:
        pick = self.pick
        if not self.json:
            return [row if type(row) is tuple else pick(row) for row in rows]
        out = []
        for row in rows:
            values = list(row if type(row) is tuple else pick(row))
            for i in self.json:
                values[i] = None if values[i] is None else json.dumps(values[i])
            out.append(tuple(values))
        return out

    def copy_text(self, values: list[tuple[object, ...]]) -> Iterator[str]:
        rows = iter(values)
        while chunk := list(islice(rows, _COPY_ROWS)):
            if self.plain:
                line = self.plain_line
                yield "".join([line % row for row in chunk])
            else:
                lines = ["\t".join(map(_copy_field, row)) for row in chunk]
                yield "\n".join(lines) + "\n"


_WRITERS = {table.name: _TableWriter(table) for table in t.ALL_TABLES}


def bulk_insert(conn: Connection, table: Table, rows: Sequence[Row | Values]) -> None:
    """Inserts ``rows`` (dicts with every column of ``table``, or tuples of them in column
    order) in ``conn``'s transaction."""
    writer = _WRITERS[table.name]
    driver = conn.connection.driver_connection
    if conn.dialect.name == "sqlite":
        values = writer.values(rows)
        sqlite = cast(sqlite3.Connection, driver)
        step = writer.rows_per_insert(sqlite.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
        whole = len(values) - len(values) % step
        insert_many = writer.insert_full(step)
        cursor = sqlite.cursor()
        try:
            for start in range(0, whole, step):
                cursor.execute(insert_many, list(chain.from_iterable(values[start : start + step])))
            if whole < len(values):
                rest = values[whole:]
                cursor.execute(writer.insert_rows(len(rest)), list(chain.from_iterable(rest)))
        finally:
            cursor.close()
    elif conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        with driver.cursor() as cursor, cursor.copy(writer.copy) as copy:  # type: ignore[union-attr]
            for text in writer.copy_text(writer.values(rows)):
                copy.write(text)
    else:
        names = [column.name for column in table.columns]
        dicts = [dict(zip(names, row, strict=True)) if type(row) is tuple else row for row in rows]
        conn.execute(table.insert(), cast(list[Row], dicts))
