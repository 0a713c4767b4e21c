"""`minipplug compare`: every method side by side on one frozen LLM, then the quality-against-cost plot."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import PRESETS, PPlugConfig
from ..errors import InputError
from ..lamp.data import load_examples
from ..lamp.samples import sample_paths
from ..lamp.tasks import TaskSpec, get_task
from .args import TRAIN_MINUTES, add_common, add_length_args, add_sizes, apply_threads, auto_length, run_config

if TYPE_CHECKING:
    from ..engine.methods import Method
    from ..engine.stack import Stack

# Fields the comparison's LLM and encoders apply to every plug, a reused one included (the plug's own fields,
# such as its temperature or its number of soft tokens, travel inside the checkpoint).
STACK_FIELDS = ("llm", "encoder", "soft_position", "chat_template", "max_input_tokens", "max_history")


def check_checkpoint_fits(ckpt: str, cfg: PPlugConfig) -> None:
    """Refuse a --checkpoint whose LLM-side settings differ from the comparison's, naming a preset that fits."""
    from ..model.plug import read_plug_config  # torch: loaded only when a command needs it

    saved = read_plug_config(ckpt)["config"]
    differ = [k for k in STACK_FIELDS if k in saved and saved[k] != getattr(cfg, k)]
    if not differ:
        return
    fits = [n for n in PRESETS if all(getattr(PPlugConfig.preset(n), k) == saved[k] for k in differ)]
    hint = f"--preset {fits[0]}" if fits else "a --config with these values"
    raise InputError(
        f"{ckpt}: trained with {', '.join(f'{k}={saved[k]!r}' for k in differ)}, but this comparison runs "
        f"{', '.join(f'{k}={getattr(cfg, k)!r}' for k in differ)}; give {hint}"
    )


def compare_files(args: argparse.Namespace, task: TaskSpec, methods: list[Method]) -> tuple:
    """(dev questions, dev outputs, train questions, train outputs): the files given, else the task's sample."""
    if args.questions or args.outputs or args.train_questions:
        if not (args.questions and args.outputs):
            raise InputError("--questions and --outputs (the dev set) go together")
        reused = "pplug" if args.checkpoint else None  # the pplug rows then run --checkpoint: nothing to train
        own_plug = [m for m in methods if m.plug_method and m.plug_method != reused]
        if own_plug and not (args.train_questions and args.train_outputs):
            raise InputError(f"{own_plug[0].name} trains a plug: give --train-questions and --train-outputs")
        return args.questions, args.outputs, args.train_questions, args.train_outputs
    if task.sample is None:
        raise InputError(
            f"no bundled sample for {task.name}; pass --questions/--outputs and --train-questions/--train-outputs"
        )
    paths = sample_paths(task.sample)
    return paths["dev_questions"], paths["dev_outputs"], paths["train_questions"], paths["train_outputs"]


def parse_seeds(texts: list[str] | None) -> list[int] | None:
    """--seeds as distinct whole numbers >= 0, in the order given; a bad value is one line naming it."""
    if texts is None:
        return None
    seeds = []
    for text in texts:
        if not text.strip().isdigit():
            raise InputError(f"--seeds: '{text}' is not a seed; give distinct whole numbers >= 0, e.g. --seeds 0 1 2")
        if int(text) in seeds:
            raise InputError(f"--seeds: seed {int(text)} is given twice; each seed trains once")
        seeds.append(int(text))
    return seeds


def check_seeds_args(args: argparse.Namespace, seeds: list[int] | None) -> None:
    """Refuse --seeds beside a flag it replaces, before any model loads."""
    if seeds is None:
        return
    if args.seed is not None:
        raise InputError("--seed and --seeds go apart: --seeds 0 1 2 runs each seed in turn")
    if args.checkpoint:
        raise InputError("--checkpoint is one trained pplug; --seeds trains pplug once per seed: give one of them")


def plot_rows(rows: list[dict], task: TaskSpec, folder: Path) -> None:
    """quality_vs_cost.png of one comparison."""
    from ..course.plots import plot_quality_cost
    from ..lamp.metrics import metric_keys

    metric = metric_keys(task)[0]
    plot_quality_cost(rows, metric, title=f"{task.name}: {metric} against cost", path=folder / "quality_vs_cost.png")


def _compare_seeds(stack: Stack, train_ex: list, dev_ex: list, seeds: list[int], out: Path, run: dict) -> None:
    """--seeds: one comparison per seed in out/seed<N>, then seeds.jsonl, summary.*, claims.md."""
    from ..course.plots import plot_seed_summary
    from ..engine.seeds import run_seeds, summarize, write_seed_reports

    by_seed = run_seeds(stack, train_ex, dev_ex, seeds, out, **run)
    for seed, rows in by_seed.items():
        plot_rows(rows, stack.task, out / f"seed{seed}")
    summary = summarize(by_seed, dev_ex, stack.task)
    write_seed_reports(by_seed, summary, out)
    plot_seed_summary(summary, path=out / "summary.png")
    print((out / "summary.md").read_text() + "\n" + (out / "claims.md").read_text())
    print(f"wrote {out / 'seeds.jsonl'}, summary.json, summary.md, summary.png and claims.md", end=" ")


def _cmd_compare(args: argparse.Namespace) -> int:
    from ..engine.compare import run_compare
    from ..engine.methods import get_method
    from ..engine.report import markdown_table
    from ..engine.stack import load_stack

    seeds = parse_seeds(args.seeds)
    check_seeds_args(args, seeds)
    cfg, preset, given = run_config(args)
    if args.checkpoint:
        check_checkpoint_fits(args.checkpoint, cfg)
    methods = [get_method(m) for m in args.methods]
    task = get_task(cfg.task)
    dev_q, dev_o, train_q, train_o = compare_files(args, task, methods)
    dev_ex = load_examples(task, dev_q, dev_o)
    if cfg.max_dev_examples:
        dev_ex = dev_ex[: cfg.max_dev_examples]
    train_ex = load_examples(task, train_q, train_o) if train_q else []
    t0 = time.perf_counter()
    apply_threads()
    stack = load_stack(cfg)
    out = Path(args.out)
    auto = auto_length(args, cfg, preset, given)  # cpu-auto without --epochs: each plug's length, as train
    run = dict(methods=methods, pplug_rank=args.pplug_rank, progress=cfg.progress, auto=auto)
    if seeds is not None:
        _compare_seeds(stack, train_ex, dev_ex, seeds, out, run)
    else:
        rows = run_compare(stack, train_ex, dev_ex, out=out, checkpoint=args.checkpoint, **run)
        plot_rows(rows, task, out)
        print(markdown_table(rows))
        print(f"wrote {out / 'results.json'}, results.md and quality_vs_cost.png", end=" ")
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0


def add_compare_command(sub) -> None:
    """Register `compare` on the CLI."""
    from ..engine.methods import COMPARE_METHODS, method_help

    p = sub.add_parser("compare", help="train and evaluate every method side by side (quality and cost)")
    p.add_argument("--task", default="LaMP_2")
    p.add_argument("--questions", help="dev questions (default: the task's bundled sample)")
    p.add_argument("--outputs", help="dev outputs")
    p.add_argument("--train-questions")
    p.add_argument("--train-outputs")
    p.add_argument("--checkpoint", help="reuse this trained plug for the pplug rows")
    p.add_argument("--out", default="runs/compare")
    p.add_argument("--methods", nargs="+", default=list(COMPARE_METHODS), help=method_help())
    p.add_argument("--pplug-rank", action="store_true", help="also score the PPlug rows with label ranking")
    p.add_argument(
        "--seeds",
        nargs="+",
        metavar="SEED",
        help="train and score every method once per seed (each in --out/seed<N>), then write seeds.jsonl, "
        "summary.json/.md/.png (means with 95%% intervals over seeds and questions, PPlug paired with each row) "
        "and claims.md (the paper's claims against them)",
    )
    add_sizes(p)
    add_length_args(p, max_minutes=TRAIN_MINUTES)
    add_common(p)
    p.set_defaults(func=_cmd_compare)
