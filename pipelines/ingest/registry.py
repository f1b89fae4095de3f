"""The source registry: one YAML per source under ``sources/`` (see docs/ingestion.md).

Onboarding a new hospital = adding one YAML file here and dropping its files in
``data/inbox/<source_id>/``. No code.

Every YAML is validated against a schema (pydantic models below, ``extra="forbid"``) before any
file is landed: unknown keys, unknown elements, bad date formats and wrong types are errors that
name the file, the line and the key (``referral-warehouse sources validate``).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from pipelines.settings import STANDARD_DIR, default_sources_dir

# strftime directives a date format may use (normalizers.parse_datetime applies them; %p also
# reads 上午/下午)
DATE_DIRECTIVES = set("YymdHIMSfpbBj%")


class SourceConfigError(ValueError):
    """A source YAML that cannot be used, with the file, line and key of every problem named.

    ``problems``: [{"file", "line", "key", "message"}], one per error."""

    def __init__(self, message: str, problems: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.problems = problems or []


# ---------------------------------------------------------------------------------------------
# The standard's elements (read from standard/data_elements.csv, without heavy imports)
# ---------------------------------------------------------------------------------------------


def canonical_elements(standard_dir: Path = STANDARD_DIR) -> dict[str, tuple[str, ...]]:
    """{entity: (element, ...)} of the canonical layer, in the standard's order (pipelines.contracts)."""
    from pipelines.contracts.standard import standard_at

    return standard_at(standard_dir).canonical_columns()


# ---------------------------------------------------------------------------------------------
# Schema
# ---------------------------------------------------------------------------------------------


def _scalar_text(v: Any) -> Any:
    """YAML scalars (numbers, booleans) given where text is meant: 1 -> "1"."""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int | float):
        return str(v)
    return v


def _text_dict(v: Any) -> Any:
    if isinstance(v, dict):
        return {_scalar_text(k): _scalar_text(x) for k, x in v.items()}
    return v


Text = Annotated[str, BeforeValidator(_scalar_text)]
TextMap = Annotated[dict[str, str], BeforeValidator(_text_dict)]


def _error(kind: str, message: str, at: Any = None) -> PydanticCustomError:
    """A schema error; ``at``: a key (or tuple of keys) below the validated field, for the line number.
    The message is final text (pydantic only substitutes ``{ctx keys}``, and there are none)."""
    return PydanticCustomError(kind, message, {"_at": at} if at is not None else None)


def check_date_format(fmt: str) -> str:
    directives = re.findall(r"%(.)", fmt.replace("%%", ""))
    bad = [d for d in directives if d not in DATE_DIRECTIVES]
    if bad:
        known = " ".join("%" + d for d in sorted(DATE_DIRECTIVES - {"%"}))
        raise _error(
            "date_format",
            f"date format {fmt!r} uses unknown directive(s) {' '.join('%' + d for d in bad)} (known: {known})",
        )
    if not ({"Y", "y"} & set(directives)):
        raise _error("date_format", f"date format {fmt!r} has no year (%Y or %y)")
    if "I" in directives and "p" not in directives:
        raise _error(
            "date_format", f"date format {fmt!r} uses %I (12-hour clock) without %p (上午/下午, AM/PM)"
        )
    return fmt


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnModel(_Strict):
    element: str
    date_formats: list[Annotated[str, AfterValidator(check_date_format)]] = []
    value_map: TextMap = {}


def _column(v: Any) -> Any:
    return {"element": v} if isinstance(v, str) else v


class FileModel(_Strict):
    entity: str
    pattern: str
    required_columns: list[Text] = []
    columns: dict[Text, Annotated[ColumnModel, BeforeValidator(_column)]] = {}
    constants: TextMap = {}
    defaults: TextMap = {}
    # workbook sheets to read (names or 1-based numbers); read by the xlsx reader
    sheets: list[Text] | Text | None = None

    @field_validator("entity")
    @classmethod
    def _entity(cls, v: str, info: ValidationInfo) -> str:
        known = canonical_elements()
        if v not in known:
            raise _error("unknown_entity", f"unknown entity {v!r}; known: {', '.join(known)}")
        return v

    @field_validator("columns", "constants", "defaults")
    @classmethod
    def _elements(cls, v: dict, info: ValidationInfo) -> dict:
        entity = info.data.get("entity")
        if entity is None:  # the entity itself is wrong: reported there
            return v
        known = canonical_elements()[entity]
        for key, spec in v.items():
            element = spec.element if isinstance(spec, ColumnModel) else key
            if element not in known:
                what = "column" if info.field_name == "columns" else info.field_name[:-1]
                raise _error(
                    "unknown_element",
                    f"{what} {key!r}: {element!r} is not an element of {entity} "
                    f"(standard/data_elements.csv: {', '.join(known)})",
                    (key, "element") if info.field_name == "columns" else key,
                )
        return v

    @model_validator(mode="after")
    def _no_conflicts(self) -> FileModel:
        mapped = {c.element for c in self.columns.values()}
        both = sorted(mapped & set(self.constants))
        if both:
            raise _error(
                "constant_and_column",
                f"element(s) {', '.join(both)} have both a column and a constant: keep one (a constant is "
                "the value of every row; use 'defaults' for a value where the column is empty)",
                ("constants", both[0]),
            )
        return self


class SourceModel(_Strict):
    source_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")]
    name: Text | None = None
    version: int = 1
    institutions: Literal["any"] | list[Text] = "any"
    format: Literal["csv", "xlsx", "jsonl", "canonical"]
    encoding: Literal["utf-8", "utf-8-sig", "gbk", "gb18030", "auto"] = "utf-8"
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    header_row: Annotated[int, Field(ge=1)] = 1
    footer_regex: str | None = None
    sheets: list[Text] | Text | None = None
    files: Annotated[list[FileModel], Field(min_length=1)]

    @field_validator("institutions", mode="before")
    @classmethod
    def _institutions(cls, v: Any) -> Any:
        if v is None or (isinstance(v, str) and v.strip().lower() == "any"):
            return "any"
        if not isinstance(v, list):
            raise _error(
                "institutions",
                f"institutions is `any` or a list of institution codes like [C07, C08], not {v!r}",
            )
        return v

    @field_validator("format", "encoding", mode="before")
    @classmethod
    def _lower(cls, v: Any) -> Any:
        return v.lower() if isinstance(v, str) else v

    @field_validator("footer_regex")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise _error(
                    "regex", f"footer_regex {v!r} is not a valid regular expression ({exc})"
                ) from None
        return v

    @model_validator(mode="after")
    def _columns_needed(self) -> SourceModel:
        if self.format != "canonical":
            for i, f in enumerate(self.files):
                if not f.columns:
                    raise _error(
                        "no_columns",
                        f"files[{i}] ({f.entity}): a {self.format} source must map its columns ('columns:'); "
                        "only format: canonical takes its headers as element names",
                        ("files", i),
                    )
        return self


# ---------------------------------------------------------------------------------------------
# What the rest of the pipeline uses
# ---------------------------------------------------------------------------------------------


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
    constants: dict[str, str] = field(default_factory=dict)  # element -> the value of every row
    defaults: dict[str, str] = field(default_factory=dict)  # element -> the value where empty
    sheets: tuple[str, ...] | None = None

    def matches(self, file_name: str) -> bool:
        return fnmatch.fnmatch(file_name, self.pattern)


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
    path: Path | None = None
    sheets: tuple[str, ...] | None = None

    @property
    def is_canonical(self) -> bool:
        return self.format == "canonical"

    def file_spec_for(self, file_name: str) -> FileSpec | None:
        for spec in self.files:
            if spec.matches(file_name):
                return spec
        return None


class Sources(dict):
    """{source_id: SourceConfig}, remembering the folder the YAMLs were read from."""

    sources_dir: Path | None = None


def _sheets(v: Any) -> tuple[str, ...] | None:
    if v is None:
        return None
    return tuple(v) if isinstance(v, list) else (v,)


def _to_config(m: SourceModel, path: Path | None) -> SourceConfig:
    insts = None if m.institutions == "any" else tuple(m.institutions)
    files = []
    for f in m.files:
        constants = dict(f.constants)
        # one institution and no column (nor constant) for it: that code is every row's institution
        elements = {c.element for c in f.columns.values()}
        if (
            insts is not None
            and len(insts) == 1
            and "institution_code" in canonical_elements()[f.entity]
            and "institution_code" not in elements
            and "institution_code" not in constants
            and m.format != "canonical"
        ):
            constants["institution_code"] = insts[0]
        files.append(
            FileSpec(
                entity=f.entity,
                pattern=f.pattern,
                columns=tuple(
                    ColumnSpec(str(k), c.element, tuple(c.date_formats), dict(c.value_map))
                    for k, c in f.columns.items()
                ),
                required_columns=tuple(f.required_columns),
                constants=constants,
                defaults=dict(f.defaults),
                sheets=_sheets(f.sheets),
            )
        )
    return SourceConfig(
        source_id=m.source_id,
        name=m.name or m.source_id,
        format=m.format,
        files=tuple(files),
        version=m.version,
        institutions=insts,
        encoding=m.encoding,
        delimiter=m.delimiter,
        header_row=m.header_row,
        footer_regex=m.footer_regex,
        path=path,
        sheets=_sheets(m.sheets),
    )


# ---------------------------------------------------------------------------------------------
# Errors with file, line and key
# ---------------------------------------------------------------------------------------------


def _line_of(node: yaml.Node | None, loc: Iterable[Any]) -> int | None:
    """1-based line of the YAML node a pydantic error location points at (the deepest found)."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if str(k.value) == str(part):
                    line, node = k.start_mark.line + 1, v
                    break
            else:
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _problems(exc: ValidationError, where: str, root: yaml.Node | None) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors(include_url=False):
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p[:1] == "[" or p == "ColumnModel")]
        at = (err.get("ctx") or {}).get("_at")
        if at is not None:
            loc += list(at) if isinstance(at, tuple) else [at]
        key = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = f"unknown key {loc[-1]!r} (a typo? the keys are listed in docs/ingestion.md)"
        elif err["type"] == "missing":
            msg = f"missing key {loc[-1]!r}"
        out.append({"file": where, "line": _line_of(root, loc), "key": key or "(top)", "message": msg})
    return sorted(out, key=lambda p: p["line"] or 0)


def _raise(problems: list[dict[str, Any]]) -> None:
    text = "\n".join(f"{p['file']}:{p['line'] or '?'}: {p['key']}: {p['message']}" for p in problems)
    raise SourceConfigError(text, problems)


def parse_source(data: Any, path: Path | None = None, root: yaml.Node | None = None) -> SourceConfig:
    """Validate one parsed YAML document; ``root`` (the composed YAML node) gives line numbers."""
    where = str(path or "<source>")
    if not isinstance(data, dict):
        _raise([{"file": where, "line": 1, "key": "(top)", "message": "a source YAML is a mapping of keys"}])
    try:
        model = SourceModel.model_validate(data)
    except ValidationError as exc:
        _raise(_problems(exc, where, root))
    return _to_config(model, path)


def read_source(path: Path) -> SourceConfig:
    """Read and validate one source YAML file."""
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        _raise(
            [
                {
                    "file": str(path),
                    "line": mark.line + 1 if mark else None,
                    "key": "(yaml)",
                    "message": f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
                }
            ]
        )
    return parse_source(data, path, root)


def resolve_sources_dir(sources_dir: str | Path | None = None) -> Path:
    return Path(sources_dir) if sources_dir else default_sources_dir()


def validate_sources(sources_dir: str | Path | None = None) -> tuple[Sources, list[dict[str, Any]]]:
    """Every YAML in the folder, validated: (the good sources, every problem of the bad ones)."""
    folder = resolve_sources_dir(sources_dir)
    out = Sources()
    out.sources_dir = folder
    problems: list[dict[str, Any]] = []
    if not folder.is_dir():
        problems.append(
            {
                "file": str(folder),
                "line": None,
                "key": "(folder)",
                "message": "the sources folder does not exist",
            }
        )
        return out, problems
    for path in sorted(folder.glob("*.y*ml")):
        try:
            cfg = read_source(path)
        except SourceConfigError as exc:
            problems += exc.problems
            continue
        if cfg.source_id in out:
            problems.append(
                {
                    "file": str(path),
                    "line": 1,
                    "key": "source_id",
                    "message": f"source_id {cfg.source_id!r} already defined in {out[cfg.source_id].path}",
                }
            )
            continue
        out[cfg.source_id] = cfg
    return out, problems


def load_sources(sources_dir: str | Path | None = None) -> Sources:
    """All sources, keyed by source_id (default folder: ``settings.default_sources_dir()``).
    Raises SourceConfigError naming the file, line and key of every problem of every YAML."""
    out, problems = validate_sources(sources_dir)
    if problems:
        _raise(problems)
    return out
