"""The state of one standardize run that every step reads: connection, sources, standard, lookups,
and where an incremental entity run writes (its file scope and outcome tables)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from pipelines.contracts.standard import Standard
from pipelines.ingest.registry import SourceConfig

# Bump when a change of the standardizer changes what a given raw row standardizes to: the next run
# is then a full rebuild (std.standardize_runs), like a change of the standard's or terminology's version.
ENGINE_VERSION = "1"
VALUE_OUTCOMES = "std.value_outcomes"
ROW_OUTCOMES = "std.row_outcomes"
VALID_SENTINEL = "\x00canonical"  # the distinct-value group of rows a valid predicate proved canonical


class NeedsFullRebuild(Exception):
    """An incremental entity run found rows it cannot add without touching earlier files' rows."""


class StandardizeRun:
    def __init__(
        self,
        con,
        sources: dict[str, SourceConfig],
        secret: bytes,
        std: Standard,
        log: Callable[[str], Any],
        diagnosis: Any,
    ):
        self.con = con
        self.sources = sources
        self.secret = secret
        self.std = std
        self.log = log
        self.diagnosis = diagnosis
        self.temp_tables = 0
        self.synonyms = {v.domain_id: std.synonym_map(v.domain_id) for v in std.domain_values}
        self.institutions = self.institution_lookup()
        # incremental entity runs: the temp table of the file ids to stage (None: every landed row),
        # and where their value/row outcomes go before they are merged into std.*
        self.scope: str | None = None
        self.value_outcomes = VALUE_OUTCOMES
        self.row_outcomes = ROW_OUTCOMES
        inst = hashlib.sha256(json.dumps(sorted(self.institutions.items())).encode()).hexdigest()[:16]
        self.cache_prefix = f"{ENGINE_VERSION}|{std.version}|inst:{inst}"

    def tmp(self, prefix: str) -> str:
        """A fresh temp table name."""
        self.temp_tables += 1
        return f"_std_{prefix}_{self.temp_tables}"

    def table_exists(self, schema: str, name: str) -> bool:
        return bool(
            self.con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                [schema, name],
            ).fetchall()[0][0]
        )

    def institution_lookup(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if not self.table_exists("ref", "institutions"):
            self.log(
                "standardize: ref.institutions is missing; every institution code will be INSTITUTION_UNKNOWN"
            )
            return out
        for code, name in self.con.execute(
            "SELECT institution_code, institution_name FROM ref.institutions"
        ).fetchall():
            if code is None:
                continue
            out[code] = code
            out.setdefault(code.upper(), code)
            if name:
                out.setdefault(name.strip(), code)
        return out

    def with_files(self, raw_name: str) -> str:
        """The raw rows with their file's arrival time and name (YAML constants can depend on it); in an
        incremental entity run only the rows of the files in scope."""
        where = f" WHERE r._file_id IN (SELECT file_id FROM {self.scope})" if self.scope else ""
        return (
            f"(SELECT r.*, f.received_at AS _std_received_at, f.file_name AS _std_file_name "
            f"FROM {raw_name} r LEFT JOIN _std_files f ON r._file_id = f.file_id{where})"
        )

    def stage_columns(self, stage: str) -> set[str]:
        return {
            r[0]
            for r in self.con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [stage]
            ).fetchall()
        }
