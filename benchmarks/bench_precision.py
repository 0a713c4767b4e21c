"""bf16 autocast against fp32 for the plug's training, measured side by side in one run.

Prints, for the same batch and the same starting weights: the training step's time in each precision (median
of --steps repetitions) and their ratio, and the loss each computes; then trains one plug per precision with
the same seed and steps (the CPU preset on the LaMP_2-style sample) and scores both on dev (accuracy, free
generation). The frozen LLM's weights stay fp32; autocast runs its matmuls in bf16.

    python benchmarks/bench_precision.py [--steps 5] [--train-steps 45] [--dev 120]
"""

from __future__ import annotations

import argparse
import copy
import json
import platform

import torch
from bench_pplug import median_time  # scripts in benchmarks/ import each other (run from the repository root)

from minipplug.config import PPlugConfig
from minipplug.engine.methods import METHODS
from minipplug.engine.report import result_row
from minipplug.engine.stack import load_stack, new_plug
from minipplug.engine.train import batch_loss, cpu_has_bf16, train
from minipplug.lamp.data import load_examples
from minipplug.lamp.samples import sample_paths


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=5, help="timed repetitions of one training step per precision")
    ap.add_argument("--train-steps", type=int, default=45, help="optimizer steps of each full training (0: skip)")
    ap.add_argument("--dev", type=int, default=120, help="dev questions scored after training")
    args = ap.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    cfg = PPlugConfig(progress=False)
    paths = sample_paths("lamp2_tags")
    train_ex = load_examples(cfg.task, paths["train_questions"], paths["train_outputs"])
    dev_ex = load_examples(cfg.task, paths["dev_questions"], paths["dev_outputs"])[: args.dev]
    stack = load_stack(cfg)
    batch = train_ex[: cfg.batch_size]
    stack.hist.encode([t for e in batch for t in e.history])
    start = new_plug(stack)

    def step_fn(dtype):
        plug = copy.deepcopy(start)
        opt = torch.optim.AdamW([p for p in plug.parameters() if p.requires_grad], lr=cfg.lr)
        losses = []

        def step():
            with torch.autocast(device, dtype=torch.bfloat16, enabled=dtype == "bf16"):
                loss = batch_loss(plug, stack.plm, stack.hist, batch)
            loss.backward()
            opt.zero_grad()  # the timed steps must not move the weights: every step sees the same start
            losses.append(float(loss.detach()))

        return step, losses

    report = {
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
        + (torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU (native bf16: {cpu_has_bf16()})"),
        "batch_size": cfg.batch_size,
    }
    for dtype in ("fp32", "bf16"):
        step, losses = step_fn(dtype)
        step()  # warm-up
        report[f"step_seconds_{dtype}"] = round(median_time(step, args.steps), 3)
        report[f"loss_at_start_{dtype}"] = round(losses[0], 4)
    report["step_speedup_bf16"] = round(report["step_seconds_fp32"] / report["step_seconds_bf16"], 2)
    print(json.dumps(report, indent=1), flush=True)
    if args.train_steps:
        epochs = args.train_steps * cfg.batch_size / len(train_ex)
        for dtype in ("fp32", "bf16"):
            run_cfg = cfg.replace(precision=dtype, epochs=epochs)
            result = train(stack, train_ex, None, "pplug", cfg=run_cfg)
            row = result_row(stack, dev_ex, METHODS["pplug"], plug=result.plug, progress=False)
            report[f"train_{dtype}"] = {
                "steps": result.steps,
                "seconds": round(result.seconds, 1),
                "final_loss": round(result.losses[-1][1], 4),
                "dev_accuracy": row["accuracy"],
                "top_answer_share": row["top_answer_share"],
            }
            print(json.dumps({dtype: report[f"train_{dtype}"]}), flush=True)
        report["train_speedup_bf16"] = round(report["train_fp32"]["seconds"] / report["train_bf16"]["seconds"], 2)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
