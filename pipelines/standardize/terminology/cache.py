"""Diagnosis results cached across runs in the data directory (SQLite, one file).

Key: (normalized text, clean code, standardizer version), where the version covers the terminology
pack, the curated files, the learned model and the reviewed mappings: change any of them and old
results are simply not found (and pruned on the next write). A rerun, or a new day's files, sends
only texts never seen before through the standardizer.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path

from pipelines.standardize.terminology.normalize import normalize_text
from pipelines.standardize.terminology.pack import clean_code

CACHE_FILE = "diagnosis_cache.sqlite"


def cache_key(text: str | None, code: str | None, version: str) -> str:
    norm = normalize_text(text) if text else ""
    cc = clean_code(code) if code else ""
    return hashlib.sha256(f"{norm}\x1f{cc}\x1f{version}".encode()).hexdigest()


class ResultCache:
    """Persistent (text, code) -> DiagnosisResult JSON for one standardizer version."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as con:
            con.execute(
                "CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, version TEXT, result TEXT)"
            )
        self.hits = 0
        self.misses = 0

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def standardize_many(self, std, pairs: list[tuple[str | None, str | None]]):
        from pipelines.standardize.terminology.results import DiagnosisResult, _as_text

        version = std.version
        keys = [cache_key(_as_text(t), _as_text(c), version) for t, c in pairs]
        found: dict[str, str] = {}
        with self._lock, self._connect() as con:
            unique = list(dict.fromkeys(keys))
            for i in range(0, len(unique), 500):
                chunk = unique[i : i + 500]
                marks = ",".join("?" * len(chunk))
                found.update(
                    con.execute(f"SELECT key, result FROM results WHERE key IN ({marks})", chunk).fetchall()
                )
        out = []
        new: dict[str, str] = {}
        for (text, code), key in zip(pairs, keys, strict=True):
            if key in found:
                self.hits += 1
                out.append(DiagnosisResult.from_json(json.loads(found[key]), std.pack, text, code))
                continue
            self.misses += 1
            result = std.standardize(text, code)
            new[key] = json.dumps(result.to_json(internal=True), ensure_ascii=False)
            found[key] = new[key]
            out.append(result)
        if new:
            with self._lock, self._connect() as con:
                con.execute("DELETE FROM results WHERE version <> ?", [version])  # stale versions
                con.executemany(
                    "INSERT OR REPLACE INTO results VALUES (?, ?, ?)",
                    [(k, version, v) for k, v in new.items()],
                )
        return out
