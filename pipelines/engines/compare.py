"""Do two warehouses give the same answers? Every mart, row for row (``referral-warehouse
engines compare``; the engine-parity test).

Rows are compared as multisets: both sides sorted by every column (floating-point columns
rounded for the sort only), then pairwise; floating-point values may differ by ``tolerance``
(relative to the value's size, absolute below 1), every other value must be equal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.publish.snapshot import tables_in

FLOAT_TYPES = ("DOUBLE", "FLOAT", "REAL", "DECIMAL")


@dataclass
class TableDiff:
    table: str
    rows_left: int = 0
    rows_right: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return not self.problems


def _columns(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> dict[str, str]:
    return {
        name: dtype
        for name, dtype in con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_catalog = ? and table_schema = ? and table_name = ? order by ordinal_position",
            [catalog, schema, table],
        ).fetchall()
    }


def _close(a, b, tolerance: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= tolerance * max(1.0, abs(a), abs(b))


def compare_table(
    con: duckdb.DuckDBPyConnection, table: str, schema: str = "marts", tolerance: float = 1e-9, show: int = 5
) -> TableDiff:
    diff = TableDiff(table)
    left, right = _columns(con, "l", schema, table), _columns(con, "r", schema, table)
    if set(left) != set(right):
        diff.problems.append(
            f"columns differ: only left {sorted(set(left) - set(right))}, only right {sorted(set(right) - set(left))}"
        )
        return diff
    cols = list(left)
    floats = {
        c for c in cols if left[c].upper().startswith(FLOAT_TYPES) or right[c].upper().startswith(FLOAT_TYPES)
    }
    sort_keys = ", ".join(
        f'round("{c}", 6) nulls first' if c in floats else f'"{c}" nulls first'
        for c in sorted(cols, key=lambda c: (c in floats, c))
    )
    select = ", ".join(f'"{c}"' for c in cols)
    rows_l = con.execute(f'select {select} from l.{schema}."{table}" order by {sort_keys}').fetchall()
    rows_r = con.execute(f'select {select} from r.{schema}."{table}" order by {sort_keys}').fetchall()
    diff.rows_left, diff.rows_right = len(rows_l), len(rows_r)
    if len(rows_l) != len(rows_r):
        diff.problems.append(f"row count {len(rows_l)} vs {len(rows_r)}")
        return diff
    float_idx = {i for i, c in enumerate(cols) if c in floats}
    for a, b in zip(rows_l, rows_r, strict=True):
        bad = [
            cols[i]
            for i in range(len(cols))
            if not (_close(a[i], b[i], tolerance) if i in float_idx else a[i] == b[i])
        ]
        if bad:
            diff.problems.append(
                f"row differs in {bad}: {dict(zip(cols, a, strict=True))} vs {dict(zip(cols, b, strict=True))}"
            )
            if len(diff.problems) >= show:
                break
    return diff


def compare_warehouses(
    left: Path, right: Path, schema: str = "marts", tolerance: float = 1e-9
) -> list[TableDiff]:
    """Compare every table of ``schema`` in two DuckDB files (a table missing on one side differs)."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{left}' as l (read_only)")
        con.execute(f"attach '{right}' as r (read_only)")
        names_l, names_r = set(tables_in(con, "l", schema)), set(tables_in(con, "r", schema))
        diffs = []
        for name in sorted(names_l | names_r):
            if name not in names_l or name not in names_r:
                diffs.append(TableDiff(name, problems=[f"only in {'left' if name in names_l else 'right'}"]))
            else:
                diffs.append(compare_table(con, name, schema, tolerance))
        return diffs
    finally:
        con.close()
