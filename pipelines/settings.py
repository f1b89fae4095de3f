"""Where things live and how the pipeline is configured: one :class:`Settings` object.

Configuration is resolved once, at an entry point (the ``referral-warehouse`` CLI, the Dagster
definitions, the Streamlit app), by :func:`Settings.from_environ` and then passed down: to the
Dagster resources, to functions as arguments. Nothing below the entry points reads or writes
``os.environ``; nothing here runs at import.

Precedence, strongest first: explicit arguments (``--data-dir``, ``--sources-dir``, ``--engine``),
then environment variables (``RW_DATA_DIR`` moves everything; ``RW_INBOX``, ``RW_WAREHOUSE``,
``RW_PUBLISHED`` ... move one thing, but never away from an explicit data dir), then the defaults.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCES_DIR = REPO_ROOT / "sources"  # the installed project's source registry: one YAML per source
STANDARD_DIR = REPO_ROOT / "standard"  # data-element standard, value domains, terminology
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"
SHARED_REFERENCE_DIR = REPO_ROOT.parent / "shared" / "reference"


# DuckDB's memory cap for the pipeline's connections and dbt's (DuckDB spills to disk beyond it).
# Its default is 80 % of RAM per connection; the pipeline's target is a 6 GiB peak for the whole tree.
# ``RW_DUCKDB_MEMORY_LIMIT`` (Settings.duckdb_memory_limit) changes it.
DUCKDB_MEMORY_LIMIT = "3GB"

ENGINES = ("duckdb", "spark")
DEFAULT_ENGINE = "duckdb"

# Paths properties a single environment variable may move (when no data dir is given explicitly).
LOCATION_ENV = {
    "inbox": "RW_INBOX",
    "registry": "RW_REGISTRY",
    "warehouse": "RW_WAREHOUSE",
    "published_dir": "RW_PUBLISHED",
    "dagster_home": "DAGSTER_HOME",
    "secrets_dir": "RW_SECRETS",
    "app_dir": "RW_APP_DIR",
}
# Locations outside the data dir: the environment moves them even with an explicit data dir.
SHARED_LOCATION_ENV = {"reviewed_mappings": "RW_REVIEWED_MAPPINGS"}


def _path(value: str | Path) -> Path:
    return Path(value).expanduser().resolve()


def sources_dir_from(environ: Mapping[str, str], cwd: Path | None = None) -> Path:
    """The source-YAML folder when no ``--sources-dir`` is given: ``$RW_SOURCES_DIR``, else
    ``./sources`` of the working directory when it exists, else the installed project's."""
    value = environ.get("RW_SOURCES_DIR")
    if value:
        return _path(value)
    here = (cwd or Path.cwd()) / "sources"
    return here.resolve() if here.is_dir() else SOURCES_DIR


def default_sources_dir() -> Path:
    """``./sources`` of the working directory when it exists, else the installed project's."""
    return sources_dir_from({})


@dataclass(frozen=True)
class Paths:
    """All run-time locations, derived from one data directory; ``moved`` holds the locations
    placed elsewhere (keys: the property names in ``LOCATION_ENV`` / ``SHARED_LOCATION_ENV``)."""

    data_dir: Path = REPO_ROOT / "data"
    moved: Mapping[str, Path] = field(default_factory=dict, hash=False)

    def _at(self, name: str, default: Path) -> Path:
        return self.moved.get(name, default)

    @property
    def inbox(self) -> Path:
        return self._at("inbox", self.data_dir / "inbox")

    @property
    def registry(self) -> Path:
        """Institution + alliance registry (CSV) the commission maintains."""
        return self._at("registry", self.data_dir / "registry")

    @property
    def truth(self) -> Path:
        return self.data_dir / "truth"

    @property
    def warehouse(self) -> Path:
        """The DuckDB file the pipeline writes. Dashboards never open it."""
        return self._at("warehouse", self.data_dir / "warehouse" / "warehouse.duckdb")

    @property
    def published_dir(self) -> Path:
        return self._at("published_dir", self.data_dir / "published")

    @property
    def published(self) -> Path:
        """The current published snapshot (a symlink swapped atomically)."""
        return self.published_dir / "current.duckdb"

    @property
    def dagster_home(self) -> Path:
        return self._at("dagster_home", self.data_dir / "dagster_home")

    @property
    def secrets_dir(self) -> Path:
        """Per-installation secrets (person-key HMAC secret). Outside git: data/ is ignored."""
        return self._at("secrets_dir", self.data_dir / "secrets")

    @property
    def reviewed_mappings(self) -> Path:
        """The quality team's reviewed diagnosis mappings (CSV they edit)."""
        return self._at("reviewed_mappings", STANDARD_DIR / "mappings" / "reviewed_mappings.csv")

    @property
    def app_dir(self) -> Path:
        """The dashboards' own state: users (bcrypt hashes) and the audit log. Never published."""
        return self._at("app_dir", self.data_dir / "app")

    @property
    def private_dirs(self) -> tuple[Path, ...]:
        """Folders holding personal data or secrets: owner-only (0700 folders, 0600 files)."""
        return (
            self.inbox,
            self.warehouse.parent,
            self.published_dir,
            self.secrets_dir,
            self.app_dir,
            self.dagster_home,
            self.truth,
        )

    def ensure(self) -> Paths:
        os.umask(PRIVATE_UMASK)
        for p in (self.inbox, self.warehouse.parent, self.published_dir, self.dagster_home, self.secrets_dir):
            p.mkdir(parents=True, exist_ok=True)
        secure_tree(self)
        return self


@dataclass(frozen=True)
class SparkSettings:
    """The Spark engine's settings (docs/scale-out.md). Local defaults fit a 2-core machine."""

    master: str = "local[2]"
    driver_memory: str = "3g"
    shuffle_partitions: str = "4"
    lake_dir: Path | None = None  # default: <data dir>/lake
    warehouse_dir: Path | None = None  # default: <lake>/spark-warehouse
    dbt_target: str = "spark"
    export_marts: tuple[str, ...] = ()  # marts imported back into DuckDB; empty = all

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> SparkSettings:
        lake, warehouse = environ.get("RW_LAKE"), environ.get("RW_SPARK_WAREHOUSE")
        marts = environ.get("RW_SPARK_EXPORT_MARTS", "")
        return cls(
            master=environ.get("RW_SPARK_MASTER", cls.master),
            driver_memory=environ.get("RW_SPARK_DRIVER_MEMORY", cls.driver_memory),
            shuffle_partitions=environ.get("RW_SPARK_SHUFFLE_PARTITIONS", cls.shuffle_partitions),
            lake_dir=_path(lake) if lake else None,
            warehouse_dir=_path(warehouse) if warehouse else None,
            dbt_target=environ.get("RW_DBT_TARGET_SPARK", cls.dbt_target),
            export_marts=tuple(t.strip() for t in marts.split(",") if t.strip()),
        )


class UnknownEngine(ValueError):
    pass


def resolve_engine(name: str | None = None) -> str:
    """The engine named (any case), else duckdb; raises :class:`UnknownEngine` for another name."""
    engine = (name or DEFAULT_ENGINE).strip().lower()
    if engine not in ENGINES:
        raise UnknownEngine(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
    return engine


@dataclass(frozen=True)
class Settings:
    """Everything a run is configured by, resolved once at the entry point."""

    paths: Paths = field(default_factory=Paths)
    sources_dir: Path = SOURCES_DIR
    engine: str = DEFAULT_ENGINE
    duckdb_memory_limit: str = DUCKDB_MEMORY_LIMIT
    spark: SparkSettings = field(default_factory=SparkSettings)

    @classmethod
    def from_environ(
        cls,
        environ: Mapping[str, str],
        data_dir: str | Path | None = None,
        sources_dir: str | Path | None = None,
        engine: str | None = None,
        cwd: Path | None = None,
    ) -> Settings:
        """Explicit arguments first, then ``environ`` (the entry point passes ``os.environ``)."""
        explicit = bool(data_dir)
        root = _path(data_dir) if data_dir else _path(environ.get("RW_DATA_DIR") or REPO_ROOT / "data")
        names = {**({} if explicit else LOCATION_ENV), **SHARED_LOCATION_ENV}
        moved = {prop: _path(environ[var]) for prop, var in names.items() if environ.get(var)}
        return cls(
            paths=Paths(root, moved),
            sources_dir=_path(sources_dir) if sources_dir else sources_dir_from(environ, cwd),
            engine=resolve_engine(engine or environ.get("RW_ENGINE")),
            duckdb_memory_limit=environ.get("RW_DUCKDB_MEMORY_LIMIT", DUCKDB_MEMORY_LIMIT),
            spark=SparkSettings.from_environ(environ),
        )


# Files this process creates are owner-only: 0600 files, 0700 folders.
PRIVATE_UMASK = 0o077


def secure_path(path: Path) -> list[str]:
    """Make ``path`` owner-only (a folder recursively: 0700 folders, 0600 files; symlinks are left
    alone, their targets are inside). Returns one line per mode changed."""
    changed: list[str] = []
    path = Path(path)
    if not path.exists() or path.is_symlink():
        return changed
    todo = [path]
    if path.is_dir():
        todo += list(path.rglob("*"))
    for p in todo:
        if p.is_symlink():
            continue
        want = 0o700 if p.is_dir() else 0o600
        try:
            mode = p.stat().st_mode & 0o777
            if mode != want:
                os.chmod(p, want)
                changed.append(f"{p}: {mode:04o} -> {want:04o}")
        except OSError as exc:  # e.g. a file owned by another user: reported, not fatal
            changed.append(f"{p}: cannot set {want:04o} ({exc})")
    return changed


def secure_tree(p: Paths) -> list[str]:
    """Check and fix the modes of the data dir's private parts; the data dir itself becomes 0700."""
    changed: list[str] = []
    if p.data_dir.is_dir() and (p.data_dir.stat().st_mode & 0o777) != 0o700:
        changed.append(f"{p.data_dir}: {p.data_dir.stat().st_mode & 0o777:04o} -> 0700")
        os.chmod(p.data_dir, 0o700)
    for d in p.private_dirs:
        changed += secure_path(d)
    return changed


def paths(data_dir: str | Path | None = None) -> Paths:
    """The locations under ``data_dir`` (default: the project's ``data/``). No environment: an
    entry point resolves that once with :meth:`Settings.from_environ`."""
    return Paths(_path(data_dir)) if data_dir else Paths()
