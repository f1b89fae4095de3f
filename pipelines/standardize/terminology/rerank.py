"""Second stage of the learned matcher: the reranker's extra features per candidate (the logistic
probability and its place among the text's candidates, the candidate's place in the terminology's
hierarchy and whether it agrees with the parsed text) and the gradient-boosted trees that score them,
stored as plain arrays and walked with numpy (no pickle, no scikit-learn at run time)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from pipelines.standardize.terminology.normalize import match_key

# appended to the first stage's FEATURES (learned.py) to make the reranker's RERANK_FEATURES
RERANK_EXTRA = [
    "logistic_p",
    "rank_in_text",
    "gap_to_best",
    "n_above_half",
    "share_of_p",
    "second_best_p",
    "is_morphology",
    "code_level",
    "digits_agree",
    "n_same_category",
    "rank_in_category",
]
_DIGIT_RE = re.compile(r"\d+")


def rerank_features(
    names: Sequence[str], feats: np.ndarray, p: np.ndarray, text_key: str, name_code: dict
) -> np.ndarray:
    """Second-stage features for one text's candidates (see RERANK_FEATURES)."""
    n = len(names)
    order = np.argsort(-p, kind="stable")
    rank = np.empty(n)
    rank[order] = np.arange(n)
    best = p.max() if n else 0.0
    second = float(np.sort(p)[-2]) if n > 1 else 0.0
    text_digits = set(_DIGIT_RE.findall(text_key))
    cats = []
    extra = np.zeros((n, 11))
    for i, name in enumerate(names):
        code = name_code.get(name) or ""
        morph = "/" in code
        cat = code[:3] if code and not morph else ""
        cats.append(cat)
        bare = code.split("+")[0].replace(".", "")
        level = 0.0 if not code else (1.0 if len(bare) <= 3 else 2.0 if len(bare) <= 4 else 3.0)
        extra[i, 6] = 1.0 if morph else 0.0
        extra[i, 7] = level
        extra[i, 8] = 1.0 if set(_DIGIT_RE.findall(match_key(name))) == text_digits else 0.0
    cat_count = Counter(c for c in cats if c)
    seen: Counter = Counter()
    for i in order:
        if cats[i]:
            extra[i, 10] = seen[cats[i]]
            seen[cats[i]] += 1
    total = float(p.sum()) or 1.0
    for i in range(n):
        extra[i, 0] = p[i]
        extra[i, 1] = min(rank[i], 10)
        extra[i, 2] = best - p[i]
        extra[i, 3] = float((p > 0.5).sum())
        extra[i, 4] = p[i] / total
        extra[i, 5] = second
        extra[i, 9] = cat_count.get(cats[i], 0)
    return np.hstack([feats, extra])


class TreeEnsemble:
    """A fitted gradient-boosted tree ensemble stored as plain arrays (JSON), scored with numpy: no
    pickle, no library version coupling at run time. Built from scikit-learn's
    HistGradientBoostingClassifier (binary) by ``from_sklearn``."""

    def __init__(self, baseline: float, trees: list[dict]):
        self.baseline = float(baseline)
        self.trees = [{k: np.asarray(v) for k, v in t.items()} for t in trees]
        # all trees as one node table, so that every tree is walked at once (one numpy step per level)
        sizes = [len(t["leaf"]) for t in self.trees]
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int) if sizes else np.zeros(0, int)
        cat = (
            (lambda k: np.concatenate([t[k] for t in self.trees])) if self.trees else (lambda k: np.zeros(0))
        )
        shift = np.concatenate([np.full(n, o) for n, o in zip(sizes, offsets, strict=True)]) if sizes else 0
        self._roots = offsets
        self._feature = cat("feature").astype(int)
        self._threshold = cat("threshold").astype(float)
        self._missing_left = cat("missing_left").astype(bool)
        self._left = cat("left").astype(int) + shift
        self._right = cat("right").astype(int) + shift
        self._leaf = cat("leaf").astype(bool)
        self._value = cat("value").astype(float)

    @classmethod
    def from_sklearn(cls, clf) -> TreeEnsemble:
        trees = []
        for (predictor,) in clf._predictors:
            nodes = predictor.nodes
            trees.append(
                {
                    "feature": nodes["feature_idx"].astype(int).tolist(),
                    "threshold": [float(x) for x in nodes["num_threshold"]],
                    "missing_left": nodes["missing_go_to_left"].astype(int).tolist(),
                    "left": nodes["left"].astype(int).tolist(),
                    "right": nodes["right"].astype(int).tolist(),
                    "leaf": nodes["is_leaf"].astype(int).tolist(),
                    "value": [float(x) for x in nodes["value"]],
                }
            )
        return cls(float(np.ravel(clf._baseline_prediction)[0]), trees)

    def to_json(self) -> dict:
        return {
            "baseline": self.baseline,
            "trees": [
                # full float precision: a rounded threshold would send values next to it the other way
                {k: [float(x) if k in {"threshold", "value"} else int(x) for x in v] for k, v in t.items()}
                for t in self.trees
            ],
        }

    @classmethod
    def from_json(cls, data: dict) -> TreeEnsemble:
        return cls(data["baseline"], data["trees"])

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        n = len(x)
        if n == 0 or len(self._roots) == 0:
            return np.full(n, 1.0 / (1.0 + np.exp(-self.baseline)))
        node = np.tile(self._roots, (n, 1))  # rows x trees
        rows = np.arange(n)[:, None]
        while True:
            at_leaf = self._leaf[node]
            if at_leaf.all():
                break
            vals = x[rows, self._feature[node]]
            go_left = np.where(np.isnan(vals), self._missing_left[node], vals <= self._threshold[node])
            node = np.where(at_leaf, node, np.where(go_left, self._left[node], self._right[node]))
        raw = self.baseline + self._value[node].sum(axis=1)
        return 1.0 / (1.0 + np.exp(-raw))
