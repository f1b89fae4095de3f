"""`make bench`: the whole pipeline measured against the machine's limit, at three scales.

For each scale (small, medium, city):

1. generate the region unless cached under benchmarks/cache/<scale>/ (not timed as pipeline);
2. the limit: DuckDB reading the same export files into tables with no processing (CSV/JSONL as
   they are, GBK/GB18030 after the unavoidable streaming transcode, XLSX through python-calamine when installed, else openpyxl);
3. the full pipeline, `referral-warehouse run` in a child process, as a user runs it: wall time,
   per-stage time from the Dagster run's step stats, peak resident memory of the process tree;
4. an incremental run at every scale: the next day's files (no re-sends) added to the built warehouse;
5. (last scale) dashboard page render times on the published snapshot.

Results: benchmarks/results/<date>.json and .md, plus benchmarks/results/latest.md.
Targets (reported, not asserted): city end-to-end ≤ 10 × limit and ≤ 300 s; city day ≤ 20 s; medium
day ≤ 15 % of the medium full build;
peak memory ≤ 6 GiB; each dashboard page < 2 s; cost grows linearly or better with volume.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # dashboards/ is a folder of the repository, not an installed package
CACHE = ROOT / "benchmarks" / "cache"
RESULTS = ROOT / "benchmarks" / "results"
BIN = Path(sys.executable).parent
SEED = 42
STAGES = {
    "raw__landing": "land",
    "institution_registry": "land",
    "standardized_tables": "standardize",
    "warehouse_dbt_models": "dbt build",
    "quality__check_results": "checks",
    "gx_checks": "checks",
    "published__snapshot": "publish",
}
TARGETS = {
    "city_ratio": 5.0,  # issue 16: city full build ≤ 5 × the limit
    "city_seconds": 300.0,
    "incremental_seconds": 20.0,
    "medium_day_share": 0.15,
    "peak_gib": 6.0,
    "page_seconds": 2.0,
}


# ---------------------------------------------------------------- measuring helpers
def _tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants (KiB), from /proc."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def run_measured(cmd: list[str], env: dict[str, str] | None = None, log: Path | None = None) -> dict:
    """Run a command; return wall seconds, exit code and peak RSS of its process tree (sampled 10×/s)."""
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    peak = 0
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_kib(proc.pid))
            time.sleep(0.1)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    code = proc.wait()
    done.set()
    t.join()
    seconds = time.perf_counter() - start
    if log:
        out.close()
    return {"seconds": round(seconds, 2), "exit_code": code, "peak_rss_gib": round(peak / 1024 / 1024, 3)}


# ---------------------------------------------------------------- the limit
def _xlsx_rows(path: Path) -> list[list[str | None]]:
    """The first sheet's cells as text, through the fastest reader installed: python-calamine (Rust),
    else openpyxl's read-only mode. The limit must not be flattered by a slow reader."""
    try:
        from python_calamine import CalamineWorkbook
    except ImportError:
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        rows = [[None if v is None else str(v) for v in r] for r in wb.active.iter_rows(values_only=True)]
        wb.close()
        return rows
    wb = CalamineWorkbook.from_path(str(path))
    sheet = wb.get_sheet_by_index(0)
    return [[None if v == "" else str(v) for v in r] for r in sheet.to_python(skip_empty_area=False)]


def limit_read(inbox: Path, sources_dir: Path) -> dict:
    """DuckDB reading every export file into a table, no processing. Returns seconds and rows."""
    from pipelines.ingest.registry import load_sources

    sources = load_sources(sources_dir)
    tmpdir = Path(tempfile.mkdtemp(prefix="limit-"))
    con = duckdb.connect(str(tmpdir / "limit.duckdb"))
    rows = 0
    start = time.perf_counter()
    for i, f in enumerate(sorted(inbox.glob("*/*"))):
        cfg = sources.get(f.parent.name)
        if cfg is None or not f.is_file():
            continue
        table = f"t{i}"
        if f.suffix == ".csv":
            path = f
            if cfg.encoding in ("gbk", "gb18030"):
                path = tmpdir / f"{i}.csv"
                with (
                    open(f, encoding="gb18030", errors="replace", newline="") as src,
                    open(path, "w", encoding="utf-8", newline="") as dst,
                ):
                    shutil.copyfileobj(src, dst, 4 << 20)
            con.execute(
                f"create table {table} as select * from read_csv(?, all_varchar=true, header=true, "
                "ignore_errors=true, null_padding=true)",
                [str(path)],
            )
        elif f.suffix == ".jsonl":
            con.execute(
                f"create table {table} as select * from read_json(?, format='newline_delimited', "
                "ignore_errors=true)",
                [str(f)],
            )
        elif f.suffix == ".xlsx":
            import pyarrow as pa

            values = _xlsx_rows(f)
            width = max(len(r) for r in values)
            cols = {f"c{j}": [r[j] if j < len(r) else None for r in values] for j in range(width)}
            arrow_table = pa.table(cols)
            con.register("xlsx_rows", arrow_table)
            con.execute(f"create table {table} as select * from xlsx_rows")
            con.unregister("xlsx_rows")
        else:
            continue
        rows += con.execute(f"select count(*) from {table}").fetchall()[0][0]
    seconds = time.perf_counter() - start
    con.close()
    shutil.rmtree(tmpdir, ignore_errors=True)
    return {"seconds": round(seconds, 2), "rows": rows}


# ---------------------------------------------------------------- the pipeline
def stage_seconds(dagster_home: Path) -> tuple[str, dict[str, float]]:
    """Per-stage seconds of the latest run, from the Dagster instance's step stats."""
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        stats = instance.get_run_step_stats(run.run_id)
    out: dict[str, float] = {}
    for s in stats:
        if s.start_time and s.end_time:
            stage = STAGES.get(s.step_key, s.step_key)
            out[stage] = round(out.get(stage, 0.0) + (s.end_time - s.start_time), 2)
    return run.run_id, out


def ensure_region(scale: str) -> Path:
    base = CACHE / scale
    if (base / "truth" / "manifest.json").exists():
        return base
    if base.exists():
        shutil.rmtree(base)
    print(f"[{scale}] generating region ...", flush=True)
    gen = run_measured(
        [
            str(BIN / "referral-warehouse"),
            "generate",
            "--scale",
            scale,
            "--seed",
            str(SEED),
            "--out",
            str(base),
        ],
        log=CACHE / f"generate-{scale}.log",
    )
    if gen["exit_code"]:
        raise SystemExit(f"generate {scale} failed: see {CACHE / f'generate-{scale}.log'}")
    (CACHE / f"generate-{scale}.json").write_text(json.dumps(gen))
    return base


ENGINE = "duckdb"  # --engine: which engine `referral-warehouse run` uses (docs/scale-out.md)


def fresh_run_dir(region: Path, scale: str) -> Path:
    """A run directory whose inbox/registry are the cached region's (symlinked, not copied)."""
    run_dir = CACHE / (f"run-{scale}" if ENGINE == "duckdb" else f"run-{scale}-{ENGINE}")
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    (run_dir / "inbox").mkdir()
    for src in sorted((region / "inbox").iterdir()):
        (run_dir / "inbox" / src.name).mkdir()
        for f in src.iterdir():
            (run_dir / "inbox" / src.name / f.name).symlink_to(f)
    (run_dir / "registry").symlink_to(region / "registry")
    return run_dir


def pipeline_run(run_dir: Path, label: str) -> dict:
    env = {**os.environ, "RW_DATA_DIR": str(run_dir), "DAGSTER_HOME": str(run_dir / "dagster_home")}
    res = run_measured(
        [str(BIN / "referral-warehouse"), "run", "--data-dir", str(run_dir), "--engine", ENGINE],
        env=env,
        log=run_dir / f"{label}.log",
    )
    if res["exit_code"] == 0:
        res["run_id"], res["stages"] = stage_seconds(run_dir / "dagster_home")
    return res


def bench_scale(scale: str, with_pages: bool) -> dict:
    region = ensure_region(scale)
    manifest = json.loads((region / "truth" / "manifest.json").read_text())
    gen_file = CACHE / f"generate-{scale}.json"
    result: dict = {
        "scale": scale,
        "generate": json.loads(gen_file.read_text()) if gen_file.exists() else None,
    }
    result["input_bytes"] = sum(f.stat().st_size for f in (region / "inbox").glob("*/*") if f.is_file())
    result["counts"] = manifest.get("counts")
    print(f"[{scale}] limit: DuckDB reading the export files ...", flush=True)
    result["limit"] = limit_read(region / "inbox", ROOT / "sources")
    print(f"[{scale}] full pipeline ...", flush=True)
    run_dir = fresh_run_dir(region, scale)
    full = pipeline_run(run_dir, "full")
    result["full"] = full
    if full["exit_code"] == 0:
        limit = max(result["limit"]["seconds"], 1e-9)
        full["ratio_to_limit"] = round(full["seconds"] / limit, 2)
        full["stage_ratio_to_limit"] = {k: round(v / limit, 2) for k, v in full.get("stages", {}).items()}
        full["rows_per_second"] = round(result["limit"]["rows"] / full["seconds"])
    if full["exit_code"] == 0 and ENGINE == "duckdb":
        print(f"[{scale}] incremental day ...", flush=True)
        from pipelines.generate import generate_day

        day = dt.date.fromisoformat(manifest.get("next_day", "2026-01-01"))
        day_dir = CACHE / f"day-{scale}"
        if day_dir.exists():
            shutil.rmtree(day_dir)
        generate_day(
            day_dir, day, scale=scale, seed=SEED
        )  # writes day_dir/inbox/<source>/<entity>_<YYYYMMDD>.*
        added = 0
        for f in (day_dir / "inbox").glob("*/*"):
            (run_dir / "inbox" / f.parent.name).mkdir(exist_ok=True)
            shutil.copy2(f, run_dir / "inbox" / f.parent.name / f.name)
            added += 1
        inc = pipeline_run(run_dir, "incremental")
        inc["files_added"] = added
        result["incremental"] = inc
        if inc["exit_code"] == 0:
            inc["share_of_full"] = round(inc["seconds"] / full["seconds"], 3)
    if with_pages and full["exit_code"] == 0 and ENGINE == "duckdb":
        print(f"[{scale}] dashboard pages ...", flush=True)
        try:
            from tools.page_timing import render_times

            result["pages"] = render_times(run_dir / "published" / "current.duckdb")
        except Exception as exc:  # report, don't hide
            result["pages"] = {"error": repr(exc)}
    return result


# ---------------------------------------------------------------- report
def _thousands(value) -> str:
    """1,234 for a number, – for a failed run's missing figure (the report must still be written)."""
    return "–" if value is None else f"{value:,}"


def markdown(report: dict) -> str:
    lines = [
        f"# Benchmark results — {report['date']}",
        "",
        f"Machine: {report['machine']}. Engine: {report.get('engine', 'duckdb')}. Command: `{report['command']}`.",
        "",
        "| scale | input rows | input MB | limit (s) | pipeline (s) | ratio | rows/s | peak GiB | land | standardize | dbt build | checks | publish |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["scales"]:
        full, st = r["full"], r["full"].get("stages", {})
        lines.append(
            f"| {r['scale']} | {r['limit']['rows']:,} | {r['input_bytes'] / 1e6:.0f} | {r['limit']['seconds']} | "
            f"{full['seconds']}{'' if full['exit_code'] == 0 else ' (FAILED)'} | {full.get('ratio_to_limit', '–')} | "
            f"{_thousands(full.get('rows_per_second'))} | {full['peak_rss_gib']} | "
            + " | ".join(
                str(st.get(k, "–")) for k in ("land", "standardize", "dbt build", "checks", "publish")
            )
            + " |"
        )
    lines += ["", "## Targets", "", "| target | limit | measured | verdict |", "|---|---|---|---|"]
    for row in report["verdicts"]:
        lines.append(f"| {row['target']} | {row['limit']} | {row['measured']} | {row['verdict']} |")
    incs = [r for r in report["scales"] if "incremental" in r]
    if incs:
        lines += [
            "",
            "## The next day (only its files, no re-sends) on the built warehouse",
            "",
            "| scale | files | day (s) | share of full | peak GiB | land | standardize | dbt build | checks | publish |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in incs:
            inc, st = r["incremental"], r["incremental"].get("stages", {})
            lines.append(
                f"| {r['scale']} | {inc.get('files_added')} | {inc['seconds']}"
                f"{'' if inc['exit_code'] == 0 else ' (FAILED)'} | {inc.get('share_of_full', '–')} | "
                f"{inc['peak_rss_gib']} | "
                + " | ".join(
                    str(st.get(k, "–")) for k in ("land", "standardize", "dbt build", "checks", "publish")
                )
                + " |"
            )
    for r in report["scales"]:
        if "pages" in r:
            lines += ["", f"## {r['scale']}: dashboard pages", "", f"- page render seconds: {r['pages']}"]
    return "\n".join(lines) + "\n"


def verdicts(report: dict) -> list[dict]:
    out = []
    by = {r["scale"]: r for r in report["scales"]}
    city = by.get("city")

    def add(target, limit, measured, ok):
        verdict = "met" if ok else "MISSED"
        if measured is None:
            verdict = "not measured"
            if ENGINE != "duckdb" and "increment" in target:
                verdict = f"not measured: no incremental run on {ENGINE}"
        out.append({"target": target, "limit": limit, "measured": measured, "verdict": verdict})

    if city:
        f = city["full"]
        add(
            "city end-to-end vs limit",
            f"≤ {TARGETS['city_ratio']}×",
            f.get("ratio_to_limit"),
            (f.get("ratio_to_limit") or 1e9) <= TARGETS["city_ratio"],
        )
        add(
            "city end-to-end seconds",
            f"≤ {TARGETS['city_seconds']} s",
            f["seconds"],
            f["seconds"] <= TARGETS["city_seconds"] and f["exit_code"] == 0,
        )
        add(
            "city peak memory",
            f"≤ {TARGETS['peak_gib']} GiB",
            f["peak_rss_gib"],
            f["peak_rss_gib"] <= TARGETS["peak_gib"],
        )
        inc = city.get("incremental")
        add(
            "city day increment",
            f"≤ {TARGETS['incremental_seconds']} s",
            inc and inc["seconds"],
            bool(inc) and inc["seconds"] <= TARGETS["incremental_seconds"],
        )
        pages = city.get("pages") or {}
        worst = max((v for v in pages.values() if isinstance(v, (int, float))), default=None)
        add(
            "slowest dashboard page",
            f"< {TARGETS['page_seconds']} s",
            worst,
            worst is not None and worst < TARGETS["page_seconds"],
        )
    medium = by.get("medium")
    if medium and medium["full"]["exit_code"] == 0:
        inc = medium.get("incremental")
        share = inc.get("share_of_full") if inc else None
        add(
            "medium day increment, share of the medium full build",
            f"≤ {TARGETS['medium_day_share']:.0%}",
            share,
            share is not None and share <= TARGETS["medium_day_share"],
        )
    ok_scales = [r for r in report["scales"] if r["full"]["exit_code"] == 0]
    if len(ok_scales) >= 2:
        a, b = ok_scales[0], ok_scales[-1]
        growth = (b["full"]["seconds"] / a["full"]["seconds"]) / max(
            b["limit"]["rows"] / a["limit"]["rows"], 1e-9
        )
        add(
            f"cost growth {a['scale']}→{b['scale']} (time ratio / rows ratio)",
            "≤ 1.0 (linear or better)",
            round(growth, 2),
            growth <= 1.0,
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scales", default="small,medium,city", help="comma-separated scales to run")
    parser.add_argument(
        "--engine",
        choices=["duckdb", "spark"],
        default="duckdb",
        help="engine of the pipeline runs (spark: results go to <date>-spark.* and latest-spark.md; "
        "no incremental run)",
    )
    args = parser.parse_args()
    global ENGINE
    ENGINE = args.engine
    scales = [s.strip() for s in args.scales.split(",") if s.strip()]
    CACHE.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": f"{platform.node()} · {os.cpu_count()} cores · {platform.python_version()} · duckdb {duckdb.__version__}",
        "engine": ENGINE,
        "command": "make bench"
        + (
            ""
            if args.scales == "small,medium,city" and ENGINE == "duckdb"
            else f" BENCH_ARGS='{'' if ENGINE == 'duckdb' else '--engine ' + ENGINE + ' '}--scales {args.scales}'"
        ),
        "scales": [],
    }
    for scale in scales:
        report["scales"].append(bench_scale(scale, with_pages=(scale == scales[-1])))
        (RESULTS / "partial.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    report["verdicts"] = verdicts(report)
    stamp = dt.date.today().isoformat() + ("" if ENGINE == "duckdb" else f"-{ENGINE}")
    (RESULTS / f"{stamp}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    md = markdown(report)
    (RESULTS / f"{stamp}.md").write_text(md)
    (RESULTS / ("latest.md" if ENGINE == "duckdb" else f"latest-{ENGINE}.md")).write_text(md)
    (RESULTS / "partial.json").unlink(missing_ok=True)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
