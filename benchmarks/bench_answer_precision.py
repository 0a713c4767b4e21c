"""Answering in fp32 against answering on bf16 block weights under bf16 autocast, side by side in one run.

On a CPU with native bf16, `result_row` (the demo, compare, the notebooks, predict) answers on the frozen LLM's
bf16 block weights under bf16 autocast, as training's validation checks do, instead of fp32. This times both on
every dev question of the bundled LaMP_2 sample, for the notebooks' trained plug (own and another user's
history), their no-history control and the zero-shot LLM, by free generation and label ranking, and prints per
row: seconds per question, the ratio, the accuracy of each and how many answers are the same.

    python benchmarks/bench_answer_precision.py [--threads 2] [--out benchmarks/results/answer_precision.jsonl]

The plugs are those notebooks 03 and 04 saved in the notebooks' run folder (trained now with the notebooks' settings
when no run has saved them yet): a run's own, so accuracies match the stored notebooks only when they come from
the same run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform

import torch

from minipplug.course.notebook import get_settings, trained_plug
from minipplug.engine.fast_step import FastFrozenLLM
from minipplug.engine.methods import METHODS, method_examples
from minipplug.engine.predict import evaluate, predict
from minipplug.engine.stack import load_stack
from minipplug.engine.train import cpu_has_bf16


def timed(examples, stack, plug, history, decoding: str, bf16_llm) -> tuple[dict, float, float]:
    """(answers by id, seconds per question, accuracy) of one prediction; the seconds are predict's own, which
    start after the history vectors are encoded (the first call would otherwise pay for encoding them)."""
    pred = predict(
        examples,
        stack.task,
        stack.plm,
        plug=plug,
        hist=stack.hist,
        history=history,
        decoding=decoding,
        batch_size=stack.cfg.eval_batch_size,
        progress=False,
        bf16_llm=bf16_llm,
    )
    return pred.answers, pred.seconds_per_example, evaluate(examples, stack.task, pred)["accuracy"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", help="append one JSON line per row to this file")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    settings = get_settings(seed=0)
    stack = load_stack(settings.cfg)
    plug = trained_plug(stack, settings, settings.examples("train"))[0].eval()
    control = trained_plug(stack, settings, settings.examples("train"), "pplug-no-history")[0].eval()
    dev = settings.examples("dev")
    swapped = method_examples(METHODS["pplug-swapped-history"], dev, stack.task, seed=0)
    bf16_llm = FastFrozenLLM(stack.plm.model, bf16=True, compile=False)
    runs = {
        "pplug": (dev, plug, METHODS["pplug"].history),
        "pplug-swapped-history": (swapped, plug, METHODS["pplug-swapped-history"].history),
        "pplug-no-history": (dev, control, METHODS["pplug-no-history"].history),
        "non-personalized": (dev, None, METHODS["non-personalized"].history),
    }
    machine = f"{platform.machine()}, {args.threads} torch threads, native bf16: {cpu_has_bf16()}"
    for decoding in ("generate", "rank"):
        for name, (examples, p, history) in runs.items():
            fp32, fp32_s, fp32_accuracy = timed(examples, stack, p, history, decoding, None)
            bf16, bf16_s, bf16_accuracy = timed(examples, stack, p, history, decoding, bf16_llm)
            row = {
                "run": "answers in fp32 and on bf16 block weights, every lamp2_tags dev question",
                "date": datetime.date.today().isoformat(),
                "command": f"python benchmarks/bench_answer_precision.py --threads {args.threads}",
                "seed": 0,
                "threads": args.threads,
                "machine": machine,
                "source": "measured",
                "note": "notebook 03's plug and no-history control; seconds side by side in one process",
                "method": name,
                "decoding": decoding,
                "questions": len(examples),
                "fp32_seconds_per_question": round(fp32_s, 4),
                "bf16_seconds_per_question": round(bf16_s, 4),
                "speedup": round(fp32_s / bf16_s, 2),
                "fp32_accuracy": round(fp32_accuracy, 4),
                "bf16_accuracy": round(bf16_accuracy, 4),
                "same_answers": sum(fp32[k] == bf16[k] for k in fp32),
            }
            print(json.dumps(row), flush=True)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
