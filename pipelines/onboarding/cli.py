"""``referral-warehouse sources validate | check | draft``: onboarding a hospital's export.

Walk-through: docs/ingestion.md ("Onboarding a new hospital").
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

SOURCES_DIR_HELP = (
    "source YAML folder (default: $RW_SOURCES_DIR, else ./sources of the working directory when it "
    "exists, else the installed project's sources/)"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sources",
        help="onboard a source: validate the YAMLs, draft one from an export, check what one makes of a file",
        description="Onboarding a hospital's export (docs/ingestion.md): draft -> check -> registry -> run.",
    )
    sub = p.add_subparsers(dest="sources_command", metavar="SUBCOMMAND")
    sub.required = True

    v = sub.add_parser(
        "validate",
        help="validate every source YAML against the schema (file, line and key of each error)",
    )
    v.add_argument(
        "files", nargs="*", type=Path, help="YAML files (default: every YAML in the sources folder)"
    )
    v.add_argument("--sources-dir", type=Path, help=SOURCES_DIR_HELP)
    v.add_argument("--json", action="store_true", help="machine-readable output")
    v.set_defaults(handler=run_validate)

    c = sub.add_parser(
        "check",
        help="dry run: what a source YAML makes of one file (nothing is written to the warehouse)",
        description=(
            "Lands and standardizes FILE in a throw-away in-memory database with SOURCE's YAML and shows: "
            "encoding, delimiter and header row detected vs declared, each column -> element, the parse "
            "rate per element, the first rows as they would land (personal data masked), the values that "
            "would be invalid or unmapped (with counts) and suggested value_map entries. Exit 0 when the "
            "file would land, 1 when not, 2 on a bad YAML."
        ),
    )
    c.add_argument("source", help="a source_id in the sources folder, or the path of a YAML file")
    c.add_argument("file", type=Path, help="an export file of that source")
    c.add_argument("--sources-dir", type=Path, help=SOURCES_DIR_HELP)
    c.add_argument("--data-dir", help="data directory, for its institution registry (default: ./data)")
    c.add_argument("--registry", type=Path, help="institution registry folder (default: <data-dir>/registry)")
    c.add_argument("--rows", type=int, default=5, help="how many first rows to show (default 5)")
    c.add_argument("--json", action="store_true", help="machine-readable output")
    c.set_defaults(handler=run_check)

    d = sub.add_parser(
        "draft",
        help="write a draft source YAML for an unseen export (encoding, delimiter, header, columns, dates)",
    )
    d.add_argument("file", type=Path, help="an export file")
    d.add_argument("--source-id", help="source_id (default: the name of the file's folder)")
    d.add_argument("--entity", help="visits, referrals, ... (default: guessed from the headers and the name)")
    d.add_argument("--out", type=Path, help="write the YAML here (default: print it)")
    d.add_argument("--json", action="store_true", help="machine-readable output (the YAML included)")
    d.set_defaults(handler=run_draft)


def _console():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


# ---------------------------------------------------------------------------------------------
# validate
# ---------------------------------------------------------------------------------------------


def run_validate(args: argparse.Namespace) -> int:
    from pipelines.ingest.registry import (
        SourceConfigError,
        read_source,
        resolve_sources_dir,
        validate_sources,
    )

    if args.files:
        folder = None
        good, problems = {}, []
        for f in args.files:
            try:
                cfg = read_source(f)
                good[cfg.source_id] = cfg
            except SourceConfigError as exc:
                problems += exc.problems
    else:
        folder = resolve_sources_dir(args.settings.sources_dir)
        good, problems = validate_sources(folder)
    if args.json:
        print(
            json.dumps(
                {
                    "sources_dir": str(folder) if folder else None,
                    "valid": sorted(good),
                    "problems": problems,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        con = _console()
        if folder:
            con.print(f"source YAMLs in {folder}:")
        for sid, cfg in sorted(good.items()):
            con.print(f"  [green]ok[/green]  {sid}  ({cfg.path})")
        for p in problems:
            con.print(
                f"  [red]error[/red] {p['file']}:{p['line'] or '?'}: {p['key']}: {p['message']}", markup=True
            )
        if not good and not problems:
            con.print(f"  no *.yaml files in {folder}")
    return 1 if problems else 0


# ---------------------------------------------------------------------------------------------
# check
# ---------------------------------------------------------------------------------------------


def _load_one(source: str, sources_dir: Path | None):
    from pipelines.ingest.registry import (
        SourceConfigError,
        read_source,
        resolve_sources_dir,
        validate_sources,
    )

    p = Path(source)
    if p.suffix in (".yaml", ".yml") and p.exists():
        return read_source(p)
    folder = resolve_sources_dir(sources_dir)
    good, problems = validate_sources(folder)
    if source in good:
        return good[source]
    mine = [x for x in problems if Path(x["file"]).stem == source]
    if mine:
        raise SourceConfigError(
            "\n".join(f"{x['file']}:{x['line']}: {x['key']}: {x['message']}" for x in mine), mine
        )
    raise SourceConfigError(
        f"no source YAML with source_id {source!r} in {folder} (known: {', '.join(sorted(good)) or 'none'})",
        [{"file": str(folder), "line": None, "key": "source_id", "message": f"{source!r} not found"}],
    )


def run_check(args: argparse.Namespace) -> int:
    from pipelines.ingest.registry import SourceConfigError
    from pipelines.onboarding.check import check_file

    try:
        cfg = _load_one(args.source, args.settings.sources_dir)
    except SourceConfigError as exc:
        if args.json:
            print(json.dumps({"accepted": False, "problems": exc.problems}, ensure_ascii=False, indent=2))
        else:
            print(f"bad source YAML: {exc}", file=sys.stderr)
        return 2
    if not args.file.exists():
        print(f"no such file: {args.file}", file=sys.stderr)
        return 2
    registry = args.registry or args.settings.paths.registry
    result = check_file(cfg, args.file, registry=registry, n_rows=args.rows)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    else:
        print_check(result)
    return 0 if result.get("accepted") else 1


def print_check(r: dict[str, Any]) -> None:
    from rich.table import Table

    con = _console()
    con.rule(f"{r['file']}  ←  {r['source_id']} ({r['yaml']})")
    det, dec = r.get("detected", {}), r.get("declared", {})
    t = Table("", "detected", "declared", title="文件格式 / file format")
    for k in ("format", "encoding", "delimiter", "header_row"):
        t.add_row(k, repr(det.get(k)), repr(dec.get(k)))
    t.add_row("totals row", str(det.get("footer_row")), repr(dec.get("footer_regex")))
    con.print(t)
    for note in det.get("notes") or []:
        con.print(f"note: {note}")
    for m in r.get("mismatches", []):
        con.print(f"[yellow]mismatch[/yellow]: {m}")
    land = r.get("landing", {})
    con.print(
        f"landing: [bold]{land.get('status')}[/bold]  read {land.get('rows_read')}, landed {land.get('rows_landed')}, "
        f"quarantined {land.get('rows_quarantined')}, totals rows {land.get('rows_footer')}"
    )
    if land.get("reason"):
        con.print(f"  {land['reason']}")
    if not r.get("accepted"):
        con.print("[red]the file would not land[/red]")
        return
    t = Table("column", "element", title="列 → 数据元 / columns → elements")
    for c in r["columns"]:
        t.add_row(c["header"], c["element"] or "[yellow](not mapped: kept in _extra)[/yellow]")
    for h in r.get("declared_not_in_file", []):
        t.add_row(f"[dim]{h}[/dim]", "[yellow]declared, not in the file (NULL)[/yellow]")
    for el, v in r.get("constants", {}).items():
        t.add_row("[dim](constant)[/dim]", f"{el} = {v}")
    for el, v in r.get("defaults", {}).items():
        t.add_row("[dim](default)[/dim]", f"{el} = {v} where empty")
    con.print(t)
    t = Table(
        "element",
        "valid",
        "corrected",
        "invalid",
        "unmapped",
        "missing",
        "parse rate",
        title="解析率 / parse rate",
    )
    for e in r["elements"]:
        rate = "" if e["parse_rate"] is None else f"{e['parse_rate']:.1%}"
        t.add_row(
            e["element"], *(str(e[k]) for k in ("valid", "corrected", "invalid", "unmapped", "missing")), rate
        )
    con.print(t)
    for k, n in r.get("derived", {}).items():
        con.print(f"row rule {k}: {n} rows")
    if r["first_rows"]:
        cols = list(r["first_rows"][0])
        t = Table(
            *cols, title="前几行（落地原样，个人信息已遮蔽）/ first rows as landed (personal data masked)"
        )
        for row in r["first_rows"]:
            t.add_row(*("" if row[c] is None else str(row[c]) for c in cols))
        con.print(t)
    if r["problem_values"]:
        t = Table(
            "element",
            "raw value",
            "outcome",
            "reason",
            "rows",
            title="无效或未映射的值 / invalid or unmapped values",
        )
        for p in r["problem_values"][:50]:
            t.add_row(p["element"], p["raw_value"], p["outcome"], p["reason_code"] or "", str(p["rows"]))
        con.print(t)
    if r["suggested_value_map"]:
        con.print("suggested value_map entries (replace ? by the code):")
        for col, m in r["suggested_value_map"].items():
            con.print(
                f"  {col}: {{value_map: {{{', '.join(f'{k}: {json.dumps(v, ensure_ascii=False)}' for k, v in m.items())}}}}}"
            )
    sq = r.get("std_quarantine") or {}
    st = r.get("standardize", {})
    con.print(
        f"standardized: {st.get('std_rows')} rows clean, {st.get('quarantined_rows')} quarantined"
        + (f" ({', '.join(f'{k} {v}' for k, v in sq.items())})" if sq else "")
        + ("" if r.get("registry") else "; no institution registry found: every institution code is unknown")
    )


# ---------------------------------------------------------------------------------------------
# draft
# ---------------------------------------------------------------------------------------------


def run_draft(args: argparse.Namespace) -> int:
    from pipelines.onboarding.draft import draft

    if not args.file.exists():
        print(f"no such file: {args.file}", file=sys.stderr)
        return 2
    try:
        d = draft(args.file, source_id=args.source_id, entity=args.entity)
    except ValueError as exc:
        print(f"cannot draft a YAML for {args.file}: {exc}", file=sys.stderr)
        return 2
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(d.yaml_text, encoding="utf-8")
    if args.json:
        print(
            json.dumps(
                {
                    "file": str(args.file),
                    "source_id": d.source_id,
                    "entity": d.entity,
                    "pattern": d.pattern,
                    "format": d.sniffed.format,
                    "encoding": d.sniffed.encoding,
                    "delimiter": d.sniffed.delimiter,
                    "header_row": d.sniffed.header_row,
                    "columns": [{"header": c.header, "element": c.element, "how": c.how} for c in d.columns],
                    "yaml": d.yaml_text,
                    "written_to": str(args.out) if args.out else None,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    elif args.out:
        mapped = sum(1 for c in d.columns if c.element)
        print(
            f"wrote {args.out}: {d.entity}, {mapped} of {len(d.columns)} columns mapped; read every '# guess'"
        )
    else:
        print(d.yaml_text, end="")
    return 0
