"""The CHIP-CDN metric and split used to report micro-F1."""

from __future__ import annotations

import pytest

from pipelines.standardize.evaluate_cdn import micro_prf
from pipelines.standardize.terminology.learned import CharTfidf, Example, split_examples


def test_micro_prf_hand_checked():
    pred = [{"高血压", "糖尿病"}, {"癌"}, set()]
    gold = [{"高血压"}, {"癌", "腺癌"}, {"发热"}]
    m = micro_prf(pred, gold)
    # tp = 1 + 1 = 2; predicted 3; gold 4
    assert (m["tp"], m["n_pred"], m["n_gold"]) == (2, 3, 4)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(0.5)
    assert m["f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))


def test_split_is_fixed_and_disjoint():
    examples = [Example(f"t{i}", (f"l{i}",)) for i in range(100)]
    build, held = split_examples(examples, seed=20221)
    build2, held2 = split_examples(examples, seed=20221)
    assert (len(build), len(held)) == (80, 20)
    assert held == held2 and build == build2
    assert not {e.text for e in build} & {e.text for e in held}


def test_char_tfidf_cosine():
    tfidf = CharTfidf(["高血压", "糖尿病", "高血压3级"])
    sims = (tfidf.transform(["高血压"]) @ tfidf.matrix.T).toarray()[0]
    assert sims[0] == pytest.approx(1.0)
    assert sims[1] == pytest.approx(0.0)
    assert 0.3 < sims[2] < 1.0
