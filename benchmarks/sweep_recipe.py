"""Does a training recipe learn on LaMP_2-format data it was NOT tuned on?

Datasets (written into a temporary folder, or --data-dir; every one seeded and byte-identical on re-runs):
tags-s1 and tags-s2 (the bundled lamp2_tags generator re-run with seeds 1 and 2); four held-out LaMP_2 designs
(minipplug/lamp/samples/heldout.py): hard-s0 (2-3 favourite tags in priority order, 10% label noise),
ranked3-time-s0 (three cued tags, a full private ranking, dev = later questions of the training users), long-s0
(hard-s0's users with 80-150 profile items), noisy-s0 (one favourite, 25% label noise); the bundled LaMP_3 and
LaMP_7 samples (lamp3-s0, lamp7-s0: other tasks, never used for tuning) and, on request only, tags-s0 (the
bundled data the CPU preset was tuned on).

For each dataset x recipe x seed:
- pplug, trained with automatic length (engine.autostop: 15% of the training users held out, validation answer
  loss twice per epoch, patience 3, caps 8 epochs / 20 minutes, best plug kept);
- the pplug-no-history control, trained on the same users (the training file minus the same validation users)
  for the same number of optimizer steps as the pplug run took (a fixed epoch count computed from them; its
  learning-rate schedule therefore spans its own steps, not the 8-epoch cap);
- the dev score in the task's first official metric (accuracy, MAE or ROUGE-1; the dev split is never used for
  a choice): pplug, pplug-no-history, pplug-swapped-history (the same plug, each dev user answered with
  another dev user's history, a seeded derangement), zero-shot
  (non-personalized, with --zero-shot) and the oracle from the dataset's summary.json; the number of steps,
  the training seconds and the share of the most frequent predicted label against that label's share of gold
  (a collapsed plug answers one label far more often than gold holds it).

    python benchmarks/sweep_recipe.py --help
    python benchmarks/sweep_recipe.py --quick                  # smoke test: one tiny run (minutes on a CPU)
    python benchmarks/sweep_recipe.py --zero-shot              # the full table (hours on 2 CPU cores)
    python benchmarks/sweep_recipe.py --datasets tags-s1 hard-s0 --recipes cpu-auto --seeds 0 1

Prints one JSON line per row (also appended to --out) and a markdown table at the end. MINIPPLUG_THREADS=1 sets
torch's CPU threads, as for the CLI.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import tempfile
import time
from collections import Counter
from pathlib import Path

import torch

from minipplug.cli.args import apply_threads
from minipplug.config import PRESETS, PPlugConfig
from minipplug.engine.autostop import AutoLength, split_validation_users
from minipplug.engine.methods import get_method, method_examples
from minipplug.engine.report import public, result_row
from minipplug.engine.stack import load_stack
from minipplug.engine.train import cpu_has_bf16, pick_precision, train
from minipplug.lamp.data import load_examples, spread
from minipplug.lamp.metrics import metric_keys
from minipplug.lamp.samples import make_samples, sample_paths
from minipplug.lamp.samples.heldout import make_heldout_sample

ROOT = Path(__file__).resolve().parent.parent
HELD_OUT = {  # dataset -> held-out LaMP_2 design (minipplug/lamp/samples/heldout.py), generated with seed 0
    "hard-s0": "lamp2_hard",
    "ranked3-time-s0": "lamp2_ranked3_time",
    "long-s0": "lamp2_long",
    "noisy-s0": "lamp2_noisy",
}
DATASETS = ("tags-s1", "tags-s2", *HELD_OUT, "lamp3-s0", "lamp7-s0", "tags-s0")
BUNDLED = {  # dataset -> (task, bundled sample)
    "tags-s0": ("LaMP_2", "lamp2_tags"),
    "lamp3-s0": ("LaMP_3", "lamp3_ratings"),
    "lamp7-s0": ("LaMP_7", "lamp7_style"),
}


def task_of(name: str) -> str:
    """The LaMP task of a dataset (every generated one is LaMP_2-format)."""
    return BUNDLED[name][0] if name in BUNDLED else "LaMP_2"


# Recipes are presets. Precision stays "auto": bf16 autocast on CPUs with native bf16, fp32 elsewhere.
RECIPES = {
    "cpu-fast": PRESETS["cpu-fast"].fields,  # the demo's settings (the dataclass defaults), tuned on tags-s0
    "cpu-auto": PRESETS[
        "cpu-auto"
    ].fields,  # train's default: soft tokens at position 0, tau 0.05, lr 3e-3, frozen Enc_input
    "cpu-auto-input": {
        **PRESETS["cpu-auto"].fields,
        "soft_position": "input",
    },  # the same, soft tokens right before the input
    "cpu-auto-encoder": {**PRESETS["cpu-auto"].fields, "train_input_encoder": True},  # Enc_input trained (paper)
    "cpu-auto-tau1": {**PRESETS["cpu-auto"].fields, "temperature": 1.0},  # attention without temperature (paper)
    "cpu-auto-16user": {**PRESETS["cpu-auto"].fields, "n_user_tokens": 16},  # 16 user soft tokens instead of 4
}
SHOWN = (
    "soft_position",
    "temperature",
    "lr",
    "train_input_encoder",
    "n_user_tokens",
    "precision",
)  # the config fields a row shows


def dataset_folder(name: str, data_dir: Path) -> Path:
    """The dataset's folder, generated on first use (tags-s0, lamp3-s0 and lamp7-s0 are bundled samples)."""
    if name in BUNDLED:
        return sample_paths(BUNDLED[name][1])["dev_questions"].parent
    if name.startswith("tags-s"):
        seed = int(name.removeprefix("tags-s"))
        folder = data_dir / f"seed{seed}" / "lamp2_tags"
        if not (folder / "summary.json").exists():
            make_samples(data_dir / f"seed{seed}", seed=seed, names=["lamp2_tags"])
        return folder
    if name in HELD_OUT:
        folder = data_dir / "heldout" / HELD_OUT[name]
        if not (folder / "summary.json").exists():
            make_heldout_sample(data_dir / "heldout", HELD_OUT[name], seed=0)
        return folder
    raise SystemExit(f"unknown dataset '{name}'; known: {', '.join(DATASETS)}")


def load(task: str, folder: Path, split: str):
    return load_examples(task, folder / f"{split}_questions.json", folder / f"{split}_outputs.json")


def oracle(folder: Path, metric: str) -> float | None:
    """The dev oracle's score summary.json reports (samples: dev_oracle[metric]; held out: dev_oracle_accuracy)."""
    s = json.loads((folder / "summary.json").read_text())
    v = s.get("dev_oracle", s.get("dev_oracle_accuracy"))
    return v.get(metric) if isinstance(v, dict) else v


RULE_FIELDS = {  # summary.json field -> row field: the one-line rules of a held-out design
    "dev_input_only_best": "input_only",
    "dev_majority_vote_accuracy": "majority_vote",
    "dev_cued_vote_accuracy": "cued_vote",
}


def rule_scores(folder: Path) -> dict[str, float]:
    """The one-line rules' dev accuracy a held-out design's summary.json records (none for the samples)."""
    s = json.loads((folder / "summary.json").read_text())
    return {short: s[key] for key, short in RULE_FIELDS.items() if key in s}


def epochs_for(steps: int, n_examples: int, cfg: PPlugConfig) -> float:
    """An epoch count that makes train run exactly `steps` optimizer steps on n_examples."""
    per_epoch = math.ceil(n_examples / (cfg.batch_size * cfg.grad_accum))
    epochs = max(steps, 1) / per_epoch
    while math.ceil(per_epoch * epochs) > max(steps, 1):  # float rounding must not add a step
        epochs = math.nextafter(epochs, 0.0)
    return epochs


def share_of_top(row: dict, examples) -> tuple[str | None, float | None, float | None]:
    """(top answer, its share of the answers, its share of gold); None for tasks without labels."""
    if "top_answer" not in row:
        return None, None, None
    answers = [a.strip() for a in row["_answers"].values()]
    label, n = Counter(answers).most_common(1)[0]
    return label, n / len(answers), sum(e.target == label for e in examples) / len(examples)


def run(stack, folder: Path, name: str, recipe: str, seed: int, args) -> dict:
    task = task_of(name)
    cfg = PPlugConfig(progress=False, seed=seed, task=task).replace(**RECIPES[recipe])
    stack.cfg = cfg
    stack.plm.soft_position = cfg.soft_position
    metric = metric_keys(task)[0]
    train_ex = spread(load(task, folder, "train"), args.max_train)
    dev = spread(load(task, folder, "dev"), args.dev)
    auto = AutoLength(
        share=args.validation_share,
        every=args.every,
        patience=args.patience,
        max_epochs=args.max_epochs,
        max_seconds=60 * args.max_minutes,
    )
    tok, window = stack.plm.tokenizer, cfg.max_input_tokens

    res = train(stack, train_ex, None, "pplug", cfg=cfg, auto=auto)
    stop = res.autostop
    # The control: the same users (train() held out these validation users), as many steps as pplug took.
    fit, _ = split_validation_users(train_ex, auto.share, cfg.seed)
    ctrl_cfg = cfg.replace(epochs=epochs_for(res.steps, len(fit) * (1 + cfg.history_dropout_copies), cfg))
    ctrl = train(stack, fit, None, "pplug-no-history", cfg=ctrl_cfg)

    def evaluate(name: str, plug) -> dict:
        method = get_method(name)
        reads = dict(tokenizer=tok, max_input_tokens=window, hist=stack.hist, seed=seed)
        examples = method_examples(method, dev, stack.task, **reads)
        return result_row(stack, examples, method, plug=plug, decoding=args.decoding, progress=False)

    rows = {
        "pplug": evaluate("pplug", res.plug),
        "no_history": evaluate("pplug-no-history", ctrl.plug),
        "swapped": evaluate("pplug-swapped-history", res.plug),
    }
    if args.zero_shot:
        rows["zero_shot"] = evaluate("non-personalized", None)
    out = dict(dataset=name, task=task, metric=metric, recipe=recipe, seed=seed)
    out.update({k: r[metric] for k, r in rows.items()})
    label, share, gold = share_of_top(rows["pplug"], dev)
    c_label, c_share, c_gold = share_of_top(rows["no_history"], dev)
    out.update(
        oracle=oracle(folder, metric),
        **rule_scores(folder),
        steps=res.steps,
        kept_step=stop.best_step,
        control_steps=ctrl.steps,
        train_seconds=round(res.seconds, 1),
        control_train_seconds=round(ctrl.seconds, 1),
        top_answer=label,
        top_answer_share=None if share is None else round(share, 3),
        gold_share_of_top_answer=None if gold is None else round(gold, 3),
        control_top_answer=c_label,
        control_top_answer_share=None if c_share is None else round(c_share, 3),
        control_gold_share_of_top_answer=None if c_gold is None else round(c_gold, 3),
        top_gold_share=rows["pplug"].get("top_gold_share"),
        autostop=stop.summary(),
        validation_checks=[{"step": st, "loss": round(v, 4)} for st, v, _ in stop.checks],
        train_examples=len(train_ex),
        dev_examples=len(dev),
        config={k: v for k, v in cfg.training_fields().items() if k in SHOWN},
        rows=[public(r) for r in rows.values()],
    )
    return out


def machine() -> str:
    """What ran the row: the CPU's architecture, torch threads, native bf16 and the precision it trained in."""
    bf16 = cpu_has_bf16() if not torch.cuda.is_available() else None
    precision = {"no": "fp32"}.get(pick_precision(PPlugConfig()), "bf16 autocast")
    return f"{platform.machine()}, {torch.get_num_threads()} torch threads, native bf16: {bf16}, ran {precision}"


def table(rows: list[dict]) -> str:
    head = ["dataset", "recipe", "seed", "metric", "pplug", "no-history", "swapped", "zero-shot", "oracle", "steps"]
    head += ["training s", "top answer share vs gold share (pplug; control)"]
    fmt = lambda v: "" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["dataset"], r["recipe"], r["seed"], r.get("metric", "accuracy")]
        cells += [r["pplug"], r["no_history"], r["swapped"], r.get("zero_shot")]
        cells += [r["oracle"], f"{r['steps']} (kept {r['kept_step']}; control {r['control_steps']})"]
        cells += [f"{r['train_seconds']:.0f}"]
        if r["top_answer_share"] is None:
            cells.append("(no labels)")
        else:
            cells += [
                f"{r['top_answer_share']:.3f} vs {r['gold_share_of_top_answer']:.3f} ('{r['top_answer']}'); "
                f"{r['control_top_answer_share']:.3f} vs {r['control_gold_share_of_top_answer']:.3f} "
                f"('{r['control_top_answer']}')"
            ]
        lines.append("| " + " | ".join(fmt(c) for c in cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=["tags-s1", "tags-s2", "hard-s0"], choices=DATASETS)
    ap.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--max-train", type=int, default=0, help="training questions, spread over users (0: all)")
    ap.add_argument("--dev", type=int, default=0, help="dev questions, spread over users (0: all)")
    ap.add_argument("--validation-share", type=float, default=0.15, help="of the training users held out")
    ap.add_argument("--every", type=int, default=0, help="steps between validation checks (0: twice per epoch)")
    ap.add_argument("--patience", type=int, default=3)
    ap.add_argument("--max-epochs", type=float, default=8.0)
    ap.add_argument("--max-minutes", type=float, default=20.0)
    ap.add_argument("--decoding", choices=["generate", "rank"], default="generate")
    ap.add_argument("--zero-shot", action="store_true", help="also the frozen LLM alone (non-personalized)")
    ap.add_argument("--data-dir", help="where the datasets are generated (default: a temporary folder)")
    ap.add_argument("--out", default=str(ROOT / "runs" / "sweep_recipe.jsonl"), help="JSON lines, appended")
    ap.add_argument(
        "--quick", action="store_true", help="smoke test: tags-s1, cpu-auto, seed 0, 64 train / 40 dev, 2 epochs"
    )
    args = ap.parse_args()
    if args.quick:
        args.datasets, args.recipes, args.seeds = ["tags-s1"], ["cpu-auto"], [0]
        args.max_train, args.dev, args.max_epochs, args.max_minutes = 64, 40, 2.0, 10.0
    apply_threads()
    with tempfile.TemporaryDirectory(prefix="sweep_recipe_") as tmp:
        data_dir = Path(args.data_dir or tmp)
        folders = {name: dataset_folder(name, data_dir) for name in args.datasets}
        stack = load_stack(PPlugConfig(progress=False), disk_cache=False)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        rows = []
        for name in args.datasets:
            for recipe in args.recipes:
                for seed in args.seeds:
                    t0 = time.perf_counter()
                    row = run(stack, folders[name], name, recipe, seed, args)
                    row["wall_seconds"] = round(time.perf_counter() - t0, 1)
                    row["machine"] = machine()
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                    with open(out, "a") as f:
                        f.write(json.dumps(row) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
