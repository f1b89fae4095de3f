"""The CHIP-CDN metric and split used to report micro-F1."""

from __future__ import annotations

import pytest

from pipelines.standardize.terminology.retrieval import CharTfidf, Example, split_examples
from tools.evaluate_cdn import micro_prf


def test_micro_prf_hand_checked():
    pred = [{"高血压", "糖尿病"}, {"癌"}, set()]
    gold = [{"高血压"}, {"癌", "腺癌"}, {"发热"}]
    m = micro_prf(pred, gold)
    # tp = 1 + 1 = 2; predicted 3; gold 4
    assert (m["tp"], m["n_pred"], m["n_gold"]) == (2, 3, 4)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(0.5)
    assert m["f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))


def test_a_name_in_csv_quotes_is_the_same_name():
    # CHIP-CDN's label file quotes a name that has a comma; the pack spells it without quotes
    pred = [{"下肢未特指的损伤,水平未特指"}, {'"癌"'}]
    gold = [{'"下肢未特指的损伤,水平未特指"'}, {"腺癌"}]
    m = micro_prf(pred, gold)
    assert (m["tp"], m["n_pred"], m["n_gold"]) == (1, 2, 2)


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


def test_safe_threshold_keeps_precision_hand_checked():
    import numpy as np

    from tools.evaluate_cdn import safe_threshold

    p = np.array([0.99, 0.95, 0.9, 0.8, 0.7, 0.6])
    y = np.array([1, 1, 1, 0, 1, 0], dtype=float)
    # p >= 0.9: 3/3; >= 0.8: 3/4; >= 0.7: 4/5 = 0.8; >= 0.6: 4/6
    assert safe_threshold(p, y, 0.8) == 0.7
    assert safe_threshold(p, y, 0.9) == 0.9
    assert safe_threshold(np.array([0.5]), np.array([0.0]), 0.9) == 1.0  # never precise: nothing passes


def test_tree_ensemble_scores_like_the_fitted_model():
    """The reranker is stored as plain arrays; scored with numpy it must give sklearn's probabilities."""
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier

    from pipelines.standardize.terminology.rerank import TreeEnsemble

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 5))
    x[rng.random((400, 5)) < 0.05] = np.nan  # missing values take the learned side
    y = ((np.nan_to_num(x[:, 0]) + np.nan_to_num(x[:, 1]) ** 2) > 0.5).astype(float)
    clf = HistGradientBoostingClassifier(max_iter=30, max_leaf_nodes=7, random_state=0).fit(x, y)
    ens = TreeEnsemble.from_json(TreeEnsemble.from_sklearn(clf).to_json())
    assert np.allclose(ens.predict_proba(x), clf.predict_proba(x)[:, 1], atol=1e-9)
