"""Training the plug (only the plug) with the frozen LLM in the loop, on Hugging Face Accelerate.

`accelerate launch --num_processes N -m minipplug train ...` runs the same loop on several GPUs or
processes: each process takes its share of every batch and gradients are averaged (DDP).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..atomic import atomic_dir
from ..config import PPlugConfig
from ..lamp.data import Example
from ..model.encoder import HistoryEncoder
from ..model.injection import PPlugLM
from ..model.plug import PersonaPlug, soft_tokens


@dataclass
class TrainResult:
    """What a run leaves behind: the plug, its loss history, and timing."""

    plug: PersonaPlug
    losses: list[tuple[int, float]] = field(default_factory=list)  # (optimizer step, mean loss)
    dev_losses: list[tuple[int, float]] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0


def set_seed(seed: int) -> None:
    """Seed python, numpy and torch (CPU runs are then repeatable)."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_precision(cfg: PPlugConfig) -> str:
    """'bf16' on GPUs that support it when precision is auto, else 'no' (fp32)."""
    if cfg.precision == "fp32":
        return "no"
    if cfg.precision == "bf16":
        return "bf16"
    return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"


def _cpu_only() -> bool:
    """True when torch sees no accelerator (CUDA, XPU, MPS, ...)."""
    acc = getattr(torch, "accelerator", None)  # torch >= 2.6
    return not (acc.is_available() if acc is not None else torch.cuda.is_available())


def augment_history(examples: list[Example], copies: int, seed: int) -> list[Example]:
    """Each example plus `copies` variants with a random share (up to half) of its history dropped, seeded."""
    if copies <= 0:
        return list(examples)
    rng = random.Random(seed)
    out = list(examples)
    for e in examples:
        for _ in range(copies):
            n = len(e.history)
            keep = sorted(rng.sample(range(n), n - rng.randint(0, n // 2))) if n else []
            out.append(
                Example(
                    e.id, e.input, e.query, [e.history[i] for i in keep], [e.profile[i] for i in keep], e.target, e.user
                )
            )
    return out


def batch_loss(
    plug, plm: PPlugLM, hist: HistoryEncoder, batch: list[Example], hide_history: bool = False
) -> torch.Tensor:
    """Mean token NLL of the batch's targets given [I ; P_u ; Emb(x)]."""
    soft, _ = soft_tokens(plug, hist, batch, hide_history)
    return plm.loss([e.input for e in batch], [e.target for e in batch], soft)


@torch.no_grad()
def dev_loss(plug, plm, hist, examples: list[Example], batch_size: int, hide_history: bool = False) -> float:
    """Mean loss over dev examples (weighted by batch size)."""
    total, n = 0.0, 0
    for i in range(0, len(examples), batch_size):
        chunk = examples[i : i + batch_size]
        total += float(batch_loss(plug, plm, hist, chunk, hide_history)) * len(chunk)
        n += len(chunk)
    return total / max(n, 1)


def _optimizer(plug: PersonaPlug, cfg: PPlugConfig) -> torch.optim.Optimizer:
    enc = [p for p in plug.input_encoder.parameters() if p.requires_grad]
    rest = [p for n, p in plug.named_parameters() if p.requires_grad and not n.startswith("input_encoder.")]
    groups = [{"params": rest, "lr": cfg.lr}]
    if enc:
        groups.append({"params": enc, "lr": cfg.encoder_lr})
    return torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)


def train_plug(
    cfg: PPlugConfig,
    plug: PersonaPlug,
    plm: PPlugLM,
    hist: HistoryEncoder,
    train_examples: list[Example],
    dev_examples: list[Example] | None = None,
    hide_history: bool = False,
    out_dir: str | os.PathLike | None = None,
    resume: bool = False,
    stop_after_steps: int | None = None,
    meta: dict | None = None,
) -> TrainResult:
    """Train the plug; only its parameters receive gradients. Saves a resumable state in out_dir when given.

    hide_history=True trains the pplug-no-history control: the very same plug, every history hidden.
    stop_after_steps interrupts the run (to test resuming); resume=True continues from out_dir's state.
    meta is saved beside the weights (e.g. the method name, which `predict` checks).
    """
    from accelerate import Accelerator, DistributedDataParallelKwargs
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    # Some plug weights get no gradient in a step (the encoder's unused pooler; the projector when the
    # history is hidden), so DDP must look for unused parameters.
    # Without an accelerator, accelerate recognises a multi-process launch (torchrun, or `accelerate launch`
    # with mpirun) as distributed (gloo) only when told to use the CPU; otherwise every process would train
    # alone on all the data and all of them would write the same out_dir.
    accelerator = Accelerator(
        cpu=_cpu_only() and int(os.environ.get("WORLD_SIZE", "1")) > 1,
        mixed_precision=pick_precision(cfg),
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )
    set_seed(cfg.seed)
    examples = augment_history(train_examples, cfg.history_dropout_copies, cfg.seed)
    if cfg.max_train_examples:
        examples = examples[: cfg.max_train_examples]
    if any(e.target is None for e in examples):
        raise ValueError("training examples need targets (pass the outputs file)")
    plm.to(accelerator.device)
    hist.encoder.to(accelerator.device)
    # Encode every history item once, before the first step (the cache serves every later epoch).
    all_items = [t for e in examples for t in e.history[-cfg.max_history :]] if not hide_history else []
    hist.encode(list(dict.fromkeys(all_items)), progress=cfg.progress and accelerator.is_main_process)

    steps_per_epoch = math.ceil(len(examples) / (cfg.batch_size * cfg.grad_accum))
    total_steps = max(1, math.ceil(steps_per_epoch * cfg.epochs))
    optimizer = _optimizer(plug, cfg)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total_steps), total_steps)
    plug, optimizer = accelerator.prepare(plug, optimizer)
    raw_plug = accelerator.unwrap_model(plug)
    plm.model.requires_grad_(False)

    state_file = Path(out_dir) / "training_state.pt" if out_dir else None
    result, start_step = TrainResult(plug=raw_plug), 0
    if resume:
        if state_file is None or not state_file.exists():
            raise FileNotFoundError(f"{out_dir}: no training_state.pt to resume from")
        state = torch.load(state_file, weights_only=False)
        raw_plug.load_state_dict(state["plug"], strict=False)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_step, result.losses, result.dev_losses = state["step"], state["losses"], state["dev_losses"]

    world, rank = accelerator.num_processes, accelerator.process_index
    micro = cfg.batch_size  # examples per micro-batch, all processes together
    bar = tqdm(
        total=total_steps,
        initial=start_step,
        desc="training plug" + (" (history hidden)" if hide_history else ""),
        disable=not (cfg.progress and accelerator.is_main_process),
    )
    t0, step, running = time.perf_counter(), 0, []
    plug.train()
    done = False
    for epoch in range(math.ceil(cfg.epochs)):
        order = torch.randperm(len(examples), generator=torch.Generator().manual_seed(cfg.seed * 1000 + epoch)).tolist()
        batches = [order[i : i + micro] for i in range(0, len(order), micro)]
        for i in range(0, len(batches), cfg.grad_accum):
            if step >= total_steps or (stop_after_steps is not None and step >= stop_after_steps):
                done = True
                break
            group = batches[i : i + cfg.grad_accum]
            step += 1
            if step <= start_step:
                continue  # already done before the interruption: the same batches, skipped
            # Gradients of the group's micro-batches add up (averaged), then one optimizer step. Done by hand:
            # accelerate's own counter skips the step of an epoch's short last group and carries its gradient over.
            for pos, idx in enumerate(group):
                mine = [examples[j] for j in idx[rank::world]] or [examples[idx[0]]]
                sync = pos == len(group) - 1  # DDP all-reduces on the group's last backward only
                with contextlib.nullcontext() if sync else accelerator.no_sync(plug), accelerator.autocast():
                    loss = batch_loss(plug, plm, hist, mine, hide_history)
                    accelerator.backward(loss / len(group))
                running.append(float(loss.detach()))
            if cfg.max_grad_norm:
                accelerator.clip_grad_norm_(plug.parameters(), cfg.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad()
            scheduler.step()
            result.losses.append((step, sum(running) / len(running)))
            running = []
            bar.update(1)
            bar.set_postfix(loss=f"{result.losses[-1][1]:.3f}")
            if cfg.eval_every and dev_examples and step % cfg.eval_every == 0 and accelerator.is_main_process:
                plug.eval()
                result.dev_losses.append(
                    (step, dev_loss(raw_plug, plm, hist, dev_examples, cfg.eval_batch_size, hide_history))
                )
                plug.train()
        if done:
            break
    bar.close()
    plug.eval()
    if dev_examples and accelerator.is_main_process and (not result.dev_losses or result.dev_losses[-1][0] != step):
        result.dev_losses.append((step, dev_loss(raw_plug, plm, hist, dev_examples, cfg.eval_batch_size, hide_history)))
    result.seconds, result.steps = time.perf_counter() - t0, step
    if out_dir and accelerator.is_main_process:
        # One folder, replaced as a whole: a kill leaves the previous run or this one, never a mix.
        with atomic_dir(out_dir) as tmp:
            raw_plug.write(
                tmp,
                meta={
                    **(meta or {}),
                    "hide_history": hide_history,
                    "steps": step,
                    "train_seconds": round(result.seconds, 2),
                },
            )
            state = {
                "plug": raw_plug.trainable_state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "step": step,
                "losses": result.losses,
                "dev_losses": result.dev_losses,
            }
            torch.save(state, tmp / state_file.name)
            (tmp / "losses.json").write_text(json.dumps({"train": result.losses, "dev": result.dev_losses}) + "\n")
    accelerator.wait_for_everyone()
    return result
