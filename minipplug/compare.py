"""`minipplug compare`: every method side by side on one frozen LLM, with quality and cost."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .baselines import COMPARE_METHODS, check_method, method_examples, needs_training, predict_method, variant_config
from .config import PPlugConfig
from .data import Example, atomic_write_text, load_examples
from .metrics import metric_keys
from .plug import read_plug_config, trained_as
from .pipeline import PeakMemory, Stack, load_stack, markdown_table, open_plug, public, result_row, sample_paths, train
from .plots import plot_quality_cost
from .tasks import get_task


def decodings_for(task: str, method: str, pplug_rank: bool = False) -> list[str]:
    """Both decodings for the zero-shot and retrieval rows of classification tasks; generate otherwise."""
    if get_task(task).kind == "generation":
        return ["generate"]
    if needs_training(method) and not pplug_rank:
        return ["generate"]
    return ["generate", "rank"]


def run_compare(
    stack: Stack,
    train_ex: list[Example],
    dev_ex: list[Example],
    out: str | os.PathLike | None = None,
    methods: tuple[str, ...] | list[str] = COMPARE_METHODS,
    checkpoint: str | os.PathLike | None = None,
    pplug_rank: bool = False,
    progress: bool = True,
) -> list[dict]:
    """Train what needs training (or reuse a pplug checkpoint), evaluate every method on dev, write the results."""
    cfg, task = stack.cfg, stack.cfg.task
    out = Path(out) if out else None
    tok, window = stack.plm.tokenizer, cfg.max_input_tokens
    rows = []
    for method in [check_method(m) for m in methods]:
        if method == "lora-per-user":
            rows.extend(_lora_rows(stack, dev_ex, task, rows, progress))
            continue
        plug, train_seconds = None, None
        saved = out / "plugs" / method if out else None
        if needs_training(method):
            if method == "pplug" and checkpoint:
                plug = open_plug(stack, checkpoint)
            elif saved is not None and _reusable(saved, variant_config(cfg, method), method):
                # An earlier run (demo or compare) already trained this plug with the same config: reuse it.
                plug = open_plug(stack, saved)
                train_seconds = read_plug_config(saved).get("train_seconds")
                train_memory = float("nan")
            else:
                with PeakMemory() as mem:
                    result = train(stack, train_ex, None, method, out_dir=saved)
                plug, train_seconds = result.plug, result.seconds
                train_memory = mem.mb
        dev = method_examples(method, dev_ex, task, tok, window, stack.hist)
        for decoding in decodings_for(task, method, pplug_rank):
            row = result_row(stack, dev, task, predict_method(method), plug, decoding, progress=progress,
                             label=method, train_seconds=train_seconds)
            if train_seconds is not None and train_memory == train_memory:  # NaN: reused, not measured here
                row["train_peak_memory_mb"] = round(train_memory, 1)
            rows.append(row)
            if progress:
                print(json.dumps(public(row)), flush=True)
    if out:
        write_report(rows, out, task)
    return rows


def _lora_rows(stack: Stack, dev_ex: list[Example], task: str, rows: list[dict], progress: bool) -> list[dict]:
    """The lora-per-user row (a few users), with PPlug's score on exactly the same questions beside it."""
    from .lora_per_user import ITEM_PAIRS, lora_per_user_row
    from .metrics import score

    if get_task(task).name not in ITEM_PAIRS:
        if progress:
            print(f"lora-per-user: skipped ({task} profiles hold no input/output pairs to fine-tune on)")
        return []
    row = lora_per_user_row(stack.plm, dev_ex, task)
    key = metric_keys(task)[0]
    golds = {e.id: e.target for e in dev_ex if e.id in row["_answers"]}
    for r in rows:
        if r["method"] == "pplug" and r["decoding"] == "generate":
            row[f"pplug_{key}_same_examples"] = round(score(task, {i: r["_answers"][i] for i in golds}, golds)[key], 4)
    if progress:
        print(json.dumps(public(row)), flush=True)
    return [row]


def _reusable(folder: Path, cfg: PPlugConfig, method: str) -> bool:
    """Whether folder holds a plug trained for this method with the same config (progress aside)."""
    if not (folder / "plug_config.json").exists():
        return False
    info = read_plug_config(folder)
    saved = {k: v for k, v in info["config"].items() if k not in ("progress", "eval_batch_size", "decoding")}
    wanted = {k: v for k, v in cfg.to_dict().items() if k not in ("progress", "eval_batch_size", "decoding")}
    return saved == wanted and trained_as(info) == method


def write_report(rows: list[dict], out: Path, task: str) -> None:
    """results.json, results.md and quality_vs_cost.png in out."""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "results.json", json.dumps([public(r) for r in rows], indent=1) + "\n")
    atomic_write_text(out / "results.md", markdown_table(rows) + "\n")
    metric = metric_keys(task)[0]
    plot_quality_cost(rows, metric, title=f"{get_task(task).name}: {metric} against cost", path=out / "quality_vs_cost.png")


def compare_cli(args) -> int:
    """The `compare` sub-command."""
    from .commands import _config_from_args

    cfg = _config_from_args(args)
    if args.questions or args.outputs or args.train_questions:
        if not (args.questions and args.outputs):
            raise ValueError("--questions and --outputs (the dev set) go together")
        if any(needs_training(m) for m in args.methods) and not (args.train_questions and args.train_outputs):
            if not (args.checkpoint and all(m in ("pplug", "non-personalized") or not needs_training(m) for m in args.methods)):
                raise ValueError("methods that train need --train-questions and --train-outputs")
        dev_q, dev_o, tr_q, tr_o = args.questions, args.outputs, args.train_questions, args.train_outputs
    else:
        sample = {"LaMP_2": "lamp2_tags", "LaMP_3": "lamp3_ratings", "LaMP_7": "lamp7_style", "LaMP_4": "lamp4_sotu"}.get(cfg.task)
        if sample is None:
            raise ValueError(f"no bundled sample for {cfg.task}; pass --questions/--outputs and --train-questions/--train-outputs")
        paths = sample_paths(sample)
        dev_q, dev_o, tr_q, tr_o = paths["dev_questions"], paths["dev_outputs"], paths["train_questions"], paths["train_outputs"]
    dev_ex = load_examples(cfg.task, dev_q, dev_o)
    if cfg.max_dev_examples:
        dev_ex = dev_ex[: cfg.max_dev_examples]
    train_ex = load_examples(cfg.task, tr_q, tr_o) if tr_q else []
    t0 = time.perf_counter()
    stack = load_stack(cfg)
    rows = run_compare(stack, train_ex, dev_ex, Path(args.out), args.methods, args.checkpoint, args.pplug_rank, cfg.progress)
    print(markdown_table(rows))
    print(f"wrote {Path(args.out) / 'results.json'}, results.md and quality_vs_cost.png ({time.perf_counter() - t0:.0f} s)")
    return 0


def add_compare_command(sub) -> None:
    """Register `compare` on the CLI."""
    from .commands import _add_common, _add_sizes

    p = sub.add_parser("compare", help="train and evaluate every method side by side (quality and cost)")
    p.add_argument("--task", default="LaMP_2")
    p.add_argument("--questions", help="dev questions (default: the task's bundled sample)")
    p.add_argument("--outputs", help="dev outputs")
    p.add_argument("--train-questions")
    p.add_argument("--train-outputs")
    p.add_argument("--checkpoint", help="reuse this trained plug for the pplug row")
    p.add_argument("--out", default="runs/compare")
    p.add_argument("--methods", nargs="+", default=list(COMPARE_METHODS))
    p.add_argument("--pplug-rank", action="store_true", help="also score the PPlug rows with label ranking")
    _add_sizes(p)
    _add_common(p)
    p.set_defaults(func=compare_cli)
