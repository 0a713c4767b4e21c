"""The official LaMP metrics (LAMP.md): accuracy/macro-F1, MAE/RMSE, ROUGE-1/ROUGE-L."""

from __future__ import annotations

import math

from ..errors import InputError
from .tasks import TaskSpec, get_task


def classification_metrics(preds: list[str], golds: list[str], labels: list[str]) -> dict[str, float]:
    """Accuracy and macro-F1 over the whole label list; off-list strings map to -1 (always wrong)."""
    index = {label: i for i, label in enumerate(labels)}
    p = [index.get(x.strip(), -1) for x in preds]
    g = [index.get(x.strip(), -1) for x in golds]
    accuracy = sum(a == b for a, b in zip(p, g)) / len(g)
    f1s = []
    for c in range(len(labels)):
        tp = sum(a == c and b == c for a, b in zip(p, g))
        fp = sum(a == c and b != c for a, b in zip(p, g))
        fn = sum(a != c and b == c for a, b in zip(p, g))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return {"accuracy": accuracy, "f1": sum(f1s) / len(f1s)}


def _parse_rating(pred: str, gold: float) -> float:
    """LaMP's rule (eval/evaluation.py, create_metric_mae_rmse): an unparsable prediction counts as whichever end
    of the scale is farther from the gold. "nan", "inf" and "-inf" count as unparsable too: Python's float() reads
    them, and in LaMP's own code one of them makes the whole MAE/RMSE NaN or infinite."""
    try:
        value = float(pred.strip())
    except ValueError:
        value = math.nan
    if math.isfinite(value):
        return value
    return 1.0 if abs(1.0 - gold) > abs(5.0 - gold) else 5.0


def regression_metrics(preds: list[str], golds: list[str]) -> dict[str, float]:
    """MAE and RMSE of ratings, with LaMP's rule for unparsable predictions."""
    g = [float(x.strip()) for x in golds]
    p = [_parse_rating(x, gv) for x, gv in zip(preds, g)]
    errors = [a - b for a, b in zip(p, g)]
    return {
        "MAE": sum(abs(e) for e in errors) / len(errors),
        "RMSE": math.sqrt(sum(e * e for e in errors) / len(errors)),
    }


def generation_metrics(preds: list[str], golds: list[str]) -> dict[str, float]:
    """ROUGE-1 and ROUGE-L F-measure (no stemming), averaged over examples."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=False)
    r1 = rl = 0.0
    for p, g in zip(preds, golds):
        s = scorer.score(g.strip(), p.strip())  # score(target, prediction)
        r1 += s["rouge1"].fmeasure
        rl += s["rougeL"].fmeasure
    return {"rouge-1": r1 / len(golds), "rouge-L": rl / len(golds)}


def top_share(values: list[str]) -> tuple[str, float]:
    """The most frequent value (stripped) and its share of all values: how concentrated the answers are."""
    from collections import Counter

    if not values:
        return "", 0.0
    label, count = Counter(v.strip() for v in values).most_common(1)[0]
    return label, count / len(values)


def metric_keys(task: str | TaskSpec) -> tuple[str, str]:
    """The two official keys a task reports."""
    spec = get_task(task)
    return {"classification": ("accuracy", "f1"), "regression": ("MAE", "RMSE"), "generation": ("rouge-1", "rouge-L")}[
        spec.kind
    ]


def score(task: str | TaskSpec, preds: dict[str, str], golds: dict[str, str]) -> dict[str, float]:
    """Score predictions against golds by id, as the LaMP scorer does (ids must match exactly)."""
    spec = get_task(task)
    if set(preds) != set(golds):
        missing, extra = sorted(set(golds) - set(preds)), sorted(set(preds) - set(golds))
        raise InputError(
            f"prediction ids differ from the golds': {len(missing)} missing (first: {missing[:1]}), "
            f"{len(extra)} unknown (first: {extra[:1]})"
        )
    if not golds:
        raise InputError("no golds to score")
    ids = list(golds)
    p, g = [preds[i] for i in ids], [golds[i] for i in ids]
    if spec.kind == "classification":
        return classification_metrics(p, g, list(spec.labels))
    if spec.kind == "regression":
        return regression_metrics(p, g)
    return generation_metrics(p, g)


def higher_is_better(task: str | TaskSpec) -> bool:
    """Whether a larger value of the task's first metric is better (accuracy, ROUGE-1: yes; MAE: no)."""
    return get_task(task).kind != "regression"


def question_scores(task: str | TaskSpec, preds: dict[str, str], golds: dict[str, str]) -> dict[str, float]:
    """Each question's own score, by id, whose mean is the task's first metric: 1/0 correct (accuracy),
    absolute error (MAE) or ROUGE-1 F-measure (rouge-1); the basis of paired, per-question comparisons."""
    spec = get_task(task)
    ids = [i for i in golds if i in preds]
    if spec.kind == "classification":
        index = {label: i for i, label in enumerate(spec.labels)}  # off-list strings -1, as classification_metrics
        return {i: float(index.get(preds[i].strip(), -1) == index.get(golds[i].strip(), -1)) for i in ids}
    if spec.kind == "regression":
        return {i: abs(_parse_rating(preds[i], float(golds[i].strip())) - float(golds[i].strip())) for i in ids}
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=False)
    return {i: scorer.score(golds[i].strip(), preds[i].strip())["rouge1"].fmeasure for i in ids}
