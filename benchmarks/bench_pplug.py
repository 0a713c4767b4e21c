"""PPlug's cost, measured side by side with the plain frozen LLM in one run.

Prints: training step time of PPlug vs a plain forward/backward of the same LLM on the same batch (ratio);
history-encoder calls per epoch with and without the cache; inference time per example, PPlug vs the
non-personalized LLM (ratio); prompt length with and without soft tokens; peak memory.

    python benchmarks/bench_pplug.py [--steps 6] [--dev 32]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from minipplug.config import PPlugConfig
from minipplug.engine.predict import predict
from minipplug.engine.report import peak_memory_mb
from minipplug.engine.stack import load_stack, new_plug
from minipplug.engine.train import batch_loss, train
from minipplug.lamp.data import load_examples
from minipplug.lamp.samples import sample_paths


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=6, help="timed repetitions of each training step")
    ap.add_argument("--dev", type=int, default=32, help="dev examples for inference timing")
    args = ap.parse_args()
    torch.manual_seed(0)
    cfg = PPlugConfig(progress=False)
    paths = sample_paths("lamp2_tags")
    train_ex = load_examples(cfg.task, paths["train_questions"], paths["train_outputs"])
    dev_ex = load_examples(cfg.task, paths["dev_questions"], paths["dev_outputs"])[: args.dev]
    stack = load_stack(cfg, disk_cache=False)
    plug = new_plug(stack)
    batch = train_ex[: cfg.batch_size]
    stack.hist.encode([t for e in batch for t in e.history])
    opt = torch.optim.AdamW([p for p in plug.parameters() if p.requires_grad], lr=cfg.lr)

    def pplug_step():
        loss = batch_loss(plug, stack.plm, stack.hist, batch)
        loss.backward()
        opt.step()
        opt.zero_grad()

    def plain_step():
        # The same LLM, same prompts, targets and loss code, no plug: backward to the input embeddings.
        b = stack.plm.build([e.input for e in batch], None, [e.target for e in batch])
        b["inputs_embeds"] = b["inputs_embeds"].detach().requires_grad_(True)
        stack.plm.batch_loss(b).backward()

    pplug_step(), plain_step()  # warm-up
    t_pplug, t_plain = median_time(pplug_step, args.steps), median_time(plain_step, args.steps)

    # Encoder calls per epoch: the cache encodes each distinct item once; without it, every item every time.
    sub = train_ex[:64]
    stack.hist.cache.clear()
    before = stack.encoder.texts_encoded
    train(stack, sub, cfg=cfg.replace(epochs=2, max_train_examples=64, progress=False))
    with_cache = stack.encoder.texts_encoded - before
    without_cache_per_epoch = sum(len(e.history) for e in sub)

    # End-to-end prediction differs in answer length (the trained plug stops after a tag, the zero-shot LLM
    # rambles), so the per-example inference cost is timed with a fixed number of new tokens for both.
    pp = predict(dev_ex, stack.task, stack.plm, plug=plug, hist=stack.hist, progress=False)
    npz = predict(dev_ex, stack.task, stack.plm, progress=False)
    n_new, bs = 8, cfg.eval_batch_size

    @torch.no_grad()
    def fixed_generation(use_plug: bool):
        for i in range(0, len(dev_ex), bs):
            chunk = dev_ex[i : i + bs]
            soft = None
            if use_plug:
                H, mask = stack.hist.batch([e.history for e in chunk], cfg.max_history)
                soft = plug([e.query for e in chunk], H, mask)[0]
            b = stack.plm.build([e.input for e in chunk], soft)
            b.pop("position_ids")
            stack.plm.model.generate(
                **b, max_new_tokens=n_new, min_new_tokens=n_new, do_sample=False, pad_token_id=stack.plm.pad_id
            )

    fixed_generation(True), fixed_generation(False)  # warm-up
    t_gen_pplug = median_time(lambda: fixed_generation(True), 3) / len(dev_ex)
    t_gen_plain = median_time(lambda: fixed_generation(False), 3) / len(dev_ex)
    report = {
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
        + (torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"),
        "batch_size": cfg.batch_size,
        "train_step_seconds_pplug": round(t_pplug, 3),
        "train_step_seconds_plain_llm": round(t_plain, 3),
        "train_step_ratio": round(t_pplug / t_plain, 3),
        "encoder_texts_2_epochs_with_cache": with_cache,
        "encoder_texts_per_epoch_without_cache": without_cache_per_epoch,
        "infer_seconds_per_example_pplug": round(t_gen_pplug, 4),
        "infer_seconds_per_example_non_personalized": round(t_gen_plain, 4),
        "infer_ratio": round(t_gen_pplug / t_gen_plain, 3),
        "infer_new_tokens": n_new,
        "predict_seconds_per_example_pplug": round(pp.seconds_per_example, 4),
        "predict_seconds_per_example_non_personalized": round(npz.seconds_per_example, 4),
        "prompt_tokens_pplug": pp.prompt_tokens_mean,
        "prompt_tokens_non_personalized": npz.prompt_tokens_mean,
        "prompt_growth_tokens": pp.prompt_tokens_mean - npz.prompt_tokens_mean,
        "soft_tokens": plug.n_soft_tokens,
        "peak_memory_mb": round(peak_memory_mb(), 1),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
