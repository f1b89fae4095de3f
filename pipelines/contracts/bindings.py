"""Source bindings: which raw column(s) of a source's landing table carry which element.

The one resolution of ``sources/<source_id>.yaml`` (``columns``, ``constants``, ``defaults``) against
the columns a raw table actually has; the standardizer stages from it and the quality checks on the
raw landing read the same columns. A canonical source's headers are the element names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipelines.contracts.sql import quote_identifier, quote_literal
from pipelines.contracts.standard import DataElement
from pipelines.ingest.registry import SourceConfig


@dataclass
class Binding:
    """How one element is read from one raw table."""

    element: DataElement
    columns: list[str]  # raw columns (concatenated with a space when several map to one element)
    date_formats: tuple[str, ...] = ()
    value_map: dict[str, str] = field(default_factory=dict)
    constant_sql: str | None = None  # the YAML's constants: the value of every row of a file
    default_sql: str | None = None  # the YAML's defaults: the value where the column is empty

    def received_sql(self, alias: str = "r") -> str:
        """SQL of the value as received: the bound column, or several joined with a space."""
        if not self.columns:
            return "CAST(NULL AS VARCHAR)"
        if len(self.columns) == 1:
            return f"{alias}.{quote_identifier(self.columns[0])}"
        return (
            "NULLIF(concat_ws(' ', "
            + ", ".join(f"{alias}.{quote_identifier(c)}" for c in self.columns)
            + "), '')"
        )

    @property
    def raw_sql(self) -> str:
        """SQL of the value the standardizer maps: as received, with the YAML's constants and defaults
        (these need the file name as ``r._std_file_name``)."""
        x = self.received_sql("r")
        if self.constant_sql:
            x = f"coalesce({self.constant_sql}, {x})"
        if self.default_sql:
            x = f"CASE WHEN nullif(trim({x}), '') IS NULL THEN {self.default_sql} ELSE {x} END"
        return x


def _per_file_sql(values: list[tuple[str, str | None]]) -> str | None:
    """A YAML constant/default as SQL, from (pattern, value or None) of every file entry of the
    entity in YAML order: a literal when they all give the same value, else chosen by the file
    name (the first matching entry, as landing chooses it)."""
    given = {v for _, v in values}
    if given == {None}:
        return None
    if len(given) == 1:
        return quote_literal(given.pop())
    return (
        "CASE "
        + " ".join(
            f"WHEN r._std_file_name GLOB {quote_literal(p)} THEN {quote_literal(v) if v is not None else 'NULL'}"
            for p, v in values
        )
        + " END"
    )


def bindings_for(
    cfg: SourceConfig | None, entity: str, raw_columns: list[str], elements: list[DataElement]
) -> dict[str, Binding]:
    """element -> Binding for the elements of ``entity`` the raw table (with ``raw_columns``) carries.
    ``cfg`` None: a table without a registered source, read as canonical."""
    by_name = {e.element: e for e in elements}
    out: dict[str, Binding] = {}
    if cfg is None or cfg.is_canonical:
        for c in raw_columns:
            if c in by_name:
                out[c] = Binding(by_name[c], [c])
        if cfg is None:
            return out
    specs = [s for s in cfg.files if s.entity == entity]
    for spec in specs if not cfg.is_canonical else ():
        for col in spec.columns:
            if col.element not in by_name or col.source_column not in raw_columns:
                continue
            b = out.get(col.element)
            if b is None:
                out[col.element] = Binding(
                    by_name[col.element], [col.source_column], col.date_formats, dict(col.value_map)
                )
            elif col.source_column not in b.columns:
                b.columns.append(col.source_column)
                b.date_formats = tuple(dict.fromkeys((*b.date_formats, *col.date_formats)))
                b.value_map.update(col.value_map)
    for kind in ("constants", "defaults"):
        for element in dict.fromkeys(e for spec in specs for e in getattr(spec, kind)):
            if element not in by_name:
                continue
            values = [(spec.pattern, getattr(spec, kind).get(element)) for spec in specs]
            b = out.setdefault(element, Binding(by_name[element], []))
            setattr(b, "constant_sql" if kind == "constants" else "default_sql", _per_file_sql(values))
    return out


def raw_table_bindings(
    con, cfg: SourceConfig | None, source_id: str, entity: str, elements: list[DataElement]
) -> dict[str, Binding]:
    """:func:`bindings_for` the landing table ``raw.<source_id>__<entity>`` as it is in ``con``."""
    raw_columns = [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = ?",
            [f"{source_id}__{entity}"],
        ).fetchall()
    ]
    return bindings_for(cfg, entity, raw_columns, elements)
