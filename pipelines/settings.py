"""Where things live. Every path has a default under ``data/`` and can be overridden.

Overrides, strongest first: explicit function/CLI arguments, then environment variables
(``RW_DATA_DIR`` moves everything; ``RW_INBOX``, ``RW_WAREHOUSE``, ``RW_PUBLISHED`` ... move one
thing), then the defaults below.
"""

from __future__ import annotations

import os
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
DUCKDB_MEMORY_LIMIT = os.environ.get("RW_DUCKDB_MEMORY_LIMIT", "3GB")


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


def default_sources_dir() -> Path:
    """The source-YAML folder when no ``--sources-dir`` is given: ``$RW_SOURCES_DIR``, else
    ``./sources`` of the working directory when it exists, else the installed project's."""
    value = os.environ.get("RW_SOURCES_DIR")
    if value:
        return Path(value).expanduser().resolve()
    here = Path.cwd() / "sources"
    return here.resolve() if here.is_dir() else SOURCES_DIR


@dataclass(frozen=True)
class Paths:
    """All run-time locations, derived from one data directory."""

    data_dir: Path = field(default_factory=lambda: _env_path("RW_DATA_DIR", REPO_ROOT / "data"))

    @property
    def inbox(self) -> Path:
        return _env_path("RW_INBOX", self.data_dir / "inbox")

    @property
    def registry(self) -> Path:
        """Institution + alliance registry (CSV) the commission maintains."""
        return _env_path("RW_REGISTRY", self.data_dir / "registry")

    @property
    def truth(self) -> Path:
        return self.data_dir / "truth"

    @property
    def warehouse(self) -> Path:
        """The DuckDB file the pipeline writes. Dashboards never open it."""
        return _env_path("RW_WAREHOUSE", self.data_dir / "warehouse" / "warehouse.duckdb")

    @property
    def published_dir(self) -> Path:
        return _env_path("RW_PUBLISHED", self.data_dir / "published")

    @property
    def published(self) -> Path:
        """The current published snapshot (a symlink swapped atomically)."""
        return self.published_dir / "current.duckdb"

    @property
    def dagster_home(self) -> Path:
        return _env_path("DAGSTER_HOME", self.data_dir / "dagster_home")

    @property
    def secrets_dir(self) -> Path:
        """Per-installation secrets (person-key HMAC secret). Outside git: data/ is ignored."""
        return _env_path("RW_SECRETS", self.data_dir / "secrets")

    @property
    def reviewed_mappings(self) -> Path:
        """The quality team's reviewed diagnosis mappings (CSV they edit)."""
        return _env_path("RW_REVIEWED_MAPPINGS", STANDARD_DIR / "mappings" / "reviewed_mappings.csv")

    @property
    def app_dir(self) -> Path:
        """The dashboards' own state: users (bcrypt hashes) and the audit log. Never published."""
        return _env_path("RW_APP_DIR", self.data_dir / "app")

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
    return Paths(Path(data_dir).expanduser().resolve()) if data_dir else Paths()
