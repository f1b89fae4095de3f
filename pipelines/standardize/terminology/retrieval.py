"""Retrieval for the learned matcher: labelled examples (CHIP-CDN) and their fixed-seed split, a
character n-gram TF-IDF index, and the queries a text is looked up by (the whole text, each diagnosis
and connector piece of it, and the retrieval-only rewrites of ``query_rewrites.csv``)."""

from __future__ import annotations

import csv
import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

from pipelines.standardize.terminology.normalize import match_key, normalize_text, split_diagnoses
from pipelines.standardize.terminology.pack import TerminologyPack

_CONNECTOR_RE = re.compile(r"(?:合并|伴有|伴|并发|并|及)")


@dataclass(frozen=True)
class Example:
    text: str
    labels: tuple[str, ...]


def load_examples(path: Path) -> list[Example]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    out = []
    for row in data:
        labels = tuple(dict.fromkeys(x.strip() for x in row["normalized_result"].split("##") if x.strip()))
        out.append(Example(row["text"], labels))
    return out


def split_examples(examples: Sequence[Example], seed: int = 20221, holdout: float = 0.2):
    """Fixed-seed split: (build part, held-back part)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(examples))
    n_hold = int(round(len(examples) * holdout))
    hold = sorted(order[:n_hold].tolist())
    build = sorted(order[n_hold:].tolist())
    return [examples[i] for i in build], [examples[i] for i in hold]


class CharTfidf:
    """Character 1-3 gram TF-IDF with l2-normalised rows (sparse)."""

    def __init__(self, docs: Sequence[str], ngram: tuple[int, int] = (1, 3)):
        self.ngram = ngram
        self.vocab: dict[str, int] = {}
        df: Counter = Counter()
        grams_per_doc = [self._grams(d) for d in docs]
        for grams in grams_per_doc:
            df.update(set(grams))
        for g in sorted(df):  # sorted: the same column order (and float sums) on every run
            self.vocab[g] = len(self.vocab)
        n = len(docs)
        self.idf = np.zeros(len(self.vocab))
        for g, i in self.vocab.items():
            self.idf[i] = math.log((1 + n) / (1 + df[g])) + 1.0
        self.matrix = self.transform_grams(grams_per_doc)

    def _grams(self, text: str) -> list[str]:
        lo, hi = self.ngram
        padded = f"^{text}$"
        out = []
        for k in range(lo, hi + 1):
            src = text if k == 1 else padded
            out.extend(src[i : i + k] for i in range(len(src) - k + 1))
        return out

    def transform_grams(self, grams_per_doc: Sequence[Sequence[str]]) -> sparse.csr_matrix:
        vocab = self.vocab
        indptr = [0]
        cols: list[int] = []
        vals: list[int] = []
        for grams in grams_per_doc:
            counts = Counter(g for g in grams if g in vocab)
            cols.extend(vocab[g] for g in counts)
            vals.extend(counts.values())
            indptr.append(len(cols))
        col = np.array(cols, dtype=np.int32)
        ptr = np.array(indptr, dtype=np.int32)
        weights = (1 + np.log(np.array(vals, dtype=np.float64))) * self.idf[col]
        row_of = np.repeat(np.arange(len(grams_per_doc)), np.diff(ptr))
        norms = np.sqrt(np.bincount(row_of, weights=weights * weights, minlength=len(grams_per_doc)))
        norms[norms == 0] = 1.0
        weights /= norms[row_of]
        return sparse.csr_matrix((weights, col, ptr), shape=(len(grams_per_doc), len(vocab)))

    def transform(self, docs: Sequence[str]) -> sparse.csr_matrix:
        return self.transform_grams([self._grams(d) for d in docs])


def text_key(text: str, pack: TerminologyPack) -> str:
    return match_key(pack.apply_synonyms(normalize_text(text)))


def load_rewrites(pack: TerminologyPack) -> list[tuple[re.Pattern, str]]:
    """Retrieval-only query rewrites (``query_rewrites.csv``): extra queries, the text is kept."""
    path = pack.directory / pack.manifest.get("query_rewrites", "query_rewrites.csv")
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as fh:
        return [(re.compile(r["pattern"]), r["replacement"]) for r in csv.DictReader(fh)]


def query_parts(
    text: str, pack: TerminologyPack, rewrites: Sequence[tuple[re.Pattern, str]] = ()
) -> list[str]:
    parts = []
    for p in split_diagnoses(pack.apply_synonyms(normalize_text(text))):
        parts.append(p)
        pieces = [x for x in _CONNECTOR_RE.split(p) if x.strip()]
        if len(pieces) > 1:
            parts.extend(pieces)
    keys = [match_key(p) for p in parts]
    extra = []
    for k in keys:
        rewritten = k
        for pattern, repl in rewrites:
            rewritten = pattern.sub(repl, rewritten)
        if rewritten != k:
            extra.append(rewritten)
    return list(dict.fromkeys(k for k in keys + extra if k))


def top_k(sims: np.ndarray, k: int) -> np.ndarray:
    k = min(k, sims.shape[-1])
    idx = np.argpartition(-sims, k - 1)[:k]
    return idx[np.argsort(-sims[idx])]
