"""Per-file check counts, kept between runs so that a new day's checks read only the new files.

A check's counts are sums over rows, and every row of a file relation belongs to one file: the
region-wide figures (per source, per institution, ``ALL``) are the sums of per-file counts. So the
runner counts only the files not counted yet and re-aggregates the rest from
``quality.file_check_counts`` instead of rescanning every table (issue 16).

A file's counts are reused while its *scope key* holds: a digest of the relation's computed frame
(the catalogue's rules, thresholds and parameters, the source bindings, the columns), of the
reference tables the rules look codes up in, and of the latest full standardize run (a full run
rewrites every std row, e.g. after a reviewed mapping or a new standard version). Any change of
those recounts every file. A file no longer in the relation (replaced by a corrected re-send,
withdrawn) drops out of the figures with its counts.

Not per file, always computed whole: relations whose rows are not file rows (daily volumes) and a
relation holding rows without a file id. ``not_future`` is judged as of the run that first counted
the file: a date in the future when the file arrived stays counted as such.

Tables: ``quality.counted_files`` (scope key, suite, relation, file id: one row per counted file,
also for a file none of whose rows a rule applied to) and ``quality.file_check_counts`` (its
counts per source, institution and check).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

import duckdb

from pipelines.contracts.sql import quote_identifier as q
from pipelines.contracts.sql import quote_literal as lit
from pipelines.quality.catalogue import Catalogue, CheckSpec
from pipelines.quality.relations import SCOPE_TABLE, Relation, table_exists
from pipelines.quality.rules import counts_sql, frame_sql

DDL = f"""
CREATE SCHEMA IF NOT EXISTS quality;
CREATE TABLE IF NOT EXISTS quality.counted_files (
    scope_key VARCHAR, suite VARCHAR, relation VARCHAR, file_id VARCHAR, fingerprint VARCHAR, counted_by_run VARCHAR
);
CREATE TABLE IF NOT EXISTS quality.file_check_counts (
    scope_key VARCHAR, suite VARCHAR, relation VARCHAR, file_id VARCHAR, source_id VARCHAR,
    institution_code VARCHAR, check_id VARCHAR, denominator BIGINT, violating_rows BIGINT
);
CREATE TEMP TABLE IF NOT EXISTS {SCOPE_TABLE} (relation VARCHAR, file_id VARCHAR);
CREATE TEMP TABLE IF NOT EXISTS _quality_present (relation VARCHAR, file_id VARCHAR, fingerprint VARCHAR);
"""
BY_FILE = ("_file_id", "_source_id", "_institution")
KEY_AS_OF = "1970-01-01 00:00:00"  # the frame's SQL without the run's clock, for the scope key


class FileCounts:
    """The per-file counts of one quality run (``run_id``) on a read-write connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection, run_id: str, cat: Catalogue):
        self.con, self.run_id, self.cat = con, run_id, cat
        con.execute(DDL)
        self._std_marker = self._full_standardize_marker()
        self._files_read: dict[str, str] = {}
        self.files_counted = 0
        self.files_reused = 0

    def _full_standardize_marker(self) -> str:
        if not table_exists(self.con, "std.standardize_runs"):
            return "no standardize run"
        row = self.con.execute(
            "SELECT max(run_id), max(finished_at) FROM std.standardize_runs WHERE mode = 'full'"
        ).fetchone()
        return f"full standardize run {row[0]} at {row[1]}"

    def _reference_digest(self, checks: list[CheckSpec]) -> str:
        parts = []
        for ref, col in sorted(
            {
                (
                    c.params.get("reference", "ref.institutions"),
                    c.params.get("reference_column", "institution_code"),
                )
                for c in checks
                if c.rule == "in_reference"
            }
        ):
            if not table_exists(self.con, ref):
                parts.append(f"{ref}: absent")
                continue
            schema, _, name = ref.partition(".")
            n, digest = self.con.execute(
                f"SELECT count(*), coalesce(sum(hash(trim(CAST({q(col)} AS VARCHAR)))), 0) FROM {q(schema)}.{q(name)}"
            ).fetchone()
            parts.append(f"{ref}.{col}: {n} rows, {digest}")
        return "; ".join(parts)

    def scope_key(self, relation: Relation, checks: list[CheckSpec]) -> str:
        text = "\n".join(
            [
                frame_sql(self.con, relation, checks, self.cat, KEY_AS_OF),
                self._reference_digest(checks),
                self._std_marker,
            ]
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def files_to_count(self, suite: str, relation: Relation, key: str) -> list[str] | None:
        """The relation's files not counted under ``key`` yet (and scoped in ``SCOPE_TABLE``), after
        dropping the counts of files no longer present or counted under another key. ``None`` when
        the relation has rows without a file id: it is then counted whole, without the cache."""
        con, table = self.con, relation.table
        con.execute("DELETE FROM _quality_present WHERE relation = ?", [table])
        first = self._files_read.setdefault(relation.files_sql, table)  # one read per table and run
        source = (
            f"({relation.files_sql})" if first == table else f"_quality_present WHERE relation = {lit(first)}"
        )
        con.execute(f"INSERT INTO _quality_present SELECT ?, file_id, fingerprint FROM {source}", [table])
        if con.execute(
            "SELECT count(*) FROM _quality_present WHERE relation = ? AND file_id IS NULL", [table]
        ).fetchone()[0]:
            return None
        # forget files counted under another key, no longer present or holding other rows now
        con.execute(
            "DELETE FROM quality.counted_files c WHERE suite = ? AND relation = ? AND (scope_key <> ? OR NOT EXISTS "
            "(SELECT 1 FROM _quality_present p WHERE p.relation = ? AND p.file_id = c.file_id AND p.fingerprint = c.fingerprint))",
            [suite, table, key, table],
        )
        con.execute(
            "DELETE FROM quality.file_check_counts f WHERE suite = ? AND relation = ? AND NOT EXISTS "
            "(SELECT 1 FROM quality.counted_files c WHERE c.suite = f.suite AND c.relation = f.relation "
            "AND c.file_id = f.file_id AND c.scope_key = f.scope_key)",
            [suite, table],
        )
        new = [
            r[0]
            for r in con.execute(
                "SELECT file_id FROM _quality_present WHERE relation = ? EXCEPT "
                "SELECT file_id FROM quality.counted_files WHERE suite = ? AND relation = ? ORDER BY 1",
                [table, suite, table],
            ).fetchall()
        ]
        con.execute(f"DELETE FROM {SCOPE_TABLE} WHERE relation = ?", [table])
        if new:
            con.executemany(f"INSERT INTO {SCOPE_TABLE} VALUES (?, ?)", [[table, f] for f in new])
        (present,) = con.execute(
            "SELECT count(*) FROM _quality_present WHERE relation = ?", [table]
        ).fetchone()
        self.files_counted += len(new)
        self.files_reused += present - len(new)
        return new

    def record(
        self,
        suite: str,
        relation: Relation,
        key: str,
        checks: list[CheckSpec],
        scoped_frame: str,
    ) -> None:
        """Count the scoped frame (the new files' rows) per file and keep the counts."""
        con, table = self.con, relation.table
        cells = ", ".join(
            f"{{'check_id': {lit(c.check_id)}, 'den': den_{i}, 'bad': bad_{i}}}" for i, c in enumerate(checks)
        )
        con.execute(
            "INSERT INTO quality.file_check_counts "
            "SELECT ?, ?, ?, _file_id, coalesce(_source_id, '(unknown)'), _institution, "
            "cell.check_id, cell.den, cell.bad "
            f"FROM (SELECT *, unnest([{cells}]) AS cell FROM ({counts_sql(scoped_frame, checks, BY_FILE)})) "
            "WHERE cell.den > 0 OR cell.bad > 0",
            [key, suite, table],
        )
        con.execute(
            "INSERT INTO quality.counted_files SELECT ?, ?, ?, p.file_id, p.fingerprint, ? FROM _quality_present p "
            f"SEMI JOIN {SCOPE_TABLE} s ON s.relation = p.relation AND s.file_id = p.file_id WHERE p.relation = ?",
            [key, suite, table, self.run_id, table],
        )

    def totals(self, suite: str, relation: Relation, checks: list[CheckSpec]) -> list[tuple]:
        """Region-wide rows in the shape of ``rules.counts_sql``: (source, institution, den_0, bad_0, ...)."""
        index = {c.check_id: i for i, c in enumerate(checks)}
        acc: dict[tuple, list[int]] = defaultdict(lambda: [0] * (2 * len(checks)))
        for src, inst, check_id, den, bad in self.con.execute(
            "SELECT source_id, institution_code, check_id, sum(denominator), sum(violating_rows) "
            "FROM quality.file_check_counts WHERE suite = ? AND relation = ? GROUP BY ALL",
            [suite, relation.table],
        ).fetchall():
            if check_id in index:
                i = index[check_id]
                acc[(src, inst)][2 * i] += int(den)
                acc[(src, inst)][2 * i + 1] += int(bad)
        return [
            (src, inst, *vals)
            for (src, inst), vals in sorted(acc.items(), key=lambda kv: (kv[0][0], str(kv[0][1])))
        ]
