"""Does the automatic length's stopping signal track what is reported? The answer loss against accuracy.

`train` (preset cpu-auto) keeps the plug with the lowest validation loss: the mean NLL of *every* answer token of
the held-out users (a tag of 1-4 tokens, then the end-of-turn token). Only the first token decides which tag
comes out; the rest spell a tag already chosen. This trains PPlug exactly as `train` does (automatic length,
same users held out, same checks) and at every check also measures, on those validation users and on the dev
questions: the first answer token's NLL alone, the later tokens' NLL, and the accuracy of label ranking (the
tag with the highest mean token log-likelihood; the reported scores use free generation). Learning curves of
the quantity that stops training beside the one that is reported, on a design where the recipe fails
(ranked3-time-s0) and one where it works (tags-s1).

    python benchmarks/stop_signal.py [--datasets ranked3-time-s0 tags-s1] [--threads 2] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from sweep_recipe import dataset_folder, load

from minipplug.config import PRESETS, PPlugConfig
from minipplug.engine.autostop import AutoLength, split_validation_users
from minipplug.engine.stack import load_stack, new_plug
from minipplug.engine.train import pick_precision, train_loop, validation_monitor
from minipplug.lamp.tasks import get_task
from minipplug.model.plug import soft_tokens


@torch.no_grad()
def answer_stats(plug, stack, examples, labels: list[str], batch_size: int = 16) -> dict:
    """First-token NLL, later-token NLL, all-token NLL (the stopping signal) and label-ranking accuracy."""
    first, rest, n_rest, correct = 0.0, 0.0, 0, 0
    for i in range(0, len(examples), batch_size):
        chunk = examples[i : i + batch_size]
        soft, _ = soft_tokens(plug, stack.hist, chunk)
        batch = stack.plm.build([e.input for e in chunk], soft, [e.target for e in chunk])
        labels_ids = batch.pop("labels")  # (B, T), right-aligned targets
        logits = stack.plm.model(**batch, use_cache=False).logits[:, :-1].float()  # (B, T-1, V)
        gold = labels_ids[:, 1:]  # (B, T-1): position t predicts token t+1
        nll = F.cross_entropy(logits.transpose(1, 2), gold, ignore_index=-100, reduction="none")  # (B, T-1)
        is_answer = gold != -100
        assert bool(is_answer.any(-1).all()), "every question has answer tokens"  # argmax would pick position 0
        first_pos = is_answer.int().argmax(-1)  # (B,) the first answer token of each row
        rows = torch.arange(len(chunk))
        first += float(nll[rows, first_pos].sum())
        later = is_answer.clone()
        later[rows, first_pos] = False
        rest += float(nll[later].sum())
        n_rest += int(later.sum())
        ranked = stack.plm.rank([e.input for e in chunk], labels, soft)
        correct += sum(p == e.target for p, e in zip(ranked, chunk))
    n = len(examples)
    return {
        "first_token_nll": round(first / n, 4),
        "later_tokens_nll": round(rest / max(n_rest, 1), 4),
        "all_tokens_nll": round((first + rest) / (n + n_rest), 4),
        "ranking_accuracy": round(correct / n, 4),
    }


def learning_curve(name: str, data_dir: Path, threads: int) -> dict:
    """Train cpu-auto on the dataset as `train` does and record the stats of every validation check."""
    folder = dataset_folder(name, data_dir)
    cfg = PPlugConfig(progress=False).replace(**PRESETS["cpu-auto"].fields)
    stack = load_stack(cfg)
    train_ex, dev_ex = load(cfg.task, folder, "train"), load(cfg.task, folder, "dev")
    auto = AutoLength()
    fit, monitor = validation_monitor(stack, cfg, train_ex, auto, hide=False)
    # the users validation_monitor holds out
    val = split_validation_users(train_ex, auto.share, cfg.seed, auto.max_validation)[1]
    labels = list(get_task(cfg.task).labels)
    curve = []

    def metric(plug) -> float:
        loss = stopping_signal(plug)  # exactly what train's monitor scores
        row = {"check": len(curve) + 1, "validation_loss": round(loss, 4)}
        row |= {f"validation_{k}": v for k, v in answer_stats(plug, stack, val, labels).items()}
        row |= {f"dev_{k}": v for k, v in answer_stats(plug, stack, dev_ex, labels).items()}
        curve.append(row)
        print(name, json.dumps(row), flush=True)
        return loss

    stopping_signal, monitor.metric = monitor.metric, metric
    t = time.perf_counter()
    train_loop(cfg.replace(epochs=auto.max_epochs), new_plug(stack, cfg), stack.plm, stack.hist, fit, monitor=monitor)
    steps = [c[0] for c in monitor.checks]
    return {
        "dataset": name,
        "date": datetime.date.today().isoformat(),
        "command": f"python benchmarks/stop_signal.py --threads {threads} --datasets {name}",
        "source": "measured",
        "recipe": "cpu-auto",
        "machine": f"{platform.machine()}, {threads} torch threads, precision {pick_precision(cfg)}",
        "validation_questions": len(val),
        "dev_questions": len(dev_ex),
        "autostop": monitor.summary(),
        "seconds": round(time.perf_counter() - t),
        "checks": [{"step": s} | row for s, row in zip(steps, curve)],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", nargs="+", default=["ranked3-time-s0", "tags-s1"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data-dir", type=Path, help="where generated datasets go (default: a temporary folder)")
    ap.add_argument("--out", help="append one JSON line per dataset to this file")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets:
            report = learning_curve(name, args.data_dir or Path(tmp), args.threads)
            print(json.dumps(report))
            if args.out:
                with open(args.out, "a") as f:
                    f.write(json.dumps(report) + "\n")


if __name__ == "__main__":
    main()
