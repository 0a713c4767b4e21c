"""`minipplug compare --seeds`: the comparison once per training seed, a summary with intervals over seeds and
questions, PPlug paired against every other row, and the paper's claims checked against that summary."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..atomic import atomic_write_text
from ..errors import InputError
from ..lamp.data import Example
from ..lamp.metrics import higher_is_better, metric_keys, question_scores
from ..lamp.tasks import TaskSpec
from .compare import run_compare
from .report import public
from .stack import Stack
from .stats import LEVEL, REPLICATES, RNG_SEED, Interval, bootstrap_mean, paired_difference, verdict

REFERENCE = ("pplug", "generate")  # the row every other row is paired against
Key = tuple[str, str]  # (method, decoding): one row of a comparison
RESAMPLED = "seeds, then questions"


def run_seeds(
    stack: Stack, train_ex: list[Example], dev_ex: list[Example], seeds: Sequence[int], out: Path, **compare_kw
) -> dict[int, list[dict]]:
    """run_compare once per training seed, each in out/seed<N> (its plugs reused there by a later run)."""
    base = stack.cfg
    by_seed: dict[int, list[dict]] = {}
    try:
        for seed in seeds:
            stack.cfg = base.replace(seed=seed)  # the seed of training, of the swapped derangement, of everything
            if base.progress:
                print(f"seed {seed}: {out / f'seed{seed}'}", flush=True)
            by_seed[seed] = run_compare(stack, train_ex, dev_ex, out=out / f"seed{seed}", **compare_kw)
    finally:
        stack.cfg = base
    return by_seed


def score_matrices(by_seed: dict[int, list[dict]], dev_ex: list[Example], task: TaskSpec) -> dict:
    """{(method, decoding): (question ids, (seeds, questions) per-question scores)} from the rows' answers, on
    the questions the row answered in every seed (all of them; lora-per-user: its few users')."""
    golds = {e.id: e.target for e in dev_ex}
    per_seed: dict[Key, list[dict[str, float]]] = {}
    for rows in by_seed.values():
        for row in rows:
            per_seed.setdefault((row["method"], row["decoding"]), []).append(
                question_scores(task, row["_answers"], golds)
            )
    out = {}
    for key, seeds in per_seed.items():
        ids = [i for i in golds if all(i in scores for scores in seeds)]
        if len(seeds) == len(by_seed) and ids:
            out[key] = (ids, np.array([[scores[i] for i in ids] for scores in seeds]))  # (S, Q)
    return out


def _paired(reference: tuple[list[str], np.ndarray], other: tuple[list[str], np.ndarray]) -> tuple[Interval, int]:
    """The reference's scores minus the other's on the questions both answered, and how many there are."""
    (ref_ids, ref), (ids, scores) = reference, other
    at, ref_at = {i: n for n, i in enumerate(ids)}, {i: n for n, i in enumerate(ref_ids)}
    common = [i for i in ref_ids if i in at]
    diff = paired_difference(ref[:, [ref_at[i] for i in common]], scores[:, [at[i] for i in common]])
    return diff, len(common)


def summarize(by_seed: dict[int, list[dict]], dev_ex: list[Example], task: TaskSpec) -> dict:
    """Per row: the mean over seeds and questions, its interval, each seed's mean, and PPlug minus this row."""
    matrices = score_matrices(by_seed, dev_ex, task)
    reference = matrices.get(REFERENCE)
    methods = []
    for (method, decoding), (ids, scores) in matrices.items():
        entry = {"method": method, "decoding": decoding, "questions": len(ids), **bootstrap_mean(scores).to_dict()}
        entry["per_seed"] = [round(float(m), 6) for m in scores.mean(axis=1)]
        if reference is not None and (method, decoding) != REFERENCE:
            diff, n = _paired(reference, (ids, scores))
            entry["pplug_minus_this"] = {**diff.to_dict(), "questions": n}
        methods.append(entry)
    return {
        "task": task.name,
        "metric": metric_keys(task)[0],
        "higher_is_better": higher_is_better(task),
        "seeds": list(by_seed),
        "questions": len(dev_ex),
        "interval": {"level": LEVEL, "replicates": REPLICATES, "rng_seed": RNG_SEED, "resampled": RESAMPLED},
        "reference": f"{REFERENCE[0]} ({REFERENCE[1]})",
        "methods": methods,
    }


# The paper's numbers (arXiv 2409.11901, FlanT5-XXL + BGE) in each task's first metric: accuracy, MAE (lower is
# better) or ROUGE-1.
TABLE_1 = "Table 1, test"  # task: (PPlug, BM25, Recency, Contriever), FlanT5-XXL, 4 retrieved items
PAPER_TABLE_1 = {
    "LaMP_1": (0.700, 0.626, 0.622, 0.636),
    "LaMP_2": (0.559, 0.387, 0.377, 0.396),
    "LaMP_3": (0.242, 0.298, 0.296, 0.299),
    "LaMP_4": (0.211, 0.186, 0.189, 0.183),
    "LaMP_5": (0.487, 0.477, 0.475, 0.483),
    "LaMP_7": (0.537, 0.446, 0.444, 0.440),
}
TABLE_3 = "Table 3, validation"  # task: (PPlug, without instruction, mean pooling, + 1 retrieved item)
PAPER_TABLE_3 = {
    "LaMP_1": (0.680, 0.679, 0.679, 0.687),
    "LaMP_2": (0.565, 0.551, 0.564, 0.545),
    "LaMP_3": (0.231, 0.230, 0.232, 0.215),
    "LaMP_4": (0.216, 0.214, 0.216, 0.220),
    "LaMP_5": (0.487, 0.485, 0.485, 0.498),
    "LaMP_7": (0.534, 0.530, 0.535, 0.547),
}


@dataclass(frozen=True)
class Claim:
    """'a beats b', with the paper's table and the columns of a and b in it."""

    text: str
    a: str
    b: str
    source: str
    table: dict
    columns: tuple[int, int]

    def paper(self, task: str) -> tuple[float, float] | None:
        """The paper's (a, b) values on this task, or None where its tables have no such task."""
        values = self.table.get(task)
        return (values[self.columns[0]], values[self.columns[1]]) if values else None


CLAIMS = (
    Claim("PPlug beats BM25 retrieval", "pplug", "bm25-k4", TABLE_1, PAPER_TABLE_1, (0, 1)),
    Claim("PPlug beats recency retrieval", "pplug", "recency-k4", TABLE_1, PAPER_TABLE_1, (0, 2)),
    Claim("PPlug beats dense retrieval (paper: Contriever)", "pplug", "dense-k4", TABLE_1, PAPER_TABLE_1, (0, 3)),
    Claim("input-aware aggregation beats mean pooling", "pplug", "pplug-mean-pooling", TABLE_3, PAPER_TABLE_3, (0, 2)),
    Claim("the instruction embedding helps", "pplug", "pplug-no-instruction", TABLE_3, PAPER_TABLE_3, (0, 1)),
    Claim("PPlug + retrieval beats PPlug", "pplug+retrieval", "pplug", TABLE_3, PAPER_TABLE_3, (3, 0)),
)


def measured_difference(summary: dict, a: str, b: str) -> Interval | None:
    """a minus b (generate rows) from the summary's PPlug pairings; None where a row was not run."""
    generate = [e for e in summary["methods"] if e["decoding"] == "generate"]
    paired = {e["method"]: e["pplug_minus_this"] for e in generate if "pplug_minus_this" in e}
    if a == REFERENCE[0] and b in paired:
        return Interval(paired[b]["mean"], paired[b]["low"], paired[b]["high"])
    if b == REFERENCE[0] and a in paired:
        return Interval(-paired[a]["mean"], -paired[a]["high"], -paired[a]["low"])
    return None


def claim_rows(summary: dict) -> list[dict]:
    """One row per claim: the paper's values, the measured difference with its interval, and the verdict."""
    rows = []
    for claim in CLAIMS:
        paper = claim.paper(summary["task"])
        diff = measured_difference(summary, claim.a, claim.b)
        row = {"claim": claim.text, "a": claim.a, "b": claim.b, "source": claim.source}
        row["paper"] = {"a": paper[0], "b": paper[1], "difference": round(paper[0] - paper[1], 3)} if paper else None
        row["measured"] = diff.to_dict() if diff else None
        row["verdict"] = verdict(diff, summary["higher_is_better"]) if diff else "not run"
        rows.append(row)
    return rows


def _signed(x: float, digits: int = 3) -> str:
    """+0.125, -0.020; never -0.000 (a negated 0)."""
    return f"{x + 0.0:+.{digits}f}"


def summary_markdown(summary: dict, level: int = 1) -> str:
    """summary.md: per row the mean, its interval, each seed's mean, and PPlug minus it with its interval."""
    metric, iv = summary["metric"], summary["interval"]
    better = "higher" if summary["higher_is_better"] else "lower"
    lines = [
        f"{'#' * level} {summary['task']}: {metric} over training seeds {', '.join(map(str, summary['seeds']))}",
        "",
        f"{summary['questions']} dev questions; {metric}: {better} is better. Mean over seeds and questions; "
        f"{iv['level']:.0%} interval by bootstrap ({iv['resampled']}; {iv['replicates']} replicates, rng seed "
        f"{iv['rng_seed']}). PPlug − method: the mean per-question difference on the same questions and seeds.",
        "",
        f"| method | decoding | {metric} | interval | per seed | PPlug − method | interval | questions |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in summary["methods"]:
        d = e.get("pplug_minus_this")
        paired = f"{_signed(d['mean'])} | [{_signed(d['low'])}, {_signed(d['high'])}]" if d else "— | —"
        seeds = " ".join(f"{m:.3f}" for m in e["per_seed"])
        lines.append(
            f"| {e['method']} | {e['decoding']} | {e['mean']:.3f} | [{e['low']:.3f}, {e['high']:.3f}] | {seeds} "
            f"| {paired} | {e['questions']} |"
        )
    return "\n".join(lines) + "\n"


def claims_markdown(summary: dict, rows: list[dict], level: int = 1) -> str:
    """claims.md: each claim of the paper's Tables 1 and 3 beside what this run measured."""
    metric, seeds = summary["metric"], ", ".join(map(str, summary["seeds"]))
    lines = [
        f"{'#' * level} The paper's claims on {summary['task']} ({metric}, training seeds {seeds})",
        "",
        f"Difference: a − b in {metric}, per question on the same questions and seeds, with its "
        f"{summary['interval']['level']:.0%} bootstrap interval. Verdict: holds here (the whole interval on the "
        "better side of 0), does not hold here (the whole interval on the worse side), cannot tell (0 inside it).",
        "",
        "| claim | a − b | paper: a, b (a − b) | measured a − b | interval | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        p, m = r["paper"], r["measured"]
        paper = f"{p['a']:.3f}, {p['b']:.3f} ({_signed(p['difference'])}), {r['source']}" if p else "not in the paper"
        measured = f"{_signed(m['mean'])} | [{_signed(m['low'])}, {_signed(m['high'])}]" if m else "— | —"
        lines.append(f"| {r['claim']} | {r['a']} − {r['b']} | {paper} | {measured} | {r['verdict']} |")
    return "\n".join(lines) + "\n"


def write_seed_reports(by_seed: dict[int, list[dict]], summary: dict, out: Path) -> list[dict]:
    """seeds.jsonl (one line per row and seed), summary.json, summary.md and claims.md in out; the claim rows."""
    out.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"seed": seed, **public(row)}) for seed, rows in by_seed.items() for row in rows]
    atomic_write_text(out / "seeds.jsonl", "\n".join(lines) + "\n")
    claims = claim_rows(summary)
    atomic_write_text(out / "summary.json", json.dumps({**summary, "claims": claims}, indent=1) + "\n")
    atomic_write_text(out / "summary.md", summary_markdown(summary))
    atomic_write_text(out / "claims.md", claims_markdown(summary, claims))
    return claims


def added_rows(recorded: dict, added: dict) -> list[dict]:
    """The rows a later run on the same seeds and questions adds to a recorded summary (at least one).

    Rows both runs have (PPlug's at least, which every other row is paired with) must be identical: mean,
    interval and per-seed means, since the summaries keep no per-question answers to compare.
    """
    for key in ("task", "seeds", "questions", "interval"):
        if recorded[key] != added[key]:
            raise InputError(f"the added run's {key} ({added[key]}) is not the recorded run's ({recorded[key]})")
    old = {(e["method"], e["decoding"]): e for e in recorded["methods"]}
    new = {(e["method"], e["decoding"]): e for e in added["methods"]}
    if REFERENCE not in new:
        raise InputError(f"the added run has no {REFERENCE[0]} ({REFERENCE[1]}) row to pair its rows with")
    for key in sorted(old.keys() & new.keys(), key=lambda k: (k != REFERENCE, k)):  # PPlug's first: it pairs the rest
        if old[key] != new[key]:
            raise InputError(
                f"{key[0]} ({key[1]}) does not reproduce the recorded run: per seed {new[key]['per_seed']} here, "
                f"{old[key]['per_seed']} recorded"
            )
    rows = [e for key, e in new.items() if key not in old]
    if not rows:
        raise InputError("the added run has no row that the recorded run lacks")
    return rows


def merge_summaries(recorded: dict, rows: list[dict]) -> dict:
    """The recorded summary with rows added (from added_rows), and its claims recomputed."""
    merged = {**recorded, "methods": recorded["methods"] + rows}
    return {**merged, "claims": claim_rows(merged)}
