"""The plug's training step before and after the CPU levers, side by side in one process, against the machine.

Each lever is added in turn, on the same batches of 8 (`lamp2_tags` train) and the same starting plug, under
bf16 autocast: the step as it was (SDPA attention, a KV cache filled and thrown away, fp32 weights cast at every
call), without the cache, with bf16 copies of the block weights, with plain ("eager") attention, and with the
blocks compiled (the step `minipplug train` now runs on a CPU with native bf16). For each: the median seconds
of a step (forward and backward), the loss on the same batches, the ratio to the old step and the achieved
GFLOP/s, beside the machine's own bf16 matmul rate measured in the same run, both on a 2048 x 2048 product and
on the step's own matmuls alone (every block Linear's forward product and its backward to the inputs, at the
step's ~1,100 tokens): what those matmuls cost alone here, and each step's share of that. On a CPU without
native bf16 the step is fp32 (as precision "auto" trains there): the old step, without the cache, with eager
attention, with the blocks compiled (eager and SDPA attention), all in fp32, beside the machine's fp32 matmul
rate. --profile adds
the top operators of the old and the last step (torch.profiler, self CPU time). With bf16, one validation check
of the automatic length (the answer loss of 54 held-out questions, as `train` holds out 15% of this sample's
users) in fp32, as it was, and on the bf16 block weights under autocast, as it is now: seconds, ratio, losses.

    python benchmarks/bench_step.py [--steps 8] [--threads 2] [--profile] [--out benchmarks/results/step.jsonl]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import platform
import statistics
import time
from collections import Counter

import torch
import torch.nn.functional as F

from minipplug.config import PPlugConfig
from minipplug.engine.fast_step import FastFrozenLLM, can_compile, decoder_blocks
from minipplug.engine.stack import load_stack, new_plug
from minipplug.engine.train import dev_loss, pick_precision
from minipplug.lamp.data import load_examples
from minipplug.lamp.samples import sample_paths
from minipplug.model.plug import soft_tokens

BATCHES = 4  # distinct batches of 8, cycled
OLD = "old step (SDPA, KV cache, fp32 weights)"
NEW = "+ compiled blocks (new step)"  # the step `train` runs under bf16 autocast
VALIDATION = 54  # questions in a validation check: 15% of lamp2_tags' 360 training questions


def matmul_gflops(dtype: torch.dtype, n: int = 2048, reps: int = 20) -> float:
    """The machine's matmul rate in dtype on an n x n product (after a warm-up)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(3):
        a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e9


def step_loss(stack, plug, batch, keep_cache: bool) -> torch.Tensor:
    """The step's loss as PPlugLM.batch_loss computes it; keep_cache=True fills a KV cache as the old step did."""
    soft, _ = soft_tokens(plug, stack.hist, batch)
    inputs = stack.plm.build([e.input for e in batch], soft, [e.target for e in batch])
    labels = inputs.pop("labels")  # (B, T)
    K = int((labels != -100).sum(-1).max()) + 1
    logits = stack.plm.model(**inputs, logits_to_keep=K, use_cache=keep_cache).logits  # (B, K, V)
    return F.cross_entropy(logits[:, :-1].float().flatten(0, 1), labels[:, -K + 1 :].flatten(), ignore_index=-100)


def tokens_per_step(stack, batches) -> float:
    """The padded tokens of a step's batch (soft tokens included), mean over the batches."""
    return statistics.mean(
        len(b) * stack.plm.build([e.input for e in b], None, [e.target for e in b])["inputs_embeds"].shape[1]
        + len(b) * 8  # the 4 + 4 soft tokens of every prompt
        for b in batches
    )


def flops_per_step(stack, tokens: float) -> float:
    """Forward + backward to the inputs through the frozen blocks: 4 x block parameters x padded tokens."""
    return 4 * sum(p.numel() for p in stack.plm.model.model.layers.parameters()) * tokens


def step_matmuls_seconds(model, tokens: float, dtype: torch.dtype, reps: int = 10) -> float:
    """Seconds of the step's block matmuls alone, at its own shapes: for every Linear of the blocks, the forward
    product (tokens x in) @ (in x out) and the backward one to the inputs (tokens x out) @ (out x in).

    What the step's own matmul work costs here in isolation: the time left for everything around it is the rest.
    """
    shapes = Counter(
        (m.in_features, m.out_features)
        for block in decoder_blocks(model)
        for m in block.modules()
        if isinstance(m, torch.nn.Linear)
    )
    total = 0.0
    for (n_in, n_out), count in shapes.items():
        x, w, g = (
            torch.randn(r, c, dtype=dtype) for r, c in [(int(tokens), n_in), (n_out, n_in), (int(tokens), n_out)]
        )
        for _ in range(3):  # warm-up
            x @ w.T, g @ w
        t = time.perf_counter()
        for _ in range(reps):
            x @ w.T
            g @ w
        total += count * (time.perf_counter() - t) / reps
    return total


def autocast(bf16: bool) -> torch.autocast:
    """The training's autocast: bf16 on a CPU with native bf16, off (fp32) elsewhere."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)


def time_variant(stack, start, batches, fast: FastFrozenLLM | None, keep_cache: bool, steps: int, bf16: bool) -> dict:
    """Median step seconds (after 2 warm-up steps, the compilation included there) and the losses."""
    plug = copy.deepcopy(start)
    seconds, losses = [], []
    for i in range(steps + 2):
        batch = batches[i % len(batches)]
        t = time.perf_counter()
        with fast.engaged() if fast else contextlib.nullcontext(), autocast(bf16):
            loss = step_loss(stack, plug, batch, keep_cache)
            loss.backward()
        plug.zero_grad()  # the weights never move: every variant sees the same plug
        seconds.append(time.perf_counter() - t)
        losses.append(float(loss.detach()))
    return {"seconds": statistics.median(seconds[2:]), "first_step_seconds": seconds[0], "losses": losses[:BATCHES]}


def time_validation(stack, plug, examples, fast: FastFrozenLLM | None, reps: int = 2) -> dict:
    """Best-of-reps seconds of one validation check (eval batches) and its loss; fast: bf16 weights + autocast."""
    seconds = []
    for _ in range(reps):
        t = time.perf_counter()
        bf16 = torch.autocast("cpu", dtype=torch.bfloat16, enabled=fast is not None)
        with fast.engaged(step=False) if fast else contextlib.nullcontext(), bf16:
            loss = dev_loss(plug, stack.plm, stack.hist, examples, stack.cfg.eval_batch_size)
        seconds.append(time.perf_counter() - t)
    return {"seconds": round(min(seconds), 2), "loss": round(loss, 4)}


def top_operators(stack, start, batch, fast, keep_cache: bool, bf16: bool, n: int = 8) -> list[tuple[str, float]]:
    """(operator, share of self CPU time) of one profiled step, largest first."""
    from torch.profiler import ProfilerActivity, profile

    plug = copy.deepcopy(start)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        with fast.engaged() if fast else contextlib.nullcontext(), autocast(bf16):
            step_loss(stack, plug, batch, keep_cache).backward()
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    events.sort(key=lambda e: -e.self_cpu_time_total)
    return [(e.key, round(e.self_cpu_time_total / total, 3)) for e in events[:n]]


def step_variants(model, bf16: bool) -> dict:
    """name: (fast LLM or None, keep the KV cache), each lever added in turn; without native bf16 the step is fp32,
    so the bf16 weight copies do not apply and the other levers are measured in fp32."""
    old = {OLD: (None, True), "no KV cache": (None, False)}
    if bf16:
        return old | {
            "+ bf16 block weights": (FastFrozenLLM(model, bf16=True, compile=False), False),
            "+ eager attention": (FastFrozenLLM(model, bf16=True, compile=False, attention="eager"), False),
            NEW: (FastFrozenLLM(model, bf16=True, compile=True, attention="eager"), False),
        }
    return old | {
        "+ eager attention": (FastFrozenLLM(model, bf16=False, compile=False, attention="eager"), False),
        "+ compiled blocks": (FastFrozenLLM(model, bf16=False, compile=True, attention="eager"), False),
        "compiled blocks, SDPA attention": (FastFrozenLLM(model, bf16=False, compile=True), False),
    }


def summarise(rows: dict, flops: float, rate: float, floor: float) -> dict:
    """Per variant: seconds, ratio to the old step, GFLOP/s, its share of the matmul rate (2048 x 2048) and of
    the step's own matmuls alone (floor seconds), first step, losses."""
    old = rows[OLD]["seconds"]
    return {
        name: {
            "step_seconds": round(r["seconds"], 3),
            "speedup": round(old / r["seconds"], 2),
            "gflops": round(flops / r["seconds"] / 1e9),
            "share_of_matmul_rate": round(flops / r["seconds"] / 1e9 / rate, 2),
            "share_of_own_matmuls": round(floor / r["seconds"], 2),
            "first_step_seconds": round(r["first_step_seconds"], 1),
            "losses": [round(x, 4) for x in r["losses"]],
        }
        for name, r in rows.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=8, help="timed steps per variant (after 2 warm-up steps)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--profile", action="store_true", help="also print the top operators of the old and new step")
    ap.add_argument("--out", help="append the report as one JSON line to this file")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = PPlugConfig(progress=False)
    paths = sample_paths("lamp2_tags")
    train_ex = load_examples(cfg.task, paths["train_questions"], paths["train_outputs"])
    stack = load_stack(cfg)
    batches = [train_ex[i * cfg.batch_size : (i + 1) * cfg.batch_size] for i in range(BATCHES)]
    stack.hist.encode([t for b in batches for e in b for t in e.history])
    start = new_plug(stack)
    bf16 = pick_precision(cfg) == "bf16"  # as `train` decides: bf16 autocast only where the CPU has it natively
    dtype = torch.bfloat16 if bf16 else torch.float32  # the matmul rate in the step's own precision
    variants = step_variants(stack.plm.model, bf16)
    report = {
        "machine": f"{platform.processor() or platform.machine()}, {args.threads} torch threads, native bf16: "
        f"{bf16}, compiler: {can_compile()}",
        "precision": str(dtype).removeprefix("torch."),
        "batch_size": cfg.batch_size,
        "matmul_gflops_before": round(matmul_gflops(dtype)),
    }
    tokens = tokens_per_step(stack, batches)
    flops = flops_per_step(stack, tokens)
    rows = {}
    for name, (fast, keep_cache) in variants.items():
        rows[name] = time_variant(stack, start, batches, fast, keep_cache, args.steps, bf16)
        print(name, json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in rows[name].items()}))
    report["matmul_gflops_after"] = round(matmul_gflops(dtype))
    rate = (report["matmul_gflops_before"] + report["matmul_gflops_after"]) / 2
    report["gflop_per_step"] = round(flops / 1e9)
    # The step's matmuls alone, at its shapes (about 1,100 tokens x 576 or 1,536), timed outside the step
    floor = step_matmuls_seconds(stack.plm.model, tokens, dtype)
    report["own_matmuls"] = {"tokens": round(tokens), "seconds": round(floor, 3), "gflops": round(flops / floor / 1e9)}
    report["variants"] = summarise(rows, flops, rate, floor)
    if bf16:  # without bf16 a validation check runs the same fp32 pass either way
        report["validation_check"] = validation_report(stack, start, train_ex, variants[NEW][0])
    if args.profile:
        last = list(variants)[-1]
        report["profile_old"] = top_operators(stack, start, batches[0], None, True, bf16)
        report["profile_new"] = top_operators(stack, start, batches[0], variants[last][0], False, bf16)
    print(json.dumps(report, indent=1))
    if args.out:
        with open(args.out, "a") as f:
            f.write(json.dumps(report) + "\n")


def validation_report(stack, start, train_ex, new_fast: FastFrozenLLM) -> dict:
    """One validation check in fp32, as it was, and on the bf16 block weights under autocast, as it is now."""
    val = train_ex[-VALIDATION:]
    stack.hist.encode([t for e in val for t in e.history])
    old_check, new_check = (time_validation(stack, start, val, f) for f in (None, new_fast))
    report = {
        "questions": len(val),
        "fp32": old_check,
        "bf16_weights_autocast": new_check,
        "speedup": round(old_check["seconds"] / new_check["seconds"], 2),
    }
    print("validation check", json.dumps(report))
    return report


if __name__ == "__main__":
    main()
