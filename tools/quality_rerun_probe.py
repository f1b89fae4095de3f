"""Time the quality checks on a copy of a built warehouse: a first run, a rerun with nothing new
(per-file counts reused) and a recount of every row; assert the three agree.

``python -m tools.quality_rerun_probe benchmarks/cache/run-city/warehouse/warehouse.duckdb``
(the warehouse is copied to a temporary file first; the original is not written).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from pipelines.quality.runner import run_quality


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--memory-limit", default="3GB")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "warehouse.duckdb"
        shutil.copyfile(args.warehouse, copy)
        con = duckdb.connect(str(copy))
        con.execute(f"SET memory_limit = '{args.memory_limit}'")
        timings, reports = {}, {}
        for label, kwargs in [
            ("first run", {}),
            ("rerun, nothing new", {}),
            ("recount", {"persist": False, "incremental": False, "drill_samples": 0}),
        ]:
            t0 = time.perf_counter()
            reports[label] = run_quality(
                con, label.split(",")[0].replace(" ", "-"), log=lambda _m: None, **kwargs
            )
            timings[label] = time.perf_counter() - t0
            print(f"{label}: {timings[label]:.1f} s (GX {reports[label].seconds_gx:.1f} s)")
        con.close()
    same = len({str(r.figures()) for r in reports.values()}) == 1
    same_inst = len({str(r.institution_figures()) for r in reports.values()}) == 1
    print(f"identical results: {same}; identical per-institution figures: {same_inst}")
    return 0 if same and same_inst else 1


if __name__ == "__main__":
    raise SystemExit(main())
