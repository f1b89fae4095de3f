"""Build, calibrate and measure diagnosis standardization on CHIP-CDN (CBLUE) with a held-back split.

    python -m tools.evaluate_cdn [--write-model] [--json out.json]   # from the repository root

``chip_cdn_train.json`` (6,000 records) is split three ways, all with fixed seeds:

* held-back (20 %, seed 20221): never used to build, tune or calibrate; only measured;
* of the remaining 80 %: the *fit* part (80 % of it, seed 7) is the learned matcher's retrieval
  index and the data its first-stage logistic weights are fitted on (leave-one-out features);
* the *calibration* part (20 % of it): scored by the fit part's matcher like unseen text; the
  second-stage reranker (gradient-boosted trees, scikit-learn, stored as plain arrays) is trained
  here with 5-fold cross-fitting, its out-of-fold scores are mapped to probabilities by isotonic
  regression, and the thresholds are chosen on them: the benchmark thresholds for micro-F1 and the
  safe threshold as the lowest probability at which calibration precision stays >= the target.

Reported on the held-back part (micro precision / recall / F1; per record, the predicted set of
standard names against the gold set, as the CHIP-CDN task defines it; a tumour's morphology name
counts as a predicted name, as CHIP-CDN lists morphology terms among the gold names; a name is
compared without the CSV quotes the label file puts around a name that has a comma):

* ``benchmark``: the learned matcher alone with the tuned thresholds;
* ``pipeline`` (safe mode): what ``DiagnosisStandardizer`` outputs by default (CLI, warehouse);
* ``best_guess``: ``referral-warehouse standardize diagnosis --best-guess`` (rules + the tuned decision).

``--write-model`` stores weights, reranker, calibration and thresholds in
``standard/terminology/learned_model.json`` (the production matcher then indexes all 6,000 texts).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from pipelines.standardize.terminology.learned import LearnedMatcher
from pipelines.standardize.terminology.pack import TerminologyPack
from pipelines.standardize.terminology.rerank import TreeEnsemble
from pipelines.standardize.terminology.retrieval import load_examples, split_examples

SEED = 20221
CAL_SEED = 7
SAFE_PRECISION_TARGET = 0.92  # on the calibration part: a margin above the required 0.90
RERANKER_PARAMS = dict(
    max_iter=200, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=30, l2_regularization=1.0
)


def canonical_name(name: str) -> str:
    """A standard name as the terminology spells it: CHIP-CDN's label file writes a name that has a
    comma in CSV quotes (``"下肢未特指的损伤,水平未特指"``), the pack (v601) without them."""
    return name[1:-1] if len(name) > 1 and name[0] == name[-1] == '"' else name


def micro_prf(pred: list[set[str]], gold: list[set[str]]) -> dict:
    pred = [{canonical_name(n) for n in p} for p in pred]
    gold = [{canonical_name(n) for n in g} for g in gold]
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


def _rerank_rows(matcher: LearnedMatcher, examples) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Second-stage feature rows of every candidate of every example: (X, y, record id, names)."""
    xs, ys, rids, names = [], [], [], []
    for i, ex in enumerate(examples):
        cand, feats, p = matcher.logistic(ex.text)
        if not cand:
            continue
        xs.append(matcher.rerank_matrix(ex.text, cand, feats, p))
        gold = set(ex.labels)
        ys.extend(1.0 if n in gold else 0.0 for n in cand)
        rids.extend([i] * len(cand))
        names.extend(cand)
    return np.vstack(xs), np.array(ys), np.array(rids), names


def _per_record(p: np.ndarray, rids: np.ndarray, names: list[str], n: int) -> list[list[tuple[str, float]]]:
    rows: list[list[tuple[str, float]]] = [[] for _ in range(n)]
    for pi, r, name in zip(p, rids, names, strict=True):
        rows[r].append((name, float(pi)))
    return [sorted(r, key=lambda x: -x[1]) for r in rows]


def safe_threshold(p: np.ndarray, y: np.ndarray, target: float) -> float:
    """Lowest probability t such that the candidates at p >= t keep precision >= target."""
    order = np.argsort(-p, kind="stable")
    precision = np.cumsum(y[order]) / np.arange(1, len(order) + 1)
    ok = np.where(precision >= target)[0]
    return float(p[order][ok.max()]) if len(ok) else 1.0


def _names(result) -> set[str]:
    out = set()
    for d in result.diagnoses:
        out.add(d.name)
        if d.morphology_name:
            out.add(d.morphology_name)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--examples", type=Path, default=None, help="CHIP-CDN train json (default: the pack's)"
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--write-model", action="store_true", help="store the model in learned_model.json")
    parser.add_argument("--safe-precision", type=float, default=SAFE_PRECISION_TARGET)
    parser.add_argument("--json", type=Path, default=None, help="also write the metrics as JSON here")
    parser.add_argument(
        "--from-model",
        action="store_true",
        help="no fitting: rebuild the fit-part matcher with the stored learned_model.json and measure",
    )
    args = parser.parse_args(argv)
    if args.from_model:
        return _measure_stored(args)

    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.isotonic import IsotonicRegression
    from sklearn.model_selection import GroupKFold

    t0 = time.perf_counter()
    pack = TerminologyPack.load()
    examples_path = args.examples or pack.directory / pack.manifest["training_examples"]
    examples = load_examples(examples_path)
    build, held = split_examples(examples, seed=args.seed)
    fit_part, cal_part = split_examples(build, seed=CAL_SEED, holdout=0.2)
    matcher = LearnedMatcher(pack, fit_part)
    matcher.fit()
    t_fit = time.perf_counter() - t0

    # second stage on the calibration part: cross-fitted scores, isotonic calibration, thresholds
    x, y, rids, names = _rerank_rows(matcher, cal_part)
    oof = np.zeros(len(y))
    for train, test in GroupKFold(5).split(x, y, rids):
        clf = HistGradientBoostingClassifier(random_state=0, **RERANKER_PARAMS).fit(x[train], y[train])
        oof[test] = clf.predict_proba(x[test])[:, 1]
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(oof, y)
    cal_p = iso.predict(oof)
    cal_gold = [set(ex.labels) for ex in cal_part]
    cal_f1, threshold, fallback = tune(_per_record(cal_p, rids, names, len(cal_part)), cal_gold)
    in_pack = np.array(
        [1.0 if matcher.name_code.get(n) and "/" not in matcher.name_code[n] else 0.0 for n in names]
    )
    production_threshold = safe_threshold(cal_p[in_pack == 1], y[in_pack == 1], args.safe_precision)
    clf = HistGradientBoostingClassifier(random_state=0, **RERANKER_PARAMS).fit(x, y)
    matcher.reranker = TreeEnsemble.from_sklearn(clf)
    matcher.calibration = (iso.X_thresholds_, iso.y_thresholds_)
    matcher.production_threshold = production_threshold
    matcher.benchmark_threshold = threshold
    matcher.benchmark_fallback = fallback

    from pipelines.standardize.diagnosis import DiagnosisStandardizer

    # rule methods' precision on the calibration part: the confidence a rule placement carries
    std = DiagnosisStandardizer(pack, reviewed_mappings=None, learned=matcher)
    by_method: dict[str, list[int]] = {}
    for ex in cal_part:
        gold = set(ex.labels)
        for d in std.standardize(ex.text).diagnoses:
            hit = by_method.setdefault(d.mapping_method, [0, 0])
            hit[0] += d.name in gold
            hit[1] += 1
    method_confidence = {
        m: round((tp + 1) / (n + 2), 3) for m, (tp, n) in sorted(by_method.items()) if m != "learned"
    }
    matcher.method_confidence = method_confidence
    std = DiagnosisStandardizer(pack, reviewed_mappings=None, learned=matcher)

    gold = [set(ex.labels) for ex in held]
    scored = [matcher.score(ex.text) for ex in held]
    bench = micro_prf([_decide(s, threshold, fallback) for s in scored], gold)
    pipe_pred, guess_pred = [], []
    unmapped = 0
    for ex in held:
        result = std.standardize(ex.text)
        pipe_pred.append(_names(result))
        unmapped += result.status == "unmapped"
        guess_pred.append(_names(std.standardize(ex.text, best_guess=True)))
    pipe = micro_prf(pipe_pred, gold)
    guess = micro_prf(guess_pred, gold)
    elapsed = time.perf_counter() - t0

    report = {
        "split": {
            "seed": args.seed,
            "calibration_seed": CAL_SEED,
            "fit": len(fit_part),
            "calibration": len(cal_part),
            "held_back": len(held),
            "source": str(examples_path),
        },
        "benchmark_mode": {**bench, "threshold": threshold, "fallback": fallback, "calibration_f1": cal_f1},
        "pipeline_mode": {
            **pipe,
            "unmapped_records": unmapped,
            "production_threshold": production_threshold,
            "safe_precision_target": args.safe_precision,
        },
        "best_guess_mode": guess,
        "method_confidence": method_confidence,
        "seconds": round(elapsed, 1),
        "fit_seconds": round(t_fit, 1),
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    if args.write_model:
        matcher.save(
            pack.directory / pack.manifest["learned_model"],
            fitted_on=(
                f"CHIP-CDN train: logistic weights on the fit part ({len(fit_part)} records), reranker, "
                f"calibration and thresholds on the calibration part ({len(cal_part)} records); "
                f"held-back {len(held)} records (seed {args.seed}) never used"
            ),
            benchmark_threshold=threshold,
            benchmark_fallback=fallback,
            production_threshold=production_threshold,
            method_confidence=method_confidence,
        )
    return 0


def _measure_stored(args) -> int:
    """Measure the stored model on the held-back part: the matcher indexes the same fit part it was
    fitted on, with the stored weights, label statistics, reranker, calibration and thresholds."""
    from collections import Counter

    from pipelines.standardize.diagnosis import DiagnosisStandardizer

    pack = TerminologyPack.load()
    examples = load_examples(args.examples or pack.directory / pack.manifest["training_examples"])
    build, held = split_examples(examples, seed=args.seed)
    fit_part, _cal = split_examples(build, seed=CAL_SEED, holdout=0.2)
    model = json.loads((pack.directory / pack.manifest["learned_model"]).read_text(encoding="utf-8"))
    matcher = LearnedMatcher(pack, fit_part, weights=np.array(model["weights"]))
    matcher.label_cand = Counter(model["label_candidate_counts"])
    matcher.label_gold = Counter(model["label_gold_counts"])
    matcher.reranker = TreeEnsemble.from_json(model["reranker"])
    cal = model["calibration"]
    matcher.calibration = (np.asarray(cal["x"], float), np.asarray(cal["y"], float))
    matcher.production_threshold = model["production_threshold"]
    matcher.benchmark_threshold = model["benchmark_threshold"]
    matcher.benchmark_fallback = model["benchmark_fallback"]
    matcher.method_confidence = model.get("method_confidence") or {}
    std = DiagnosisStandardizer(pack, reviewed_mappings=None, learned=matcher)
    gold = [set(ex.labels) for ex in held]
    bench = micro_prf(
        [
            _decide(matcher.score(ex.text), matcher.benchmark_threshold, matcher.benchmark_fallback)
            for ex in held
        ],
        gold,
    )
    safe = [std.standardize(ex.text) for ex in held]
    pipe = {
        **micro_prf([_names(r) for r in safe], gold),
        "unmapped_records": sum(r.status == "unmapped" for r in safe),
    }
    guess = micro_prf([_names(std.standardize(ex.text, best_guess=True)) for ex in held], gold)
    report = {"benchmark_mode": bench, "pipeline_mode": pipe, "best_guess_mode": guess}
    print(json.dumps(report, ensure_ascii=False, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
