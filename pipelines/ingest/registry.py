"""The source registry: one YAML per source under ``sources/`` (see docs/design.md).

Onboarding a new hospital = adding one YAML file here and dropping its files in
``data/inbox/<source_id>/``. No code.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipelines.settings import SOURCES_DIR

FORMATS = {"csv", "xlsx", "jsonl", "canonical"}
ENCODINGS = {"utf-8", "utf-8-sig", "gbk", "gb18030", "auto"}


class SourceConfigError(ValueError):
    """A source YAML that cannot be used, with the file and the problem named."""


@dataclass(frozen=True)
class ColumnSpec:
    source_column: str  # header text (csv/xlsx) or JSON path (jsonl)
    element: str  # canonical element name (standard/data_elements.csv)
    date_formats: tuple[str, ...] = ()
    value_map: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FileSpec:
    entity: str
    pattern: str
    columns: tuple[ColumnSpec, ...] = ()  # empty for canonical sources
    required_columns: tuple[str, ...] = ()

    def matches(self, file_name: str) -> bool:
        return fnmatch.fnmatch(file_name, self.pattern)

    def element_of(self, source_column: str) -> str | None:
        for c in self.columns:
            if c.source_column == source_column:
                return c.element
        return None


@dataclass(frozen=True)
class SourceConfig:
    source_id: str
    name: str
    format: str
    files: tuple[FileSpec, ...]
    version: int = 1
    institutions: tuple[str, ...] | None = None  # None = any institution in the registry
    encoding: str = "utf-8"
    delimiter: str = ","
    header_row: int = 1
    footer_regex: str | None = None
    sheets: tuple[str | int, ...] | None = (
        None  # xlsx/xls: sheet names or 1-based positions; None = all matching
    )
    path: Path | None = None

    @property
    def is_canonical(self) -> bool:
        return self.format == "canonical"

    def file_spec_for(self, file_name: str) -> FileSpec | None:
        for spec in self.files:
            if spec.matches(file_name):
                return spec
        return None


def _parse_columns(raw: dict[str, Any] | None, where: str) -> tuple[ColumnSpec, ...]:
    out = []
    for source_column, spec in (raw or {}).items():
        if isinstance(spec, str):
            spec = {"element": spec}
        if not isinstance(spec, dict) or "element" not in spec:
            raise SourceConfigError(f"{where}: column {source_column!r} needs an 'element'")
        out.append(
            ColumnSpec(
                source_column=str(source_column),
                element=str(spec["element"]),
                date_formats=tuple(spec.get("date_formats") or ()),
                value_map={str(k): str(v) for k, v in (spec.get("value_map") or {}).items()},
            )
        )
    return tuple(out)


def _parse_sheets(raw: Any, where: str) -> tuple[str | int, ...] | None:
    if raw is None:
        return None
    items = raw if isinstance(raw, list) else [raw]
    out: list[str | int] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int | str) or (isinstance(item, int) and item < 1):
            raise SourceConfigError(
                f"{where}: sheets entries are sheet names or 1-based positions, not {item!r}"
            )
        out.append(item)
    return tuple(out)


def parse_source(data: dict[str, Any], path: Path | None = None) -> SourceConfig:
    where = str(path or "<source>")
    try:
        source_id = str(data["source_id"])
        fmt = str(data["format"]).lower()
    except KeyError as exc:
        raise SourceConfigError(f"{where}: missing key {exc.args[0]!r}") from None
    if fmt not in FORMATS:
        raise SourceConfigError(f"{where}: format {fmt!r} is not one of {sorted(FORMATS)}")
    encoding = str(data.get("encoding", "utf-8")).lower()
    if encoding not in ENCODINGS:
        raise SourceConfigError(f"{where}: encoding {encoding!r} is not one of {sorted(ENCODINGS)}")
    files = []
    for i, f in enumerate(data.get("files") or []):
        fwhere = f"{where} files[{i}]"
        if "entity" not in f or "pattern" not in f:
            raise SourceConfigError(f"{fwhere}: needs 'entity' and 'pattern'")
        columns = _parse_columns(f.get("columns"), fwhere)
        if fmt != "canonical" and not columns:
            raise SourceConfigError(f"{fwhere}: a non-canonical source must map its columns")
        files.append(
            FileSpec(
                entity=str(f["entity"]),
                pattern=str(f["pattern"]),
                columns=columns,
                required_columns=tuple(str(c) for c in f.get("required_columns") or ()),
            )
        )
    if not files:
        raise SourceConfigError(f"{where}: no 'files' entries")
    insts = data.get("institutions", "any")
    return SourceConfig(
        source_id=source_id,
        name=str(data.get("name", source_id)),
        format=fmt,
        files=tuple(files),
        version=int(data.get("version", 1)),
        institutions=None if insts in (None, "any") else tuple(str(x) for x in insts),
        encoding=encoding,
        delimiter=str(data.get("delimiter", ",")),
        header_row=int(data.get("header_row", 1)),
        footer_regex=data.get("footer_regex"),
        sheets=_parse_sheets(data.get("sheets"), where),
        path=path,
    )


def load_sources(sources_dir: Path | None = None) -> dict[str, SourceConfig]:
    """All sources, keyed by source_id. Raises SourceConfigError naming the bad file."""
    sources_dir = Path(sources_dir or SOURCES_DIR)
    out: dict[str, SourceConfig] = {}
    for path in sorted(sources_dir.glob("*.y*ml")):
        with path.open(encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
        cfg = parse_source(data, path)
        if cfg.source_id in out:
            raise SourceConfigError(
                f"{path}: source_id {cfg.source_id!r} already defined in {out[cfg.source_id].path}"
            )
        out[cfg.source_id] = cfg
    return out
