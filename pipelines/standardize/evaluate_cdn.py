"""Measure diagnosis standardization on CHIP-CDN (CBLUE) with a held-back split.

    .venv/bin/python -m pipelines.standardize.evaluate_cdn [--write-model]

Splits ``chip_cdn_train.json`` 80/20 with a fixed seed, builds the learned matcher from the 80 %
only (plus the terminology pack), fits its weights on the 80 % (leave-one-out features), tunes the
benchmark thresholds on the 80 % and reports micro precision / recall / F1 on the 20 %: per record,
the predicted set of standard names against the gold set, as the CHIP-CDN task defines it.

Two modes are reported:

* ``benchmark``: the learned matcher alone with thresholds tuned for F1 (rewards recall);
* ``pipeline``: what ``DiagnosisStandardizer`` (CLI and warehouse) outputs: rules first, learned
  only above a strict probability and only when consistent with grades/types in the text; it prefers
  ``unmapped`` to a wrong answer.

``--write-model`` stores the fitted weights and thresholds in ``standard/terminology/learned_model.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from pipelines.standardize.terminology.learned import LearnedMatcher, load_examples, split_examples
from pipelines.standardize.terminology.pack import TerminologyPack

SEED = 20221


def micro_prf(pred: list[set[str]], gold: list[set[str]]) -> dict:
    tp = sum(len(p & g) for p, g in zip(pred, gold, strict=True))
    n_pred = sum(len(p) for p in pred)
    n_gold = sum(len(g) for g in gold)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "n_pred": n_pred, "n_gold": n_gold}


def _decide(scored: list[tuple[str, float]], threshold: float, fallback: float) -> set[str]:
    chosen = {n for n, p in scored if p >= threshold}
    if not chosen and scored and scored[0][1] >= fallback:
        chosen = {scored[0][0]}
    return chosen


def tune(scored_rows: list[list[tuple[str, float]]], gold: list[set[str]]) -> tuple[float, float, float]:
    best = (0.0, 0.5, 0.5)
    for threshold in np.arange(0.2, 0.75, 0.025):
        for fallback in np.arange(0.0, threshold + 1e-9, 0.05):
            pred = [_decide(s, threshold, fallback) for s in scored_rows]
            f1 = micro_prf(pred, gold)["f1"]
            if f1 > best[0]:
                best = (f1, float(threshold), float(fallback))
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--examples", type=Path, default=None, help="CHIP-CDN train json (default: the pack's)"
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--write-model", action="store_true", help="store weights in learned_model.json")
    parser.add_argument("--production-threshold", type=float, default=0.9)
    parser.add_argument("--json", type=Path, default=None, help="also write the metrics as JSON here")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    pack = TerminologyPack.load()
    examples_path = args.examples or pack.directory / pack.manifest["training_examples"]
    examples = load_examples(examples_path)
    build, held = split_examples(examples, seed=args.seed)
    matcher = LearnedMatcher(pack, build)
    matcher.fit()
    t_fit = time.perf_counter() - t0
    # thresholds: tuned on leave-one-out scores of the build part only
    train_scored = [matcher.score(ex.text, exclude=i) for i, ex in enumerate(build)]
    train_gold = [set(ex.labels) for ex in build]
    train_f1, threshold, fallback = tune(train_scored, train_gold)
    gold = [set(ex.labels) for ex in held]
    scored = [matcher.score(ex.text) for ex in held]
    bench = micro_prf([_decide(s, threshold, fallback) for s in scored], gold)

    # pipeline mode: the standardizer with this matcher (built from the 80 % only)
    from pipelines.standardize.diagnosis import DiagnosisStandardizer

    matcher.production_threshold = args.production_threshold
    std = DiagnosisStandardizer(pack, reviewed_mappings=None, learned=matcher)
    pipe_pred = []
    unmapped = 0
    for ex in held:
        result = std.standardize(ex.text)
        pipe_pred.append({d.name for d in result.diagnoses})
        unmapped += result.status == "unmapped"
    pipe = micro_prf(pipe_pred, gold)
    elapsed = time.perf_counter() - t0

    report = {
        "split": {
            "seed": args.seed,
            "build": len(build),
            "held_back": len(held),
            "source": str(examples_path),
        },
        "benchmark_mode": {**bench, "threshold": threshold, "fallback": fallback, "train_loo_f1": train_f1},
        "pipeline_mode": {
            **pipe,
            "unmapped_records": unmapped,
            "production_threshold": args.production_threshold,
        },
        "seconds": round(elapsed, 1),
        "fit_seconds": round(t_fit, 1),
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    if args.write_model:
        matcher.save(
            pack.directory / pack.manifest["learned_model"],
            fitted_on=f"CHIP-CDN train, 80% build split (seed {args.seed}, {len(build)} records)",
            benchmark_threshold=threshold,
            benchmark_fallback=fallback,
            production_threshold=args.production_threshold,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
