"""``referral-warehouse sources check SOURCE FILE``: what a source YAML makes of one file, without
touching the warehouse. The file is landed and standardized in a throw-away in-memory DuckDB with
the pipeline's own code (so what it shows is what a run would do), then summarized."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

from pipelines.ingest.registry import SourceConfig, Sources, canonical_elements
from pipelines.onboarding.draft import _domain_values, _elements_info, guess_code
from pipelines.onboarding.sniff import sniff

PII = {"patient_id_number", "patient_name", "phone"}


def _mask(v: Any) -> Any:
    from pipelines.privacy import mask

    return mask(v) if isinstance(v, str) else v


def check_file(
    cfg: SourceConfig, file: Path, registry: Path | None = None, n_rows: int = 5
) -> dict[str, Any]:
    import duckdb

    from pipelines.ingest import land_inbox, load_registry
    from pipelines.standardize.engine import standardize_all

    file = Path(file)
    out: dict[str, Any] = {"file": str(file), "source_id": cfg.source_id, "yaml": str(cfg.path or "")}
    spec = cfg.file_spec_for(file.name)
    # detected vs declared
    try:
        sn = sniff(file)
        out["detected"] = {
            "format": sn.format,
            "encoding": sn.encoding,
            "delimiter": sn.delimiter,
            "header_row": sn.header_row,
            "header": sn.header,
            "footer_row": sn.footer,
            "sheet": sn.sheet,
            "notes": sn.notes,
        }
    except Exception as exc:  # noqa: BLE001 - a file we cannot sniff is still checked by landing
        sn = None
        out["detected"] = {"error": str(exc)}
    out["declared"] = {
        "format": cfg.format,
        "encoding": cfg.encoding if cfg.format != "xlsx" else None,
        "delimiter": cfg.delimiter if cfg.format in ("csv", "canonical") else None,
        "header_row": cfg.header_row,
        "footer_regex": cfg.footer_regex,
    }
    mism = []
    if sn is not None:
        det = out["detected"]
        if cfg.format in ("csv", "canonical"):
            with file.open("rb") as fh:
                ascii_only = fh.read(1 << 20).isascii()  # plain ASCII reads the same in every encoding
            same = {"gbk": "gb18030", "utf-8-sig": "utf-8"}
            declared_enc = same.get(cfg.encoding, cfg.encoding)
            detected_enc = same.get(det["encoding"], det["encoding"])
            if not ascii_only and cfg.encoding != "auto" and detected_enc and detected_enc != declared_enc:
                mism.append(f"encoding: declared {cfg.encoding}, the bytes look like {det['encoding']}")
            if det["delimiter"] and det["delimiter"] != cfg.delimiter:
                mism.append(f"delimiter: declared {cfg.delimiter!r}, detected {det['delimiter']!r}")
        if det["header_row"] != cfg.header_row:
            mism.append(
                f"header_row: declared {cfg.header_row}, the header looks like row {det['header_row']}"
            )
        if det["footer_row"] and not cfg.footer_regex:
            mism.append("a totals row (合计/总计) ends the file but footer_regex is not set")
    out["mismatches"] = mism
    if spec is None:
        out["landing"] = {
            "status": "rejected",
            "reason": f"no_matching_pattern: {file.name} matches none of {[f.pattern for f in cfg.files]}",
        }
        out["accepted"] = False
        return out
    entity = spec.entity
    out["entity"] = entity
    tmp = Path(tempfile.mkdtemp(prefix="rw_check_"))
    try:
        inbox = tmp / "inbox"
        (inbox / cfg.source_id).mkdir(parents=True)
        shutil.copy2(file, inbox / cfg.source_id / file.name)
        sources = Sources({cfg.source_id: cfg})
        with duckdb.connect(":memory:") as con:
            if registry and (Path(registry) / "institutions.csv").exists():
                load_registry(con, Path(registry))
                out["registry"] = str(registry)
            else:
                out["registry"] = None
            report = land_inbox(con, inbox, sources, log=lambda _: None)
            f = report.files[0] if report.files else None
            out["landing"] = {
                "status": f.status if f else "rejected",
                "reason": f.reason if f else "not read",
                "rows_read": f.rows_read if f else 0,
                "rows_landed": f.rows_landed if f else 0,
                "rows_quarantined": f.rows_quarantined if f else 0,
                "rows_footer": f.rows_footer if f else 0,
            }
            raw = f'raw."{cfg.source_id}__{entity}"'
            if not f or f.status != "landed":
                out["accepted"] = False
                return out
            raw_cols = [
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = ?",
                    [f"{cfg.source_id}__{entity}"],
                ).fetchall()
            ]
            header = sn.header if sn else [c for c in raw_cols if not c.startswith("_")]
            declared = {c.source_column: c.element for c in spec.columns}
            if cfg.is_canonical:
                declared = {e: e for e in canonical_elements()[entity]}
            out["columns"] = [
                {"header": h, "element": declared.get(h), "in_yaml": h in declared} for h in header if h
            ]
            out["declared_not_in_file"] = [h for h in declared if h not in set(header)]
            out["constants"] = dict(spec.constants)
            out["defaults"] = dict(spec.defaults)
            cols = [c for c in raw_cols if not c.startswith("_")]
            first = con.execute(
                f"SELECT {', '.join(chr(34) + c + chr(34) for c in cols)} FROM {raw} ORDER BY _row_number LIMIT {n_rows}"
            ).fetchall()
            pii_cols = {c for c in cols if declared.get(c) in PII}
            out["first_rows"] = [
                {c: (_mask(v) if c in pii_cols else v) for c, v in zip(cols, row, strict=True)}
                for row in first
            ]
            out["land_quarantine"] = dict(
                con.execute(
                    "SELECT reason_code, count(*) FROM raw.quarantine GROUP BY 1 ORDER BY 2 DESC"
                ).fetchall()
            )
            rep = standardize_all(
                con, sources, secrets.token_bytes(32), entities=[entity], log=lambda _: None, diagnosis=False
            )
            er = rep.entities[entity]
            out["standardize"] = {
                "landed": er.landed,
                "std_rows": er.std_rows,
                "quarantined_rows": er.quarantined_rows,
            }
            out["std_quarantine"] = dict(
                con.execute(
                    "SELECT reason_code, count(DISTINCT row_number) FROM std.quarantine GROUP BY 1 ORDER BY 2 DESC"
                ).fetchall()
            )
            elements = []
            for el, valid, corrected, invalid, unmapped, missing in con.execute(
                "SELECT element, sum(n_rows) FILTER (outcome = 'valid'), sum(n_rows) FILTER (outcome = 'corrected'), "
                "sum(n_rows) FILTER (outcome = 'invalid'), sum(n_rows) FILTER (outcome = 'unmapped'), "
                "sum(n_rows) FILTER (outcome = 'missing') FROM std.value_outcomes WHERE entity = ? GROUP BY 1",
                [entity],
            ).fetchall():
                valid, corrected, invalid, unmapped, missing = (
                    int(x or 0) for x in (valid, corrected, invalid, unmapped, missing)
                )
                present = valid + corrected + invalid + unmapped
                required = _elements_info().get((entity, el), {}).get("required") == "Y"
                if (
                    present == 0
                    and not required
                    and el not in spec.constants
                    and el not in set(declared.values())
                ):
                    continue
                elements.append(
                    {
                        "element": el,
                        "valid": valid,
                        "corrected": corrected,
                        "invalid": invalid,
                        "unmapped": unmapped,
                        "missing": missing,
                        "parse_rate": round((valid + corrected) / present, 4) if present else None,
                    }
                )
            seen = {e["element"] for e in elements}
            for el in canonical_elements()[entity]:  # required but neither mapped nor a constant
                if el not in seen and _elements_info()[(entity, el)]["required"] == "Y":
                    elements.append(
                        {
                            "element": el,
                            "valid": 0,
                            "corrected": 0,
                            "invalid": 0,
                            "unmapped": 0,
                            "missing": er.landed,
                            "parse_rate": None,
                            "required_but_not_mapped": True,
                        }
                    )
            order = list(canonical_elements()[entity])
            out["elements"] = sorted(
                elements, key=lambda e: order.index(e["element"]) if e["element"] in order else 99
            )
            out["derived"] = dict(
                con.execute(
                    "SELECT element || ':' || rule, sum(n_rows) FROM std.row_outcomes WHERE entity = ? GROUP BY 1",
                    [entity],
                ).fetchall()
            )
            bad = con.execute(
                "SELECT element, raw_value, outcome, reason_code, sum(n_rows) AS n FROM std.value_outcomes "
                "WHERE entity = ? AND outcome IN ('invalid', 'unmapped') AND raw_value IS NOT NULL "
                "GROUP BY ALL ORDER BY element, n DESC LIMIT 200",
                [entity],
            ).fetchall()
            out["problem_values"] = [
                {"element": e, "raw_value": v, "outcome": o, "reason_code": rc, "rows": int(n)}
                for e, v, o, rc, n in bad
            ]
            out["suggested_value_map"] = _suggest(entity, spec, out["problem_values"])
        out["accepted"] = True
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _suggest(entity: str, spec, problems: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """{source column: {raw: code or '?'}} for the unmapped spellings of domain elements."""
    info = _elements_info()
    domains = _domain_values()
    column_of = {c.element: c.source_column for c in spec.columns}
    out: dict[str, dict[str, str]] = {}
    for p in problems:
        meta = info.get((entity, p["element"]))
        if not meta or meta["normalizer"] != "domain" or p["outcome"] != "unmapped":
            continue
        code = guess_code(p["raw_value"], domains.get(meta["value_domain"], []))
        out.setdefault(column_of.get(p["element"], p["element"]), {})[p["raw_value"]] = code or "?"
    return out


def columns_mapped(result: dict[str, Any]) -> tuple[int, int]:
    """(file columns the YAML maps to an element, file columns)."""
    cols = result.get("columns", [])
    return sum(1 for c in cols if c["element"]), len(cols)
