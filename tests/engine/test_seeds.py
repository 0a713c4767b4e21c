"""compare --seeds without models: per-seed rows -> summary, PPlug paired with each row, the claim table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from minipplug.engine import seeds as seeds_module
from minipplug.engine.seeds import (
    CLAIMS,
    added_rows,
    claim_rows,
    claims_markdown,
    merge_summaries,
    run_seeds,
    summarize,
    write_seed_reports,
)
from minipplug.engine.stats import FAILS, HOLDS, UNSURE
from minipplug.errors import InputError
from minipplug.lamp.data import Example
from minipplug.lamp.tasks import get_task

L2 = get_task("LaMP_2")
GOLDS = {"q1": "sci-fi", "q2": "comedy", "q3": "romance", "q4": "romance"}
WRONG = {"q1": "action", "q2": "action", "q3": "action", "q4": "action"}


def dev() -> list[Example]:
    return [Example(i, f"description: {i}", i, [], [], t, "u" + i[-1]) for i, t in GOLDS.items()]


def row(method: str, answers: dict, decoding: str = "generate") -> dict:
    return {"method": method, "task": "LaMP_2", "decoding": decoding, "accuracy": 0.0, "_answers": dict(answers)}


def by_seed() -> dict[int, list[dict]]:
    """Two seeds. pplug: 4/4 right, then 3/4 (q4 wrong). bm25-k4: all wrong when generating, all right when
    ranking. pplug-mean-pooling answers as pplug does; pplug+retrieval is always wrong; lora-per-user answers
    the first two questions only (its users'); the rule is right on q1 and q3."""
    pplug_1 = {**GOLDS, "q4": "action"}
    rule = {"q1": "sci-fi", "q2": "action", "q3": "romance", "q4": "action"}
    out = {}
    for seed, pplug in [(0, GOLDS), (1, pplug_1)]:
        out[seed] = [
            row("rule-history-majority", rule, "none"),
            row("bm25-k4", WRONG),
            row("bm25-k4", GOLDS, "rank"),
            row("pplug", pplug),
            row("pplug-mean-pooling", pplug),
            row("pplug+retrieval", WRONG),
            row("lora-per-user (2 users)", {"q1": "sci-fi", "q2": "action"}),
        ]
    return out


@pytest.fixture
def summary() -> dict:
    return summarize(by_seed(), dev(), L2)


def entries(summary: dict) -> dict:
    return {(e["method"], e["decoding"]): e for e in summary["methods"]}


def test_summary_means_per_seed_and_pairs_by_hand(summary: dict) -> None:
    e = entries(summary)
    assert summary["seeds"] == [0, 1] and summary["metric"] == "accuracy" and summary["questions"] == 4
    assert e[("pplug", "generate")]["per_seed"] == [1.0, 0.75] and e[("pplug", "generate")]["mean"] == 0.875
    assert "pplug_minus_this" not in e[("pplug", "generate")]  # the reference itself
    assert e[("rule-history-majority", "none")]["per_seed"] == [0.5, 0.5]
    # pplug - rule, per question: seed 0 [0, 1, 0, 1], seed 1 [0, 1, 0, 0] -> 3 / 8.
    assert e[("rule-history-majority", "none")]["pplug_minus_this"]["mean"] == 0.375
    # Each decoding is its own row: pplug - bm25 generating = 7/8, ranking = -1/8.
    assert e[("bm25-k4", "generate")]["pplug_minus_this"]["mean"] == 0.875
    assert e[("bm25-k4", "rank")]["pplug_minus_this"]["mean"] == -0.125
    # The same answers everywhere: a difference of 0 with a zero-width interval.
    same = e[("pplug-mean-pooling", "generate")]["pplug_minus_this"]
    assert (same["mean"], same["low"], same["high"]) == (0.0, 0.0, 0.0)
    # lora-per-user answered q1 and q2 only: its mean and its pairing are on those two questions.
    lora = e[("lora-per-user (2 users)", "generate")]
    assert lora["questions"] == 2 and lora["mean"] == 0.5
    assert lora["pplug_minus_this"] == {**lora["pplug_minus_this"], "mean": 0.5, "questions": 2}
    for entry in summary["methods"]:
        assert entry["low"] <= entry["mean"] <= entry["high"]


def test_claims_from_the_summary(summary: dict) -> None:
    claims = {r["b"] if r["a"] == "pplug" else r["a"]: r for r in claim_rows(summary)}
    assert [c.a + " > " + c.b for c in CLAIMS] == [f"{r['a']} > {r['b']}" for r in claim_rows(summary)]
    # bm25 is compared generating (as pplug is): pplug far ahead, whatever its ranking row does.
    assert claims["bm25-k4"]["verdict"] == HOLDS and claims["bm25-k4"]["measured"]["mean"] == 0.875
    assert claims["pplug-mean-pooling"]["verdict"] == UNSURE
    # "pplug+retrieval beats pplug" is the pairing turned round: -(pplug - pplug+retrieval).
    turned = entries(summary)[("pplug+retrieval", "generate")]["pplug_minus_this"]
    measured = claims["pplug+retrieval"]["measured"]
    assert (measured["mean"], measured["low"], measured["high"]) == (-0.875, -turned["high"], -turned["low"])
    assert claims["pplug+retrieval"]["verdict"] == FAILS
    for absent in ("recency-k4", "dense-k4", "pplug-no-instruction"):
        assert claims[absent]["verdict"] == "not run" and claims[absent]["measured"] is None
    # The paper's LaMP-2 numbers: Table 1 PPlug .559 against BM25 .387; Table 3 PPlug + retrieval .545, PPlug .565.
    assert claims["bm25-k4"]["paper"] == {"a": 0.559, "b": 0.387, "difference": 0.172}
    assert claims["bm25-k4"]["source"] == "Table 1, test"
    assert claims["pplug+retrieval"]["paper"] == {"a": 0.545, "b": 0.565, "difference": -0.02}


def test_a_lower_is_better_metric_turns_the_verdict_round() -> None:
    summary = {
        "task": "LaMP_3",
        "higher_is_better": False,
        "methods": [
            {"method": "pplug", "decoding": "generate"},
            {
                "method": "bm25-k4",
                "decoding": "generate",
                "pplug_minus_this": {"mean": -0.3, "low": -0.5, "high": -0.1},
            },
            {
                "method": "recency-k4",
                "decoding": "generate",
                "pplug_minus_this": {"mean": 0.3, "low": 0.1, "high": 0.5},
            },
        ],
    }
    claims = {r["b"]: r for r in claim_rows(summary)}
    assert claims["bm25-k4"]["verdict"] == HOLDS and claims["recency-k4"]["verdict"] == FAILS  # MAE: lower wins
    assert claims["bm25-k4"]["paper"]["difference"] == pytest.approx(0.242 - 0.298, abs=1e-3)


def test_a_task_outside_the_papers_tables_has_no_paper_numbers(summary: dict) -> None:
    news = {**summary, "task": "LaMP_2N"}
    rows = claim_rows(news)
    assert all(r["paper"] is None for r in rows) and rows[0]["verdict"] == HOLDS
    assert "not in the paper" in claims_markdown(news, rows)


def test_the_report_files(summary: dict, tmp_path: Path) -> None:
    runs = by_seed()
    claims = write_seed_reports(runs, summary, tmp_path)
    lines = [json.loads(line) for line in (tmp_path / "seeds.jsonl").read_text().splitlines()]
    assert len(lines) == 14 and lines[0]["seed"] == 0 and lines[-1]["seed"] == 1
    assert all("_answers" not in line for line in lines)
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["methods"] == summary["methods"] and saved["claims"] == claims
    table = (tmp_path / "summary.md").read_text()
    assert "| pplug | generate | 0.875 |" in table and "| bm25-k4 | rank |" in table
    claims_md = (tmp_path / "claims.md").read_text()
    assert "| PPlug beats BM25 retrieval | pplug − bm25-k4 | 0.559, 0.387 (+0.172), Table 1, test | +0.875" in claims_md
    assert claims_md.count("| not run |") == 3


def test_run_seeds_runs_each_seed_in_its_folder_and_restores_the_config(monkeypatch, tmp_path: Path) -> None:
    from minipplug.config import PPlugConfig

    seen = []
    monkeypatch.setattr(
        seeds_module,
        "run_compare",
        lambda stack, train, dev, *, out, **kw: seen.append((stack.cfg.seed, out, kw)) or [row("pplug", GOLDS)],
    )

    class FakeStack:
        cfg = PPlugConfig().replace(seed=7, progress=False)

    stack = FakeStack()
    runs = run_seeds(stack, [], dev(), [2, 0], tmp_path, methods=None)
    assert [(s, o) for s, o, _ in seen] == [(2, tmp_path / "seed2"), (0, tmp_path / "seed0")]
    assert seen[0][2] == {"methods": None} and list(runs) == [2, 0] and stack.cfg.seed == 7


def _without(method: str, runs: dict[int, list[dict]]) -> dict[int, list[dict]]:
    return {seed: [r for r in rows if r["method"] != method] for seed, rows in runs.items()}


def _only(methods: set[str], runs: dict[int, list[dict]]) -> dict[int, list[dict]]:
    return {seed: [r for r in rows if r["method"] in methods] for seed, rows in runs.items()}


def test_a_later_run_adds_its_rows_as_if_they_had_run_with_the_recorded_ones() -> None:
    recorded = summarize(_without("pplug+retrieval", by_seed()), dev(), L2)
    recorded["claims"] = claim_rows(recorded)
    added = summarize(_only({"pplug", "bm25-k4", "pplug+retrieval"}, by_seed()), dev(), L2)
    merged = merge_summaries(recorded, added_rows(recorded, added))
    whole = summarize(by_seed(), dev(), L2)  # the reference: every row in one run
    assert [(e["method"], e["decoding"]) for e in merged["methods"]] == [
        (e["method"], e["decoding"]) for e in recorded["methods"]
    ] + [("pplug+retrieval", "generate")]
    assert entries(merged)[("pplug+retrieval", "generate")] == entries(whole)[("pplug+retrieval", "generate")]
    verdicts = {c["a"]: c["verdict"] for c in merged["claims"]}
    assert ({c["a"]: c["verdict"] for c in recorded["claims"]}["pplug+retrieval"], verdicts["pplug+retrieval"]) == (
        "not run",
        claim_rows(whole)[-1]["verdict"],
    )


def test_an_added_run_whose_pplug_differs_or_is_missing_is_refused() -> None:
    recorded = summarize(_without("pplug+retrieval", by_seed()), dev(), L2)
    other = by_seed()
    other[1][3] = row("pplug", GOLDS)  # seed 1's pplug now answers q4 right: not the recorded plug's answers
    # bm25-k4's rows differ too (paired with another pplug): the message names pplug, the row that pairs the rest
    with pytest.raises(InputError, match=r"^pplug \(generate\) does not reproduce the recorded run"):
        added_rows(recorded, summarize(_only({"pplug", "bm25-k4", "pplug+retrieval"}, other), dev(), L2))
    with pytest.raises(InputError, match="no pplug \\(generate\\) row"):
        added_rows(recorded, summarize(_only({"pplug+retrieval"}, by_seed()), dev(), L2))
    with pytest.raises(InputError, match="seeds"):
        added_rows(recorded, summarize({0: by_seed()[0]}, dev(), L2))
    with pytest.raises(InputError, match="no row that the recorded run lacks"):
        added_rows(recorded, summarize(_only({"pplug", "bm25-k4"}, by_seed()), dev(), L2))
