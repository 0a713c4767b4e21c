"""Render the site's result tables from the committed result files (benchmarks/results/, data_samples/).

Every number in a results table on the site comes from a file through this script, never typed into a page.
A result file holds one JSON object per line, one per measured result; rows that share a ``run`` field are one
run, and a page shows every run of its file, newest (last in the file) first, each with its provenance. Adding
a measurement is appending rows: the next site build shows them.

    python docs/make_tables.py            # writes docs/_generated/*.md (the site build runs this itself)
    python docs/make_tables.py --readme   # also refreshes the demo and claim tables in README.md
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
OUT = Path(__file__).resolve().parent / "_generated"
sys.path.insert(0, str(ROOT))  # this checkout's minipplug: the presets table reads its config

from minipplug.atomic import atomic_write_text  # noqa: E402
from minipplug.config import PPlugConfig  # noqa: E402

README_START, README_END = "<!-- demo-table:start -->", "<!-- demo-table:end -->"
CLAIMS_START, CLAIMS_END = "<!-- claims-table:start -->", "<!-- claims-table:end -->"
SEEDS = RESULTS / "seeds"  # one folder per sample: a `compare --seeds` run recorded by benchmarks/record_seeds.py
PROVENANCE = ("command", "seed", "threads", "machine", "precision", "date", "source", "note")


def read_rows(path: Path) -> list[dict]:
    """The JSON objects of a JSON-lines file, in file order (blank lines skipped)."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [json.loads(line) for line in lines if line.strip()]


def runs(rows: list[dict]) -> list[list[dict]]:
    """Rows grouped by their ``run`` field, newest run (last appended) first."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(str(row.get("run", "")), []).append(row)
    return list(reversed(groups.values()))


def fmt(value: object, digits: int = 3) -> str:
    """A table cell: floats to `digits` decimals, None as empty, whole numbers as they are."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(header: list[str], body: list[list[str]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines) + "\n"


def provenance(row: dict) -> str:
    """One line saying how a run was measured, from its provenance fields."""
    parts = [f"{key}: {fmt(row[key])}" for key in PROVENANCE if row.get(key) not in (None, "")]
    parts = [p.replace("command: ", "command: `", 1) + "`" if p.startswith("command: ") else p for p in parts]
    return "; ".join(parts)


def run_sections(rows: list[dict], table: Callable[[list[dict]], str], empty: str) -> str:
    """Every run of a file as a titled table with its provenance, newest first."""
    if not rows:
        return f"*{empty}*\n"
    sections = []
    for run in runs(rows):
        title = run[0].get("run") or "run"
        sections.append(f"**{title}**\n\n{table(run)}\n<small>{provenance(run[0])}</small>\n")
    return "\n".join(sections)


# ---------------------------------------------------------------- method tables (demo, compare)

METRICS = {"accuracy": "accuracy", "f1": "macro-F1", "mae": "MAE", "rmse": "RMSE", "rouge-1": "ROUGE-1"}
METRICS |= {"rouge-L": "ROUGE-L"}


def method_table(run: list[dict]) -> str:
    """Rows of `minipplug demo` / `compare` results: method, decoding, metrics, prompt length, time."""
    metrics = [key for key in METRICS if any(key in row for row in run)]
    header = ["method", "decoding"] + [METRICS[k] for k in metrics] + ["prompt tokens", "s / example", "train s"]
    body = [
        [row["method"], row.get("decoding", "")]
        + [fmt(row.get(k)) for k in metrics]
        + [fmt(row.get("prompt_tokens_mean"), 1), fmt(row.get("seconds_per_example")), fmt(row.get("train_seconds"), 0)]
        for row in run
    ]
    return markdown_table(header, body)


def compare_page(rows: list[dict]) -> str:
    """`minipplug compare` runs, one section per task."""
    tasks = sorted({row["task"] for row in rows})
    parts = [
        f"#### {task}\n\n" + run_sections([r for r in rows if r["task"] == task], method_table, "") for task in tasks
    ]
    return "\n".join(parts) or "*No `minipplug compare` run of the current code is recorded yet.*\n"


def readme_demo_table(rows: list[dict]) -> str:
    """The README's demo table: the newest demo run, method and accuracy (cpu-auto: length chosen on training users)."""
    run = runs(rows)[0]
    body = [[row["method"], fmt(row["accuracy"]), fmt(row.get("train_seconds"), 0)] for row in run]
    return markdown_table(["method", "dev accuracy", "train s"], body)


# ---------------------------------------------------------------- the other result files


def simple_table(columns: list[tuple[str, str, int]]) -> Callable[[list[dict]], str]:
    """A table of (header, field, decimals) columns, one line per row."""

    def table(run: list[dict]) -> str:
        body = [[fmt(row.get(field), digits) for _, field, digits in columns] for row in run]
        return markdown_table([header for header, _, _ in columns], body)

    return table


def prompt_lengths_table(run: list[dict]) -> str:
    """Prompt lengths before and after the LaMP-exact prompt builder, with bm25-k4 / pplug (what the LLM reads)."""
    table = simple_table(
        [
            ("prompt", "prompt", 0),
            ("text tokens, before", "text_tokens_before", 1),
            ("text tokens, after", "text_tokens_after", 1),
            ("LLM reads, before", "llm_reads_before", 1),
            ("LLM reads, after", "llm_reads_after", 1),
        ]
    )(run)
    bm25 = [r for r in run if r["prompt"].startswith("bm25-k4")]
    plug = [r for r in run if "(pplug)" in r["prompt"]]
    if bm25 and plug:
        before = bm25[0]["llm_reads_before"] / plug[0]["llm_reads_before"]
        after = bm25[0]["llm_reads_after"] / plug[0]["llm_reads_after"]
        table += f"\nbm25-k4 / pplug, in tokens the LLM reads: {before:.2f} before, {after:.2f} after.\n"
    return table


def performance_table(run: list[dict]) -> str:
    """PPlug against the plain LLM, side by side, with their ratio."""
    body = []
    for row in run:
        ratio = row["pplug"] / row["plain_llm"] if row.get("plain_llm") else None
        unit = row.get("unit", "")
        cells = [f"{row[k]:g} {unit}" if row.get(k) is not None else "" for k in ("pplug", "plain_llm")]
        body.append([row["measure"], *cells, fmt(ratio, 2)])
    return markdown_table(["measure", "PPlug", "plain LLM", "ratio"], body)


def batched_generation_table(run: list[dict]) -> str:
    """Seconds per question at batch 1 and batched, with the speed-ups the benchmark printed."""
    body = [
        [
            row["llm"],
            fmt(row["batch_1_s"]),
            f"{fmt(row['batch_4_s'])} ({row['speedup_4']:.2f}x)",
            f"{fmt(row['batch_16_s'])} ({row['speedup_16']:.2f}x)",
            row["same_answers"],
        ]
        for row in run
    ]
    header = ["", "batch 1 s/question", "batch 4 s/question (speed-up)", "batch 16 s/question (speed-up)"]
    return markdown_table(header + ["same answers"], body)


def label_ranking_table(run: list[dict]) -> str:
    """Seconds per question of the previous ranking and of packed labels in batches, and whether they agree."""
    body = [
        [
            row["llm"],
            fmt(row["one_at_a_time_s"]),
            f"{fmt(row['packed_s'])} at batch {row['batch_size']} ({row['speedup']:.2f}x)",
            row["same_answers"],
            f"{row['max_score_difference']:.0e}",
        ]
        for row in run
    ]
    header = ["", "one at a time, labels over a copied KV cache: s/question", "packed labels: s/question (speed-up)"]
    return markdown_table(header + ["same answers", "largest score difference"], body)


def notebook_times_table(run: list[dict]) -> str:
    """Seconds per notebook and the series in all."""
    body = [[f"`{row['notebook']}.ipynb`", fmt(row["seconds"])] for row in run]
    total = sum(row["seconds"] for row in run)
    body.append(["**all six**", f"**{total} ({total // 60} min {total % 60} s)**"])
    return markdown_table(["notebook", "seconds"], body)


# ---------------------------------------------------------------- files written by the benchmarks themselves


def recipe_sweep_table(rows: list[dict]) -> str:
    """benchmarks/sweep_recipe.py's rows: PPlug with automatic length against its three controls.

    The file is append-only: a later row for the same dataset, recipe and seed supersedes an earlier one, which
    moves to a second table."""
    latest = {(r["dataset"], r["recipe"], r["seed"]): r for r in rows}
    current = list(latest.values())
    superseded = [r for r in rows if latest[(r["dataset"], r["recipe"], r["seed"])] is not r]
    out = _recipe_rows(current)
    return out + (
        f"\nSuperseded by a later row of the same dataset, recipe and seed:\n\n{_recipe_rows(superseded)}"
        if superseded
        else ""
    )


def _recipe_rows(rows: list[dict]) -> str:
    """One table line per sweep row."""
    header = ["dataset", "recipe", "seed", "metric", "pplug", "no-history", "swapped", "zero-shot", "oracle"]
    header += [
        "rules: input / vote / cued vote",
        "steps (kept)",
        "training s",
        "top answer share vs its gold share (pplug; control)",
    ]
    body = []
    for r in rows:
        task = r.get("task") or r["rows"][0]["task"]
        share = "(no labels)" if r.get("top_answer") is None else _shares(r)
        body.append(
            [f"{r['dataset']} ({task}, {r['train_examples']} / {r['dev_examples']})", r["recipe"], str(r["seed"])]
            + [r.get("metric", "accuracy")]
            + [fmt(r.get(k)) for k in ("pplug", "no_history", "swapped", "zero_shot", "oracle")]
            + [
                " / ".join(fmt(r.get(k)) for k in ("input_only", "majority_vote", "cued_vote"))
                if "cued_vote" in r
                else ""
            ]
            + [f"{r['steps']} ({r['kept_step']})", fmt(r["train_seconds"], 0), share]
        )
    return markdown_table(header, body)


def _shares(r: dict) -> str:
    """How concentrated the answers are, for the plug and for its control."""
    plug = f"{r['top_answer_share']:.3f} vs {r['gold_share_of_top_answer']:.3f} ('{r['top_answer']}')"
    ctrl = f"{r['control_top_answer_share']:.3f} vs {r['control_gold_share_of_top_answer']:.3f}"
    return f"{plug}; {ctrl} ('{r['control_top_answer']}')"


def scale_points(data: dict) -> list[dict]:
    """benchmarks/bench_scale.py's points."""
    return data["rows"]


def slope(points: list[dict]) -> float:
    """Least-squares slope of log(seconds) against log(x): how a stage grows with the data."""
    xs = [math.log(p["x"]) for p in points]
    ys = [math.log(p["seconds"]) for p in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def scale_tables(data: dict) -> str:
    """Every measured point, then each stage's growth exponent."""
    points = scale_points(data)
    body = [
        [p["stage"], p["scale"], f"{p['x']:,}", f"{p['seconds']:.3g}", f"{p['peak_mb_above_start']:.0f}"]
        for p in points
    ]
    out = markdown_table(["stage", "scale", "x (profile items)", "seconds", "peak MB above start"], body)
    stages = list(dict.fromkeys(p["stage"] for p in points))
    exps = [[s, f"{slope([p for p in points if p['stage'] == s]):.2f}"] for s in stages]
    return out + "\n" + markdown_table(["stage", "growth exponent (log-log slope)"], exps)


def samples_table() -> str:
    """The bundled samples' sizes, oracle and best-from-the-input, from each folder's summary.json."""
    body = []
    for summary in sorted((ROOT / "data_samples").glob("*/summary.json")):
        s = json.loads(summary.read_text(encoding="utf-8"))
        oracle = ", ".join(f"{k} {fmt(v)}" for k, v in (s.get("dev_oracle") or {}).items())
        if not oracle and s.get("dev_reference_next_sentence"):
            ref = ", ".join(f"{k} {fmt(v)}" for k, v in s["dev_reference_next_sentence"].items())
            oracle = f"none planted (next-sentence reference: {ref})"
        alone = ", ".join(f"{k} {fmt(v)}" for k, v in (s.get("dev_input_only_best") or {}).items() if k != "note")
        expected = {k: v for k, v in (s.get("dev_input_only_expected") or {}).items() if k != "note"}
        if alone and expected:
            alone += " (expected " + ", ".join(f"{k} {fmt(v)}" for k, v in expected.items()) + ")"
        train = f"{s['train_examples']} ({s['train_users']})"
        dev = f"{s['dev_examples']} ({s['dev_users']})"
        body.append([f"`{s['name']}`", s["task"], train, dev, fmt(s["train_profile_items_mean"], 1), oracle, alone])
    header = ["folder", "format", "train examples (users)", "dev examples (users)", "mean profile items (train)"]
    return markdown_table(header + ["dev oracle", "best from the input alone"], body)


def preset_table(why: dict[str, str]) -> str:
    """Every field where `paper` differs from `cpu-fast`, read from the presets themselves, with the reason."""
    fast, paper = PPlugConfig.preset("cpu-fast"), PPlugConfig.preset("paper")
    body = [
        [f"`{name}`", f"`{getattr(fast, name)!r}`", f"`{getattr(paper, name)!r}`", why.get(name, "")]
        for name in fast.__dataclass_fields__
        if getattr(fast, name) != getattr(paper, name)
    ]
    return markdown_table(["field", "`cpu-fast`", "`paper`", "why cpu-fast differs"], body)


PRESET_WHY = {
    "llm": "runs offline on 2 CPU cores; the paper's FlanT5-XXL (11B) needs ~23 GB in bf16, so `paper` takes XL",
    "encoder": "an offline wheel, 5x smaller than BGE-base",
    "query_instruction": "MiniLM has no query instruction (BGE's goes before queries only)",
    "n_instruction_tokens": "more room in a 576-d embedding space, for 6 extra prompt tokens in all",
    "n_user_tokens": "as above",
    "temperature": "cosines lie in [-1, 1]: at tau = 1 the softmax over 15 items is nearly uniform",
    "soft_position": "the first position of a decoder-only LLM is an attention sink; the same for FlanT5",
    "lr": "45 steps: the randomly initialised MLPs need a larger step",
    "encoder_lr": "the pretrained input encoder is fine-tuned, not overwritten",
    "epochs": "keeps the demo near 10 minutes (`paper`: 2, LaMP_3: 1)",
    "grad_accum": "8 x 8 = the paper's batch of 64; 45 steps of 8 cover the 360-example sample",
    "num_beams": "greedy decoding: 4x less generation time on a CPU",
    "eval_batch_size": "memory on a laptop",
}


# ---------------------------------------------------------------- three training seeds (compare --seeds)


def seed_summaries(folder: Path | None = None) -> dict[str, dict]:
    """sample -> its recorded summary.json (with the paper's claims and the run's provenance), by name."""
    paths = sorted((folder or SEEDS).glob("*/summary.json"))
    return {p.parent.name: json.loads(p.read_text(encoding="utf-8")) for p in paths}


def seeds_page(summaries: dict[str, dict]) -> str:
    """Per sample: its provenance, every row with its interval and PPlug's paired difference, then the claims."""
    from minipplug.engine.seeds import claims_markdown, summary_markdown

    if not summaries:
        return "*No `minipplug compare --seeds` run is recorded yet.*\n"
    parts = []
    for sample, summary in summaries.items():
        runs = [summary["provenance"], *summary["provenance"].get("added", [])]  # the first run, then added rows
        where = "<br>".join(
            ("" if n == 0 else f"added {', '.join(run['methods'])}: ")
            + provenance(run)
            + f"; wall time: {run['wall_seconds']} s"
            for n, run in enumerate(runs)
        )
        parts.append(f"#### `{sample}`\n\n<small>{where}</small>\n")
        parts.append(summary_markdown(summary, level=5))
        parts.append(claims_markdown(summary, summary["claims"], level=5))
    return "\n".join(parts)


def interval_cell(measured: dict | None, verdict: str) -> str:
    """'+0.208 [+0.14, +0.28] holds here' (a - b, its 95% interval, the verdict), or the verdict alone."""
    if measured is None:
        return verdict
    mean, lo, hi = (round(measured[k], d) + 0.0 for k, d in (("mean", 3), ("low", 2), ("high", 2)))  # no '-0.00'
    return f"{mean:+.3f} [{lo:+.2f}, {hi:+.2f}] {verdict}"


def readme_claims_table(summaries: dict[str, dict]) -> str:
    """The README's claim table: each claim, the paper's a - b, and per sample the measured a - b and verdict."""
    first = next(iter(summaries.values()))
    header = ["claim (a − b)", "paper"] + [f"`{name}`: a − b [95%], verdict" for name in summaries]
    body = []
    for n, claim in enumerate(first["claims"]):
        paper = claim["paper"]
        cells = [interval_cell(s["claims"][n]["measured"], s["claims"][n]["verdict"]) for s in summaries.values()]
        body.append([f"{claim['claim']} ({claim['a']} − {claim['b']})", fmt(paper and paper["difference"])] + cells)
    return markdown_table(header, body)


# ---------------------------------------------------------------- the pages' tables


def tables() -> dict[str, str]:
    """name -> markdown, one per docs/_generated/<name>.md."""
    rows = {name: read_rows(RESULTS / f"{name}.jsonl") for name in RESULT_FILES}
    return {
        "demo": run_sections(rows["demo"], method_table, "no demo run recorded"),
        "compare": compare_page(rows["compare"]),
        "personalization": run_sections(rows["personalization"], PERSONALIZATION, "no run recorded"),
        "notebook_times": run_sections(rows["notebook_times"], notebook_times_table, "no run recorded"),
        "cpu_preset_sweep": run_sections(rows["cpu_preset_sweep"], CPU_SWEEP, "no run recorded"),
        "sweep_recipe": recipe_sweep_table(rows["sweep_recipe"]),
        "prompt_lengths": run_sections(rows["prompt_lengths"], prompt_lengths_table, "no run recorded"),
        "performance": run_sections(rows["performance"], performance_table, "no run recorded"),
        "precision": run_sections(rows["precision"], PRECISION, "no run recorded"),
        "batched_generation": run_sections(rows["batched_generation"], batched_generation_table, "no run recorded"),
        "label_ranking": run_sections(rows["label_ranking"], label_ranking_table, "no run recorded"),
        "answer_precision": run_sections(rows["answer_precision"], ANSWER_PRECISION, "no run recorded"),
        "scale": scale_tables(json.loads((RESULTS / "scale.json").read_text(encoding="utf-8"))),
        "samples": samples_table(),
        "seeds": seeds_page(seed_summaries()),
        "presets": preset_table(PRESET_WHY),
    }


RESULT_FILES = (
    "demo",
    "compare",
    "personalization",
    "notebook_times",
    "cpu_preset_sweep",
    "sweep_recipe",
    "prompt_lengths",
    "performance",
    "precision",
    "batched_generation",
    "label_ranking",
    "answer_precision",
)
PERSONALIZATION = simple_table(
    [("history the plug reads", "history", 0), ("dev accuracy", "accuracy", 3), ("training s", "train_seconds", 0)]
)
ANSWER_PRECISION = simple_table(
    [
        ("method", "method", 0),
        ("decoding", "decoding", 0),
        ("fp32: s/question", "fp32_seconds_per_question", 3),
        ("bf16: s/question", "bf16_seconds_per_question", 3),
        ("speed-up", "speedup", 2),
        ("fp32 accuracy", "fp32_accuracy", 3),
        ("bf16 accuracy", "bf16_accuracy", 3),
        ("same answers (of 120)", "same_answers", 0),
    ]
)
CPU_SWEEP = simple_table([("run (45 steps, batch 8, seed 0)", "change", 0), ("dev accuracy", "accuracy", 3)])
PRECISION = simple_table(
    [
        ("precision", "precision", 0),
        ("s / training step", "step_seconds", 2),
        ("loss at the same weights", "loss_same_weights", 4),
        ("dev accuracy after 45 steps", "dev_accuracy", 3),
        ("final training loss", "final_train_loss", 3),
        ("most frequent answer's share", "top_answer_share", 2),
    ]
)


def replace_block(text: str, start: str, end: str, table: str) -> str:
    """text with the table between its start and end markers replaced."""
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{table}{end}{tail}"


def write_readme(readme: Path, rows: list[dict], summaries: dict[str, dict]) -> bool:
    """Refresh the README's marked tables: the newest demo run and the claims; True when the file changed."""
    text = readme.read_text(encoding="utf-8")
    new = replace_block(text, README_START, README_END, readme_demo_table(rows))
    if summaries:
        new = replace_block(new, CLAIMS_START, CLAIMS_END, readme_claims_table(summaries))
    if new != text:
        atomic_write_text(readme, new)
    return new != text


def write_tables(out: Path = OUT) -> list[Path]:
    """Write every table to out/<name>.md (only files whose text changed, so Sphinx rebuilds only those pages)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in tables().items():
        path = out / f"{name}.md"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            atomic_write_text(path, text)
        written.append(path)
    return written


def main() -> None:
    """Command line: write the tables (and with --readme the README's demo and claim tables)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", action="store_true", help="also refresh the demo and claim tables in README.md")
    args = parser.parse_args()
    for path in write_tables():
        print(path.relative_to(ROOT))
    if args.readme and write_readme(ROOT / "README.md", read_rows(RESULTS / "demo.jsonl"), seed_summaries()):
        print("README.md: demo and claim tables refreshed")


if __name__ == "__main__":
    main()
