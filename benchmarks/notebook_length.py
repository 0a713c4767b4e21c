"""How long must notebook 03 train? Its fixed-length recipe (the fast profile's cpu-auto) at several epoch counts,
seeds and precisions: the plug's dev accuracy with the user's own history and with another user's.

    python benchmarks/notebook_length.py --epochs 1.5 3 --seeds 0 1 2                  # bf16 where the CPU has it
    python benchmarks/notebook_length.py --epochs 1.5 --seeds 1 2 --precision fp32

One JSON line per (epochs, seed) is printed and appended to --out (default
benchmarks/results/notebook_length.jsonl). MINIPPLUG_THREADS=N sets torch's threads, as for the CLI.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from record_seeds import machine  # noqa: E402

import minipplug as mp  # noqa: E402
from minipplug.config import PPlugConfig  # noqa: E402
from minipplug.course.notebook import RunSettings, get_settings  # noqa: E402
from minipplug.engine.stack import Stack, apply_threads  # noqa: E402
from minipplug.engine.train import pick_precision  # noqa: E402
from minipplug.lamp.data import Example  # noqa: E402

PRECISION = {"no": "fp32", "bf16": "bf16", "fp16": "fp16"}  # accelerate's names, as the rows say them


def measure(
    stack: Stack, settings: RunSettings, cfg: PPlugConfig, train_ex: list[Example], dev_ex: list[Example]
) -> dict:
    """Train one plug with cfg on train_ex; its accuracy on dev_ex with own and swapped histories."""
    t0 = time.perf_counter()
    plug = mp.train(stack, train_ex, None, "pplug", cfg=cfg).plug.eval()
    seconds = time.perf_counter() - t0
    swapped = mp.METHODS["pplug-swapped-history"]
    swapped_dev = mp.method_examples(swapped, dev_ex, settings.task, seed=cfg.seed)
    own = mp.result_row(stack, dev_ex, mp.METHODS["pplug"], plug=plug, progress=False)
    other = mp.result_row(stack, swapped_dev, swapped, plug=plug, progress=False)
    return {"own": own["accuracy"], "swapped": other["accuracy"], "train_seconds": round(seconds, 1)}


def main() -> None:
    """Command line: every (epochs, seed) pair, one JSON line each."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=float, nargs="+", default=[1.5, 3.0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "notebook_length.jsonl")
    args = ap.parse_args()
    threads = apply_threads()
    settings = get_settings("fast")
    stack = mp.load_stack(settings.cfg)
    train_ex, dev_ex = settings.examples("train"), settings.examples("dev")  # read once for every run
    for epochs in args.epochs:
        for seed in args.seeds:
            cfg = settings.cfg.replace(epochs=epochs, seed=seed, precision=args.precision)
            stack.cfg = cfg  # the stack's frozen models do not depend on these fields
            row = {"epochs": epochs, "seed": seed, "precision": PRECISION[pick_precision(cfg)]}
            row |= measure(stack, settings, cfg, train_ex, dev_ex)
            row |= {"sample": settings.sample, "threads": threads, "machine": machine(threads, row["precision"])}
            row |= {"date": datetime.date.today().isoformat()}
            print(json.dumps(row), flush=True)
            with args.out.open("a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
