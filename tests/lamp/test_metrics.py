"""The official LaMP metrics, checked against values computed by hand (minipplug.lamp.metrics)."""

from __future__ import annotations

import math

import pytest

from minipplug.lamp.metrics import (
    _parse_rating,
    classification_metrics,
    generation_metrics,
    higher_is_better,
    metric_keys,
    question_scores,
    regression_metrics,
    score,
)


def test_classification_by_hand() -> None:
    """Macro-F1 averages over the WHOLE label list; an off-list prediction is just wrong.

    labels a b c d; golds a a b c; preds a b b zzz (off-list)
    a: tp 1 fp 0 fn 1 -> P 1,   R 1/2 -> F1 2/3
    b: tp 1 fp 1 fn 0 -> P 1/2, R 1   -> F1 2/3
    c: tp 0 fn 1      -> F1 0
    d: never seen     -> F1 0 (still counted)
    macro F1 = (2/3 + 2/3 + 0 + 0) / 4 = 1/3; accuracy = 2/4
    """
    labels = ["a", "b", "c", "d"]
    m = classification_metrics([" a\n", "b", "b ", "zzz"], ["a", "a ", "b", "c"], labels)
    assert m["accuracy"] == pytest.approx(0.5)
    assert m["f1"] == pytest.approx(1 / 3)


def test_classification_matches_sklearn_macro_f1() -> None:
    """Independent check: sklearn's macro F1 with labels=range(len(labels)), unknowns mapped to -1."""
    from sklearn.metrics import f1_score

    labels = ["x", "y", "z", "w", "v"]
    golds = ["x", "y", "y", "z", "x", "x", "z", "y"]
    preds = ["x", "y", "x", "q", "x", "z", "z", "w"]
    m = classification_metrics(preds, golds, labels)
    idx = lambda s: labels.index(s) if s in labels else -1  # noqa: E731
    ref = f1_score(
        [idx(g) for g in golds],
        [idx(p) for p in preds],
        labels=list(range(len(labels))),
        average="macro",
        zero_division=0,
    )
    assert m["f1"] == pytest.approx(ref)
    assert m["accuracy"] == pytest.approx(4 / 8)  # positions 0, 1, 4, 6


def test_score_lamp2_uses_all_15_tags() -> None:
    """golds comedy comedy action; preds comedy horror(off-list) ' action '.
    comedy: P 1, R 1/2 -> 2/3; action: 1; the other 13 tags: 0 -> macro F1 = (2/3 + 1) / 15 = 1/9."""
    golds = {"1": "comedy", "2": "comedy", "3": "action"}
    preds = {"3": " action ", "1": "comedy", "2": "horror"}  # order does not matter: matched by id
    m = score("LaMP_2", preds, golds)
    assert m == pytest.approx({"accuracy": 2 / 3, "f1": 1 / 9})
    # The same strings as LaMP_2N labels: none is a category, so every answer is off-list (-1 == -1 counts as
    # a match for accuracy, as in the official scorer) and every category's F1 is 0.
    assert score("LaMP_2N", {"1": "politics"}, {"1": "sports"}) == {"accuracy": 0.0, "f1": 0.0}


def test_score_lamp1() -> None:
    """golds [1] [2] [2] [1]; preds [1] [1] [2] '1' (off-list).
    [1]: tp 1 fp 1 fn 1 -> P 1/2 R 1/2 F 1/2; [2]: tp 1 fp 0 fn 1 -> P 1 R 1/2 F 2/3 -> macro 7/12."""
    golds = {"a": "[1]", "b": "[2]", "c": "[2]", "d": "[1]"}
    preds = {"a": "[1]", "b": "[1]", "c": "[2]", "d": "1"}
    assert score("LaMP_1", preds, golds) == pytest.approx({"accuracy": 0.5, "f1": 7 / 12})


@pytest.mark.parametrize("gold,expected", [(3.0, 5.0), (2.0, 5.0), (4.0, 1.0), (1.0, 5.0), (5.0, 1.0)])
def test_unparsable_rating_takes_farther_end(gold: float, expected: float) -> None:
    assert _parse_rating("I'd say four", gold) == expected


def test_regression_unparsable_by_hand() -> None:
    """golds 3 2 4 1 5, all predictions unparsable -> 5 5 1 5 1; errors 2 3 3 4 4.
    MAE = 16/5 = 3.2; RMSE = sqrt((4+9+9+16+16)/5) = sqrt(10.8)."""
    golds = ["3", "2", "4", "1", "5"]
    m = regression_metrics(["?", "", "four", "n/a", "5 stars"], golds)
    assert m["MAE"] == pytest.approx(3.2)
    assert m["RMSE"] == pytest.approx(math.sqrt(10.8))
    # One at a time: gold 2 -> 5.0 gives an error of 3 (not 1), gold 4 -> 1.0 gives 3 (not 1).
    assert regression_metrics(["x"], ["2"]) == pytest.approx({"MAE": 3.0, "RMSE": 3.0})
    assert regression_metrics(["x"], [" 4 "]) == pytest.approx({"MAE": 3.0, "RMSE": 3.0})


def test_regression_mixed_by_hand() -> None:
    """preds '4', ' 2.5 ', 'x'; golds 5 2 3 -> 4, 2.5, 5.0; errors 1, 0.5, 2.
    MAE = 3.5/3; RMSE = sqrt((1 + 0.25 + 4)/3) = sqrt(1.75)."""
    m = score("LaMP_3", {"a": "4", "b": " 2.5 ", "c": "x"}, {"a": "5", "b": "2", "c": "3"})
    assert m == pytest.approx({"MAE": 3.5 / 3, "RMSE": math.sqrt(1.75)})


def test_rouge_by_hand() -> None:
    """Default rouge tokenizer (lower case, punctuation dropped), no stemming.

    1) gold 'The cat is running fast' (5 tokens), pred 'the cat run fast!' (4 tokens).
       'running' != 'run' without stemming. Unigram overlap the/cat/fast = 3: P 3/4, R 3/5 -> F 2/3.
       LCS the cat fast = 3 -> F 2/3.
    2) gold 'new bridge opens downtown' (4), pred 'Downtown bridge opens.' (3).
       Overlap 3: P 1, R 3/4 -> F 6/7. LCS 'bridge opens' = 2: P 2/3, R 1/2 -> F 4/7.
    Means: rouge-1 (2/3 + 6/7)/2 = 16/21; rouge-L (2/3 + 4/7)/2 = 13/21.
    """
    golds = ["The cat is running fast", "new bridge opens downtown"]
    preds = ["the cat run fast!", "  Downtown bridge opens. "]
    m = generation_metrics(preds, golds)
    assert m["rouge-1"] == pytest.approx(16 / 21)
    assert m["rouge-L"] == pytest.approx(13 / 21)
    # per example, through score() (ids) for the LaMP_4 keys
    assert score("LaMP_4", {"1": preds[0]}, {"1": golds[0]}) == pytest.approx({"rouge-1": 2 / 3, "rouge-L": 2 / 3})
    assert score("LaMP_7", {"2": preds[1]}, {"2": golds[1]}) == pytest.approx({"rouge-1": 6 / 7, "rouge-L": 4 / 7})


def test_rouge_exact_and_disjoint() -> None:
    assert score("LaMP_5", {"1": "Sparse Models"}, {"1": "sparse models"}) == pytest.approx(
        {"rouge-1": 1.0, "rouge-L": 1.0}
    )
    assert score("LaMP_5", {"1": "nothing here"}, {"1": "sparse models"}) == {"rouge-1": 0.0, "rouge-L": 0.0}


@pytest.mark.parametrize(
    "task,keys",
    [
        ("LaMP_1", ("accuracy", "f1")),
        ("LaMP_2M", ("accuracy", "f1")),
        ("LaMP_2N", ("accuracy", "f1")),
        ("LaMP_3", ("MAE", "RMSE")),
        ("LaMP_4", ("rouge-1", "rouge-L")),
        ("LaMP_5", ("rouge-1", "rouge-L")),
        ("LaMP_6", ("rouge-1", "rouge-L")),
        ("LaMP_7", ("rouge-1", "rouge-L")),
    ],
)
def test_metric_keys(task: str, keys: tuple[str, str]) -> None:
    assert metric_keys(task) == keys


@pytest.mark.parametrize(
    "preds",
    [{"1": "comedy"}, {"1": "comedy", "2": "action", "3": "comedy"}, {"1": "comedy", "9": "action"}],
    ids=["missing", "extra", "swapped"],
)
def test_score_refuses_mismatched_ids(preds: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="prediction ids differ"):
        score("LaMP_2", preds, {"1": "comedy", "2": "action"})


def test_score_refuses_empty_golds() -> None:
    with pytest.raises(ValueError):
        score("LaMP_3", {}, {})


@pytest.mark.parametrize("pred", ["nan", "NaN", "inf", "-inf", "Infinity", " nan "])
def test_non_finite_rating_counts_as_unparsable(pred: str) -> None:
    """Python's float() reads these; LaMP's rule must still apply (gold 2: the farther end is 5)."""
    got = regression_metrics([pred, "4"], ["2", "4"])
    assert got == {"MAE": 1.5, "RMSE": math.sqrt(4.5)}
    assert all(math.isfinite(v) for v in got.values())


def test_question_scores_by_hand_and_their_mean_is_the_first_metric() -> None:
    # LaMP_2: right, wrong, right after stripping, off-list (wrong).
    preds = {"1": "comedy", "2": "action", "3": " sci-fi\n", "4": "zzz"}
    golds = {"1": "comedy", "2": "comedy", "3": "sci-fi", "4": "action"}
    assert question_scores("LaMP_2", preds, golds) == {"1": 1.0, "2": 0.0, "3": 1.0, "4": 0.0}
    # LaMP_3: |4 - 5| = 1, |3 - 3| = 0, unparsable against gold 2: the farther end 5, |5 - 2| = 3.
    ratings = question_scores("LaMP_3", {"a": "4", "b": "3", "c": "x"}, {"a": "5", "b": "3", "c": "2"})
    assert ratings == {"a": 1.0, "b": 0.0, "c": 3.0}
    # LaMP_7: the same words (1.0), disjoint (0.0), 'the cat' against 'the dog': P = R = 1/2, F = 1/2.
    texts = question_scores("LaMP_7", {"x": "a b", "y": "c", "z": "the cat"}, {"x": "b a", "y": "d", "z": "the dog"})
    assert texts == pytest.approx({"x": 1.0, "y": 0.0, "z": 0.5})
    cases = [
        ("LaMP_2", preds, golds),
        ("LaMP_3", {"a": "4", "b": "x"}, {"a": "5", "b": "1"}),
        ("LaMP_7", {"x": "a red bus", "y": "the cat sat"}, {"x": "the red bus", "y": "a cat"}),
    ]
    for task, p, g in cases:
        per = question_scores(task, p, g)
        assert sum(per.values()) / len(per) == pytest.approx(score(task, p, g)[metric_keys(task)[0]])
    assert higher_is_better("LaMP_2") and higher_is_better("LaMP_7") and not higher_is_better("LaMP_3")
