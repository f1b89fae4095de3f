"""Learned matcher: char n-gram retrieval over labelled examples + a small logistic model.

Built from labelled examples (CHIP-CDN: diagnosis text -> set of standard names) and the terminology
names. For one text it proposes candidate standard names from

* the labels of the nearest training texts (char 1-3 gram TF-IDF cosine, whole text and each part),
* the nearest terminology names to the whole text and to each part,

describes each candidate with a few similarity features, and scores it with a logistic model whose
weights are fitted on the training examples (leave-one-out: a training text never sees itself or
its own labels while its features are computed) and stored in ``learned_model.json``.

Only numpy/scipy: no model download, no extra dependency. Retrieval (examples, split, TF-IDF index,
queries) is in ``retrieval.py``; the second stage (reranker features and trees) in ``rerank.py``.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz
from scipy import optimize, sparse

from pipelines.standardize.terminology.normalize import match_key
from pipelines.standardize.terminology.pack import TerminologyPack
from pipelines.standardize.terminology.rerank import RERANK_EXTRA, TreeEnsemble, rerank_features
from pipelines.standardize.terminology.retrieval import (
    CharTfidf,
    Example,
    load_examples,
    load_rewrites,
    query_parts,
    text_key,
    top_k,
)

NGRAM = (1, 3)  # character n-gram sizes of the retrieval index
FEATURES = [
    "bias",
    "knn_max",
    "knn_share",
    "knn_top1",
    "seg_knn_max",
    "name_sim_max",
    "name_sim_whole",
    "name_sim_max_sq",
    "is_substring",
    "partial_ratio",
    "char_cover",
    "log_label_freq",
    "label_precision",
    "in_pack",
    "n_parts",
    "knn_max_x_name",
    "part_top1",
    "part_margin",
    "knn_rank1",
    "knn_rank2",
    "label_precision_x_share",
    "centroid_whole",
    "centroid_max",
]


# second stage (reranker): the logistic probability and its place among the text's candidates, the
# candidate's place in the terminology's hierarchy and whether it agrees with the parsed text
# second stage (reranker, rerank.py): the first-stage features and its own
RERANK_FEATURES = FEATURES + RERANK_EXTRA


class LearnedMatcher:
    """Candidate generation + logistic scoring over standard names."""

    k_part_texts = 5  # nearest training texts per part
    min_part_sim = 0.35  # ... kept when at least this similar
    k_part_names = 6  # nearest standard names per part

    def __init__(
        self,
        pack: TerminologyPack,
        examples: Sequence[Example],
        weights: np.ndarray | None = None,
        k_texts: int = 15,
        k_names: int = 8,
    ):
        self.pack = pack
        self.examples = list(examples)
        self.k_texts = k_texts
        self.k_names = k_names
        self.weights = weights
        # candidate names: every pack name + every training label (some CHIP labels are not in the pack)
        name_to_code: dict[str, str | None] = {}
        for name in pack.names.values():
            name_to_code.setdefault(name, None)
        for key_name in list(name_to_code):
            name_to_code[key_name] = pack.find_name(key_name)
        self.label_freq: Counter = Counter()
        for ex in self.examples:
            self.label_freq.update(ex.labels)
            for lab in ex.labels:
                name_to_code.setdefault(lab, pack.find_name(lab))
        self.names = list(name_to_code)
        self.name_code = name_to_code
        self.name_pos = {n: i for i, n in enumerate(self.names)}
        self.text_keys = [text_key(ex.text, pack) for ex in self.examples]
        self.name_keys = [match_key(n) for n in self.names]
        self.tfidf = CharTfidf(self.text_keys + self.name_keys, ngram=NGRAM)
        self.text_matrix = self.tfidf.matrix[: len(self.text_keys)]
        self.name_matrix = self.tfidf.matrix[len(self.text_keys) :]
        self.text_matrix_t = self.text_matrix.T.tocsr()
        self.name_matrix_t = self.name_matrix.T.tocsr()
        # how often a label's name, when it is the top name for a training text, is a gold label
        self.label_hits: Counter = Counter()
        self.label_seen: Counter = Counter()
        self._example_labels = [set(ex.labels) for ex in self.examples]
        self.rewrites = load_rewrites(pack)
        # label precision: how often a label proposed as a candidate was a gold label (fitted in fit())
        self.label_cand: Counter = Counter()
        self.label_gold: Counter = Counter()
        self._own_cands: list[set[str]] | None = None
        # label centroids (Rocchio): sum of the TF-IDF vectors of the training texts carrying a label
        self.label_ids = {lab: i for i, lab in enumerate(sorted(self.label_freq))}
        rows = [r for r, ex in enumerate(self.examples) for _ in ex.labels]
        cols = [self.label_ids[lab] for ex in self.examples for lab in ex.labels]
        y = sparse.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(self.examples), len(self.label_ids))
        )
        self.label_sums_t = (y.T @ self.text_matrix).T.tocsc()  # vocab x labels
        self.label_sum_norm2 = np.asarray(self.label_sums_t.multiply(self.label_sums_t).sum(axis=0)).ravel()

    # ------------------------------------------------------------------ persistence
    @classmethod
    def load_default(cls, pack: TerminologyPack) -> LearnedMatcher | None:
        model_path = pack.directory / pack.manifest.get("learned_model", "learned_model.json")
        examples_path = pack.directory / pack.manifest.get("training_examples", "chip_cdn_train.json")
        if not model_path.exists() or not examples_path.exists():
            return None
        model = json.loads(model_path.read_text(encoding="utf-8"))
        if model["features"] != FEATURES:
            raise ValueError(f"{model_path}: features {model['features']} != code {FEATURES}")
        matcher = cls(pack, load_examples(examples_path), weights=np.array(model["weights"]))
        matcher.production_threshold = float(model["production_threshold"])
        matcher.benchmark_threshold = float(model.get("benchmark_threshold", 0.5))
        matcher.benchmark_fallback = float(model.get("benchmark_fallback", 0.3))
        matcher.method_confidence = model.get("method_confidence") or {}
        if model.get("reranker"):
            if model.get("rerank_features") != RERANK_FEATURES:
                raise ValueError(f"{model_path}: reranker features differ from the code's RERANK_FEATURES")
            matcher.reranker = TreeEnsemble.from_json(model["reranker"])
            if model.get("calibration"):
                cal = model["calibration"]
                matcher.calibration = (np.asarray(cal["x"], float), np.asarray(cal["y"], float))
        import hashlib

        matcher.model_digest = hashlib.sha256(model_path.read_bytes()).hexdigest()[:16]
        matcher.label_cand = Counter(model.get("label_candidate_counts", {}))
        matcher.label_gold = Counter(model.get("label_gold_counts", {}))
        return matcher

    def save(self, path: Path, **meta) -> None:
        payload = {
            "features": FEATURES,
            "weights": [round(float(w), 6) for w in self.weights],
            **meta,
            "rerank_features": RERANK_FEATURES if self.reranker is not None else None,
            "reranker": self.reranker.to_json() if self.reranker is not None else None,
            "calibration": (
                {"x": [float(v) for v in self.calibration[0]], "y": [float(v) for v in self.calibration[1]]}
                if self.calibration is not None
                else None
            ),
            "label_candidate_counts": dict(self.label_cand.most_common()),
            "label_gold_counts": dict(self.label_gold.most_common()),
        }
        Path(path).write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    # ------------------------------------------------------------------ features
    def _features(self, text: str, exclude: int | None = None) -> tuple[list[str], np.ndarray]:
        key = text_key(text, self.pack)
        parts = query_parts(text, self.pack, self.rewrites) or [key]
        queries = [key] + [p for p in parts if p != key]
        q = self.tfidf.transform(queries)
        text_sims = (q @ self.text_matrix_t).toarray()
        own_sims = text_sims[:, exclude].copy() if exclude is not None else None
        if exclude is not None:
            text_sims[:, exclude] = -1.0
        name_sims = (q @ self.name_matrix_t).tocsr()
        cand: dict[str, None] = {}
        # labels of nearest training texts (whole text)
        nn = top_k(text_sims[0], self.k_texts)
        knn_max: dict[str, float] = defaultdict(float)
        knn_sum: dict[str, float] = defaultdict(float)
        top1_labels = set(self.examples[nn[0]].labels) if len(nn) and text_sims[0, nn[0]] > 0 else set()
        total = 0.0
        for j in nn:
            s = float(text_sims[0, j])
            if s <= 0:
                continue
            total += s
            for lab in self.examples[j].labels:
                cand.setdefault(lab)
                knn_max[lab] = max(knn_max[lab], s)
                knn_sum[lab] += s
        seg_knn: dict[str, float] = defaultdict(float)
        for r in range(1, len(queries)):
            for j in top_k(text_sims[r], self.k_part_texts):
                s = float(text_sims[r, j])
                if s <= self.min_part_sim:
                    continue
                for lab in self.examples[j].labels:
                    cand.setdefault(lab)
                    seg_knn[lab] = max(seg_knn[lab], s)
        for r in range(len(queries)):
            lo, hi = name_sims.indptr[r], name_sims.indptr[r + 1]
            data, cols = name_sims.data[lo:hi], name_sims.indices[lo:hi]
            if len(data) == 0:
                continue
            for j in top_k(data, self.k_names if r == 0 else self.k_part_names):
                if data[j] > 0.2:
                    cand.setdefault(self.names[cols[j]])
        names = list(cand)
        if not names:
            return [], np.zeros((0, len(FEATURES)))
        pos = np.array([self.name_pos[n] for n in names])
        cand_sims = (q @ self.name_matrix[pos].T).toarray()  # queries x candidates
        n_parts = len(parts)
        # is the candidate the best-matching candidate name of some query (whole text or one part)?
        best_per_query = cand_sims.argmax(axis=1)
        part_top1 = np.zeros(len(names))
        part_margin = np.zeros(len(names))
        for r, ci in enumerate(best_per_query):
            if cand_sims[r, ci] <= 0:
                continue
            part_top1[ci] = 1.0
            others = np.delete(cand_sims[r], ci)
            margin = float(cand_sims[r, ci] - (others.max() if len(others) else 0.0))
            part_margin[ci] = max(part_margin[ci], margin)
        share_rank = {n: r for r, n in enumerate(sorted(knn_sum, key=lambda n: -knn_sum[n]))}
        centroid = self._centroid_sims(q, names, own_sims, exclude)
        rows = []
        key_chars = set(key)
        for ci, name in enumerate(names):
            nkey = self.name_keys[pos[ci]]
            freq = self.label_freq.get(name, 0)
            if exclude is not None and name in self._example_labels[exclude]:
                freq -= 1
            sim_max = float(cand_sims[:, ci].max())
            kmax = knn_max.get(name, 0.0)
            row = [
                1.0,
                kmax,
                knn_sum.get(name, 0.0) / total if total else 0.0,
                1.0 if name in top1_labels else 0.0,
                seg_knn.get(name, 0.0),
                sim_max,
                float(cand_sims[0, ci]),
                sim_max * sim_max,
                1.0 if nkey and nkey in key else 0.0,
                fuzz.partial_ratio(nkey, key) / 100.0 if nkey else 0.0,
                (sum(1 for ch in set(nkey) if ch in key_chars) / len(set(nkey))) if nkey else 0.0,
                math.log1p(max(freq, 0)),
                self._label_precision(name, exclude),
                1.0 if self.name_code.get(name) else 0.0,
                min(n_parts, 6) / 6.0,
                kmax * sim_max,
                part_top1[ci],
                part_margin[ci],
                1.0 if share_rank.get(name, 99) == 0 else 0.0,
                1.0 if share_rank.get(name, 99) == 1 else 0.0,
                0.0,
                float(centroid[0, ci]),
                float(centroid[:, ci].max()),
            ]
            row[20] = row[12] * row[2]  # label precision x knn share
            rows.append(row)
        return names, np.array(rows)

    def _centroid_sims(self, q, names, own_sims, exclude) -> np.ndarray:
        """Cosine of each query with each candidate label's centroid (leave-one-out for a training text)."""
        out = np.zeros((q.shape[0], len(names)))
        idx = [(ci, self.label_ids[n]) for ci, n in enumerate(names) if n in self.label_ids]
        if not idx:
            return out
        cis = np.array([c for c, _ in idx])
        lids = np.array([lid for _, lid in idx])
        dots = (q @ self.label_sums_t[:, lids]).toarray()  # queries x labels
        norm2 = np.tile(self.label_sum_norm2[lids], (q.shape[0], 1))
        if exclude is not None:
            own = np.array([1.0 if names[c] in self._example_labels[exclude] else 0.0 for c in cis])
            x_i = self.text_matrix[exclude]
            sum_dot_own = (x_i @ self.label_sums_t[:, lids]).toarray()[0]  # x_i . S_L
            norm2 = norm2 - own * (2 * sum_dot_own - 1.0)
            dots = dots - np.outer(own_sims, own)
        norm2 = np.where(norm2 > 1e-9, norm2, np.inf)
        out[:, cis] = dots / np.sqrt(norm2)
        return out

    def _label_precision(self, name: str, exclude: int | None) -> float:
        cand = self.label_cand.get(name, 0)
        gold = self.label_gold.get(name, 0)
        if exclude is not None and self._own_cands is not None and name in self._own_cands[exclude]:
            cand -= 1
            gold -= 1 if name in self._example_labels[exclude] else 0
        return (gold + 0.2) / (cand + 1.0)

    # ------------------------------------------------------------------ fitting
    def fit(self, l2: float = 1.0) -> np.ndarray:
        """Fit the logistic weights on the training examples (leave-one-out features)."""
        self.label_cand.clear()
        self.label_gold.clear()
        own = []
        for i, ex in enumerate(self.examples):
            names, _ = self._features(ex.text, exclude=i)
            own.append(set(names))
            self.label_cand.update(names)
            self.label_gold.update(set(names) & self._example_labels[i])
        self._own_cands = own
        xs, ys = [], []
        for i, ex in enumerate(self.examples):
            names, feats = self._features(ex.text, exclude=i)
            gold = set(ex.labels)
            xs.append(feats)
            ys.append(np.array([1.0 if n in gold else 0.0 for n in names]))
        x = np.vstack(xs)
        y = np.concatenate(ys)
        n_feat, hidden = x.shape[1], self.hidden
        rng = np.random.default_rng(7)
        w0 = np.concatenate(
            [np.zeros(n_feat), rng.normal(0, 0.3, n_feat * hidden), rng.normal(0, 0.3, hidden)]
        )
        mask = np.ones_like(w0)
        mask[0] = 0.0  # no penalty on the bias

        def loss(w):
            z, cache = self._forward(x, w)
            p = 1 / (1 + np.exp(-z))
            eps = 1e-9
            value = -np.sum(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)) + l2 * np.sum(
                (w * mask) ** 2
            )
            d = p - y
            h, w1, w2 = cache
            g_lin = x.T @ d
            g_w2 = h.T @ d
            dh = np.outer(d, w2) * (1 - h * h)
            g_w1 = x.T @ dh
            grad = np.concatenate([g_lin, g_w1.ravel(), g_w2]) + 2 * l2 * w * mask
            return value, grad

        res = optimize.minimize(loss, w0, jac=True, method="L-BFGS-B", options={"maxiter": 400})
        self.weights = res.x
        return self.weights

    hidden: int = 0  # 0 = plain logistic regression; an 8-unit layer scored no better on the held-back split

    def _forward(self, x: np.ndarray, w: np.ndarray):
        """Logit = linear part + a small tanh hidden layer (weights packed in one vector)."""
        n_feat = x.shape[1]
        hidden = (len(w) - n_feat) // (n_feat + 1)
        w_lin = w[:n_feat]
        w1 = w[n_feat : n_feat + n_feat * hidden].reshape(n_feat, hidden)
        w2 = w[n_feat + n_feat * hidden :]
        h = np.tanh(x @ w1)
        return x @ w_lin + h @ w2, (h, w1, w2)

    reranker: TreeEnsemble | None = None
    calibration: tuple[np.ndarray, np.ndarray] | None = None
    benchmark_threshold: float = 0.5
    benchmark_fallback: float = 0.3
    method_confidence: dict | None = None
    model_digest: str = ""

    def logistic(self, text: str, exclude: int | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(candidate names, first-stage features, logistic probabilities)."""
        names, feats = self._features(text, exclude=exclude)
        if not names:
            return [], feats, np.zeros(0)
        return names, feats, 1 / (1 + np.exp(-self._forward(feats, self.weights)[0]))

    def rerank_matrix(self, text: str, names, feats, p) -> np.ndarray:
        return rerank_features(names, feats, p, text_key(text, self.pack), self.name_code)

    def score(self, text: str, exclude: int | None = None) -> list[tuple[str, float]]:
        """Candidate names with (calibrated) probability, best first: the reranker's when the model
        has one, else the logistic model's."""
        names, feats, p = self.logistic(text, exclude=exclude)
        if not names:
            return []
        if self.reranker is not None:
            p = self.reranker.predict_proba(self.rerank_matrix(text, names, feats, p))
            if self.calibration is not None:  # isotonic map fitted on the calibration part
                p = np.interp(p, self.calibration[0], self.calibration[1])
        order = np.argsort(-p, kind="stable")
        return [(names[i], float(p[i])) for i in order]

    def predict(self, text: str, threshold: float, fallback: float, exclude: int | None = None) -> list[str]:
        """Names with p >= threshold; if none, the best one when p >= fallback."""
        scored = self.score(text, exclude=exclude)
        chosen = [n for n, p in scored if p >= threshold]
        if not chosen and scored and scored[0][1] >= fallback:
            chosen = [scored[0][0]]
        return chosen

    # ------------------------------------------------------------------ production use
    production_threshold: float = 0.9

    def candidates(self, text: str) -> list[str]:
        """Pack codes the model is confident about for one diagnosis text, best first."""
        out = []
        for name, p in self.score(text):
            if p < self.production_threshold:
                break
            code = self.name_code.get(name)
            if code:
                out.append(code)
        return out
