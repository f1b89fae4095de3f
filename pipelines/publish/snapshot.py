"""Publishing: an atomic, read-only snapshot that the dashboards read.

What is published where (docs/privacy.md "The published snapshot"):

- ``reporting``: the dbt reporting models, the aggregates the dashboards and the monthly report read
  (one row per filter combination, people counts below the small-cell threshold already NULL with
  ``suppressed``); a reporting table with a person-linking column stops the publish.
- ``marts``: the indicator tables and the dimensions without person keys. Row-level fact tables
  (dbt naming: ``fct_*``) and person dimensions (``dim_*`` with a person key) are NOT here.
- ``restricted``: row-level data, masked (person_key cut to 8 hex characters, birth dates to
  year-month, direct identifiers as their shape): the fact tables, person dimensions, the quality
  drill-down samples and the quarantined rows. Only the quality role's pages open it.
- ``quality``: check results, scorecards; ``ingest``: masked ingestion metadata (file registry,
  quarantine summary, value outcomes, unmapped terms); ``meta``.

Personal data is classified by the one declaration (``pii_class`` in the standard, read through
``pipelines.privacy.personal_data``). No table outside ``restricted`` carries a person key, visit id,
referral id or quarantine row number (tested). Quarantined raw values of direct identifiers are masked
(``privacy.mask``), of free text scrubbed (``privacy.scrub``).

The pipeline writes ``warehouse.duckdb``; dashboards never open it. After a successful, checked
run, the tables people may see are copied into a new file ``snapshots/<run_id>.duckdb`` and the
symlink ``current.duckdb`` is swapped to it with ``os.replace`` (atomic on POSIX). A reader that
opened the old snapshot keeps reading it; a failed or blocked run never touches ``current.duckdb``.

Incremental: the new snapshot starts as a file copy of the current one; a copied table whose
fingerprint (columns and types, row count, sum of row hashes, read from the warehouse) equals the one
recorded in the current snapshot's ``meta.table_fingerprints`` is kept as it is, the others are
copied again, tables gone from the warehouse are dropped. A table whose columns or row count differ
from the recorded ones is copied without hashing its rows (``_fingerprint``). The atomic swap is
unchanged.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb

from pipelines.privacy import RESTRICTED_SCHEMA, mask_sql, personal_data, scrub_sql
from pipelines.settings import DUCKDB_MEMORY_LIMIT, secure_path

# schema in warehouse → schema in snapshot; personal columns split off into `restricted` (above)
COPIED_SCHEMAS = {"marts": "marts", "reporting": "reporting", "quality": "quality"}
PERSON_KEY_CHARS = 8
# row-level drill-down tables published only in `restricted` (their rows carry record keys)
RESTRICTED_TABLES = {("quality", "violation_samples")}
# marts tables with one row per event (dbt naming): row-level, so published only in `restricted`
ROW_LEVEL_PREFIX = "fct_"
KEEP_SNAPSHOTS = 3


class PublishError(RuntimeError):
    pass


def tables_in(con: duckdb.DuckDBPyConnection, catalog: str, schema: str) -> list[str]:
    """The tables of ``catalog.schema`` (an attached database), sorted by name."""
    return [
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_catalog = ? and table_schema = ? "
            "order by table_name",
            [catalog, schema],
        ).fetchall()
    ]


def _mask_sql(element_col: str, value_col: str) -> str:
    """A quarantined / outcome value: masked for direct identifiers, scrubbed for free text."""
    pd_ = personal_data()
    direct = ", ".join(f"'{e}'" for e in sorted(pd_.direct_identifiers))
    free = ", ".join(f"'{e}'" for e in sorted(pd_.free_text))
    return (
        f"case when {element_col} in ({direct}) then {mask_sql(value_col)} "
        f"when {element_col} in ({free}) then {scrub_sql(value_col)} else {value_col} end"
    )


def _shape(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> str:
    """Columns and types and the row count of one table: ``cols|n`` (cheap: no row is read)."""
    cols = con.execute(
        "select string_agg(column_name || ' ' || data_type, ', ' order by ordinal_position) "
        "from information_schema.columns where table_catalog = ? and table_schema = ? and table_name = ?",
        [catalog, schema, table],
    ).fetchone()[0]
    n = con.execute(f'select count(*) from {catalog}.{schema}."{table}"').fetchone()[0]
    return f"{cols}|{n}"


def _fingerprint(
    con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str, previous: str | None
) -> str:
    """``cols|n|sum of the rows' hashes`` (order-independent). The hash sum reads every row (at city
    scale seconds per large table), so it is left empty (``cols|n|``) when the previous snapshot's
    fingerprint of the table has another shape: the table has changed and is copied anyway. A table
    that stops changing is hashed the first time its shape repeats, and kept from then on."""
    shape = _shape(con, catalog, schema, table)
    if previous is not None and previous.rsplit("|", 1)[0] != shape:
        return f"{shape}|"
    total = con.execute(
        f'select coalesce(sum(hash(t)::hugeint), 0) from {catalog}.{schema}."{table}" t'
    ).fetchone()[0]
    return f"{shape}|{total}"


def _previous_fingerprints(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    if "table_fingerprints" not in tables_in(
        con, con.execute("select current_database()").fetchone()[0], "meta"
    ):
        return {}
    return dict(con.execute("select table_name, fingerprint from meta.table_fingerprints").fetchall())


def _copy_table(con: duckdb.DuckDBPyConnection, src: str, dst_schema: str, t: str) -> list[str]:
    """Copy one table, splitting personal columns off into `restricted`. Returns the tables written."""
    pd_ = personal_data()
    cols = [
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns where table_catalog = 'wh' "
            "and table_schema = ? and table_name = ? order by ordinal_position",
            [src, t],
        ).fetchall()
    ]
    classes = {c: pd_.column_class(c) for c in cols}
    personal = [c for c, k in classes.items() if k != "none" and k != "free_text"]
    if src == "reporting" and personal:  # aggregates only: a person-linking column is a model bug
        raise PublishError(f"reporting.{t} has person-linking columns: {', '.join(personal)}")
    row_level = src == "marts" and t.startswith(ROW_LEVEL_PREFIX)
    if (src, t) in RESTRICTED_TABLES:  # row-level drill-down (masked upstream): restricted only
        con.execute(f"create schema if not exists {RESTRICTED_SCHEMA}")
        con.execute(f'create table {RESTRICTED_SCHEMA}."{t}" as select * from wh.{src}."{t}"')
        return [f"{RESTRICTED_SCHEMA}.{t}"]
    if dst_schema != "marts" or not (personal or row_level):
        con.execute(f'create table {dst_schema}."{t}" as select * from wh.{src}."{t}"')
        return [f"{dst_schema}.{t}"]
    masked = []
    for c in cols:
        k = classes[c]
        if k == "pseudonym":
            masked.append(f'left(CAST("{c}" AS VARCHAR), {PERSON_KEY_CHARS}) || \'…\' AS "{c}"')
        elif k == "direct_identifier":
            masked.append(f'{mask_sql(chr(34) + c + chr(34))} AS "{c}"')
        elif k == "quasi_identifier" and c.startswith("birth_") and "date" in c:
            masked.append(f'strftime(TRY_CAST("{c}" AS DATE), \'%Y-%m\') AS "{c}"')
        else:
            masked.append(f'"{c}"')
    con.execute(f"create schema if not exists {RESTRICTED_SCHEMA}")
    con.execute(f'create table {RESTRICTED_SCHEMA}."{t}" as select {", ".join(masked)} from wh.{src}."{t}"')
    written = [f"{RESTRICTED_SCHEMA}.{t}"]
    # a person dimension (dbt naming: dim_*, with a person key) has one row per person and a fact
    # table one row per event: restricted only (the dashboards read their aggregates in `reporting`)
    per_person = t.startswith("dim_") and any(k == "pseudonym" for k in classes.values())
    kept = [f'"{c}"' for c in cols if c not in personal]
    if not per_person and not row_level and kept:
        con.execute(f'create table marts."{t}" as select {", ".join(kept)} from wh.{src}."{t}"')
        written.append(f"marts.{t}")
    return written


def build_snapshot(
    warehouse: Path, target: Path, run_id: str, required: tuple[str, ...] = (), previous: Path | None = None
) -> dict[str, int]:
    """Write a snapshot file from the warehouse, starting from a copy of ``previous`` (the current
    snapshot) when given: its unchanged marts/quality tables are not copied again. Returns row counts
    per published marts/quality table; meta.table_fingerprints says which were copied in this run."""
    if target.exists():
        target.unlink()
    if previous is not None and previous.exists():
        shutil.copyfile(previous, target)
    con = duckdb.connect(str(target), config={"memory_limit": DUCKDB_MEMORY_LIMIT})
    counts: dict[str, int] = {}
    try:
        before = _previous_fingerprints(con)
        for schema in ("ingest", "meta"):  # small, always rebuilt
            con.execute(f"drop schema if exists {schema} cascade")
        con.execute(f"attach '{warehouse}' as wh (read_only)")
        fingerprints: list[tuple[str, str, bool]] = []
        for src_schema, dst_schema in COPIED_SCHEMAS.items():
            con.execute(f"create schema if not exists {dst_schema}")
            wanted = tables_in(con, "wh", src_schema)
            here = con.execute("select current_database()").fetchone()[0]
            for t in tables_in(con, here, dst_schema):
                if t not in wanted:
                    con.execute(f'drop table {dst_schema}."{t}"')
            for t in wanted:
                key = f"{src_schema}.{t}"
                fingerprint = _fingerprint(con, "wh", src_schema, t, before.get(key))
                outputs = [f"{dst_schema}.{t}", f"{RESTRICTED_SCHEMA}.{t}"]
                present = [
                    o for o in outputs if o.split(".", 1)[1] in tables_in(con, here, o.split(".", 1)[0])
                ]
                # a snapshot of an older layout may hold a row-level table in marts: copy it again
                stale_layout = t.startswith(ROW_LEVEL_PREFIX) and f"marts.{t}" in present
                unchanged = (
                    before.get(key) == fingerprint
                    and not fingerprint.endswith("|")
                    and bool(present)
                    and not stale_layout
                )
                if unchanged:
                    written = present
                else:
                    for o in present:
                        schema, name = o.split(".", 1)
                        con.execute(f'drop table {schema}."{name}"')
                    written = _copy_table(con, src_schema, dst_schema, t)
                fingerprints.append((key, fingerprint, not unchanged))
                for w in written:
                    schema, name = w.split(".", 1)
                    counts[w] = con.execute(f'select count(*) from {schema}."{name}"').fetchone()[0]
        missing = [t for t in required if t not in counts]
        if missing:
            raise PublishError(
                f"cannot publish: required tables missing from the warehouse: {', '.join(missing)}"
            )
        con.execute("create schema if not exists ingest")
        raw_tables = set(tables_in(con, "wh", "raw"))
        std_tables = set(tables_in(con, "wh", "std"))
        if "files" in raw_tables:
            # file registry without server paths (file name and source are enough to act on)
            con.execute("create table ingest.files as select * exclude (path) from wh.raw.files")
        if "held_back" in raw_tables:  # refused files and the source-periods they hold back
            con.execute("create table ingest.held_back as select * from wh.raw.held_back")
        quarantine_parts = []  # row-level (row numbers): restricted only, masked; a summary in ingest
        cols = "file_id, source_id, entity, row_number, stage, element, {masked} as raw_value, reason_code, reason"
        for schema, present in (("raw", raw_tables), ("std", std_tables)):
            if "quarantine" in present:
                quarantine_parts.append(
                    f"select {cols.format(masked=_mask_sql('element', 'raw_value'))} from wh.{schema}.quarantine"
                )
        con.execute(f"drop table if exists {RESTRICTED_SCHEMA}.quarantine")
        if quarantine_parts:
            con.execute(f"create schema if not exists {RESTRICTED_SCHEMA}")
            con.execute(
                f"create table {RESTRICTED_SCHEMA}.quarantine as " + " union all ".join(quarantine_parts)
            )
            con.execute(
                "create table ingest.quarantine_summary as "
                "select source_id, entity, element, reason_code, min(reason) as reason, count(*) as n_rows "
                f"from {RESTRICTED_SCHEMA}.quarantine group by source_id, entity, element, reason_code"
            )
        for t in ("unmapped_terms", "value_outcomes", "accuracy_by_field"):
            if t in std_tables:
                if t == "value_outcomes":
                    con.execute(
                        "create table ingest.value_outcomes as select * replace "
                        f"({_mask_sql('element', 'raw_value')} as raw_value, "
                        f"{_mask_sql('element', 'normalized_value')} as normalized_value) from wh.std.value_outcomes"
                    )
                else:
                    con.execute(f"create table ingest.{t} as select * from wh.std.{t}")
        con.execute("create schema if not exists meta")
        con.execute(
            "create table meta.publish_info as select ? as run_id, ?::timestamp as published_at, ? as warehouse_version",
            [run_id, dt.datetime.now().replace(microsecond=0), "1"],
        )
        con.execute(
            "create table meta.table_fingerprints (table_name varchar, fingerprint varchar, copied boolean)"
        )
        if fingerprints:
            con.executemany("insert into meta.table_fingerprints values (?, ?, ?)", fingerprints)
        con.execute("detach wh")
        con.execute("checkpoint")
    finally:
        con.close()
    return counts


def publish(
    warehouse: Path,
    published_dir: Path,
    run_id: str,
    required: tuple[str, ...] = ("marts.indicator_values", "marts.indicator_registry"),
    log: Callable[[str], None] = print,
) -> Path:
    """Build a snapshot and swap ``current.duckdb`` to it atomically. Returns the snapshot path."""
    snapshots = published_dir / "snapshots"
    snapshots.mkdir(parents=True, exist_ok=True, mode=0o700)
    final = snapshots / f"{run_id}.duckdb"
    tmp = snapshots / f".{run_id}.duckdb.tmp"
    current = published_dir / "current.duckdb"
    previous = current.resolve() if current.is_symlink() else None
    try:
        counts = build_snapshot(warehouse, tmp, run_id, required=required, previous=previous)
        os.replace(tmp, final)
    except BaseException:
        # a failed publish leaves nothing behind: current.duckdb still points at the previous snapshot
        for leftover in (tmp, Path(str(tmp) + ".wal")):
            leftover.unlink(missing_ok=True)
        raise
    link_tmp = published_dir / f".current.{run_id}.tmp"
    if link_tmp.is_symlink() or link_tmp.exists():
        link_tmp.unlink()
    link_tmp.symlink_to(Path("snapshots") / final.name)
    os.replace(link_tmp, published_dir / "current.duckdb")
    for line in secure_path(published_dir):
        log(f"file mode fixed: {line}")
    log(f"published {final.name}: {len(counts)} tables")
    _prune(snapshots, keep=final)
    return final


def _prune(snapshots: Path, keep: Path) -> None:
    """Keep the newest few snapshots; an open reader of a removed one keeps its file handle."""
    files = sorted(snapshots.glob("*.duckdb"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[KEEP_SNAPSHOTS:]:
        if old != keep:
            old.unlink(missing_ok=True)
            Path(str(old) + ".wal").unlink(missing_ok=True)
