"""What makes the plug learn on 2 CPU cores: the paper's recipe, then one change at a time, to the CPU preset.

Every run trains the same number of steps (the CPU preset's: 1 epoch, batch 8, on the LaMP_2-style sample)
and reports dev accuracy with free generation. Prints one JSON line per run, then a markdown table.

    python benchmarks/sweep_cpu_preset.py [--only NAME ...] [--dev 120]
"""

from __future__ import annotations

import argparse
import json

from minipplug.config import PPlugConfig
from minipplug.engine.methods import METHODS
from minipplug.engine.report import markdown_table, public, result_row
from minipplug.engine.stack import load_stack
from minipplug.engine.train import train
from minipplug.lamp.data import load_examples
from minipplug.lamp.samples import sample_paths

PAPER = dict(n_instruction_tokens=1, n_user_tokens=1, temperature=1.0, lr=1e-4, encoder_lr=1e-4, soft_position="start")
RUNS = {
    "paper recipe (1+1 tokens, tau 1, lr 1e-4, soft tokens at position 0)": PAPER,
    "+ lr 2e-3 (encoder 1e-5)": {**PAPER, "lr": 2e-3, "encoder_lr": 1e-5},
    "+ tau 0.1": {**PAPER, "lr": 2e-3, "encoder_lr": 1e-5, "temperature": 0.1},
    "+ 4+4 soft tokens": {
        **PAPER,
        "lr": 2e-3,
        "encoder_lr": 1e-5,
        "temperature": 0.1,
        "n_instruction_tokens": 4,
        "n_user_tokens": 4,
    },
    "+ soft tokens before the input (= CPU preset)": {},
    "CPU preset, input encoder frozen": {"train_input_encoder": False},
    "CPU preset, tau 1": {"temperature": 1.0},
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", help="run only the runs whose name contains one of these strings")
    ap.add_argument("--dev", type=int, default=120)
    args = ap.parse_args()
    base = PPlugConfig(progress=False)
    paths = sample_paths("lamp2_tags")
    train_ex = load_examples(base.task, paths["train_questions"], paths["train_outputs"])
    dev_ex = load_examples(base.task, paths["dev_questions"], paths["dev_outputs"])[: args.dev]
    stack = load_stack(base, disk_cache=False)
    rows = []
    for name, over in RUNS.items():
        if args.only and not any(s in name for s in args.only):
            continue
        cfg = base.replace(**over)
        stack.cfg = cfg
        stack.plm.soft_position = cfg.soft_position
        result = train(stack, train_ex, None, "pplug", cfg=cfg)
        row = public(
            result_row(
                stack,
                dev_ex,
                METHODS["pplug"],
                plug=result.plug,
                progress=False,
                train_seconds=result.seconds,
                label=name,
            )
        )
        row["steps"] = result.steps
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
