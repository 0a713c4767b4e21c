"""Free generation one question at a time against batched, in one run, on the bundled LaMP_2-style sample.

predict() generates a batch together: left padding, one KV cache, each row stopping at its own end-of-turn
token. This prints the seconds per question of batch size 1 and of the batch sizes asked for, side by side,
for the frozen LLM alone and with a (seeded, untrained) plug's soft tokens, and whether the answers agree.

    python benchmarks/bench_batched_generation.py [--questions 16] [--batch-sizes 4 16] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import platform

import torch
from bench_pplug import median_time

from minipplug.config import PPlugConfig
from minipplug.engine.predict import predict
from minipplug.engine.stack import apply_threads, load_stack, new_plug
from minipplug.lamp.data import load_examples, spread
from minipplug.lamp.samples import sample_paths


def stack_dev_and_plug(questions: int):
    """(the default models, that many lamp2_tags dev questions spread over users, a seeded untrained plug)."""
    apply_threads()
    stack = load_stack(PPlugConfig(progress=False), disk_cache=False)
    paths = sample_paths("lamp2_tags")
    dev = spread(load_examples(stack.task, paths["dev_questions"], paths["dev_outputs"]), questions)
    torch.manual_seed(0)
    return stack, dev, new_plug(stack).eval()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=16, help="dev questions, spread over users")
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[4, 16])
    ap.add_argument("--repeats", type=int, default=3, help="timed repetitions (the median is printed)")
    args = ap.parse_args()
    stack, dev, plug = stack_dev_and_plug(args.questions)
    report = {"questions": len(dev), "threads": torch.get_num_threads(), "cpu": platform.processor() or "?"}
    for name, with_plug in (("frozen LLM", {}), ("with plug", {"plug": plug, "hist": stack.hist})):
        # The first call also fills the history cache (with a plug): untimed, so both sides time generation only.
        one = predict(dev, stack.task, stack.plm, batch_size=1, progress=False, **with_plug)
        one_at_a_time = lambda: predict(dev, stack.task, stack.plm, batch_size=1, progress=False, **with_plug)  # noqa: E731
        base = median_time(one_at_a_time, args.repeats) / len(dev)
        row = {"batch 1 s/question": round(base, 3)}
        for bs in args.batch_sizes:
            run = lambda: predict(dev, stack.task, stack.plm, batch_size=bs, progress=False, **with_plug)  # noqa: E731
            batched = run()
            seconds = median_time(run, args.repeats) / len(dev)
            row[f"batch {bs} s/question"] = round(seconds, 3)
            row[f"batch {bs} speed-up"] = round(base / seconds, 2)
            row[f"batch {bs} same answers"] = batched.answers == one.answers
        report[name] = row
        print(json.dumps({name: row}), flush=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
