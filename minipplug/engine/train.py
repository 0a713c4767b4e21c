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
from ..errors import InputError
from ..lamp.data import Example
from ..model.encoder import HistoryEncoder
from ..model.injection import PPlugLM
from ..model.plug import CheckpointError, PersonaPlug, read_plug_config, soft_tokens
from .autostop import AutoLength, AutoStop, split_validation_users
from .methods import TRAINABLE, get_method, method_examples, variant_config
from .stack import Stack, new_plug

STATE_TENSORS, STATE_JSON = "training_state.safetensors", "training_state.json"


@dataclass
class TrainResult:
    """What a run leaves behind: the plug, its loss history, and timing."""

    plug: PersonaPlug
    losses: list[tuple[int, float]] = field(default_factory=list)  # (optimizer step, mean loss)
    dev_losses: list[tuple[int, float]] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0
    autostop: object = None  # the engine.autostop.AutoStop that chose the length, when one did


def set_seed(seed: int) -> None:
    """Seed python, numpy and torch (CPU runs are then repeatable)."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX), where bf16 matmuls run ~4x faster."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # an older torch, or a build without oneDNN
        return False


def pick_precision(cfg: PPlugConfig) -> str:
    """accelerate's mixed_precision: 'bf16' for precision bf16, and for auto on a GPU or CPU with native bf16
    (fp16 on older GPUs); 'no' (fp32) otherwise. The weights stay fp32; autocast runs the matmuls in bf16."""
    if cfg.precision == "fp32":
        return "no"
    if cfg.precision == "bf16":
        return "bf16"
    if torch.cuda.is_available():
        # Ampere and newer compute bf16 natively; older GPUs (a Colab T4) would only emulate it: fp16 there.
        return "bf16" if torch.cuda.get_device_capability() >= (8, 0) else "fp16"
    return "bf16" if _cpu_only() and cpu_has_bf16() else "no"


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


def write_training_state(folder: Path, plug_state: dict, optimizer_state: dict, rest: dict) -> None:
    """A resumable state without pickle: every tensor in safetensors, everything else in JSON.

    plug_state: name -> tensor; optimizer_state: an optimizer's state_dict (its per-parameter tensors go to
    safetensors as ``optimizer.<param>.<name>``, its param_groups to JSON); rest: JSON-able values (step,
    losses, the scheduler's state_dict, ...).
    """
    from safetensors.torch import save_file

    tensors = {f"plug.{k}": v.detach().cpu().contiguous() for k, v in plug_state.items()}
    for pid, slots in optimizer_state["state"].items():
        for name, value in slots.items():
            if not isinstance(value, torch.Tensor):
                raise TypeError(f"optimizer state {pid}.{name} is not a tensor: {type(value).__name__}")
            tensors[f"optimizer.{pid}.{name}"] = value.detach().cpu().contiguous()
    save_file(tensors, str(folder / STATE_TENSORS))
    doc = {"format": 1, "optimizer_param_groups": optimizer_state["param_groups"], **rest}
    (folder / STATE_JSON).write_text(json.dumps(doc) + "\n")  # a diverged loss (NaN) is kept as Python reads it


def read_training_state(folder: str | os.PathLike, check_only: bool = False) -> tuple[dict, dict, dict] | None:
    """(plug_state, optimizer_state, rest) as write_training_state wrote them; never unpickles anything.

    A missing, truncated or foreign file is a CheckpointError naming it; a legacy pickled training_state.pt
    is refused rather than loaded (unpickling can run arbitrary code). check_only reads the tensors file's header
    and the JSON only (the CLI's check before the models load) and returns None.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    folder = Path(folder)
    tpath, jpath = folder / STATE_TENSORS, folder / STATE_JSON
    if not tpath.is_file() or not jpath.is_file():
        legacy = folder / "training_state.pt"
        if legacy.exists():
            raise CheckpointError(
                f"{legacy}: a pickled training state from an older version; it is not loaded (unpickling can run "
                "code). Train again without --resume"
            )
        raise CheckpointError(f"{folder}: no training state to resume from ({STATE_TENSORS} + {STATE_JSON})")
    try:
        if check_only:
            with safe_open(str(tpath), "pt") as f:
                f.keys()
            tensors = {}
        else:
            tensors = load_file(str(tpath))
    except Exception as e:  # safetensors raises its own error type for a truncated or foreign file
        raise CheckpointError(f"{tpath}: cannot read the training state ({e})") from None
    try:
        doc = json.loads(jpath.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{jpath}: not a readable training state ({e})") from None
    needed = ("format", "optimizer_param_groups", "scheduler", "step", "losses", "dev_losses")
    if not isinstance(doc, dict) or any(k not in doc for k in needed):
        raise CheckpointError(f"{jpath}: a training state must be a JSON object with {', '.join(needed)}")
    if check_only:
        return None
    plug_state = {k[len("plug.") :]: v for k, v in tensors.items() if k.startswith("plug.")}
    opt: dict[int, dict] = {}
    for k, v in tensors.items():
        if k.startswith("optimizer."):
            _, pid, name = k.split(".", 2)
            opt.setdefault(int(pid), {})[name] = v
    optimizer_state = {"state": dict(sorted(opt.items())), "param_groups": doc.pop("optimizer_param_groups")}
    return plug_state, optimizer_state, doc


def _optimizer(plug: PersonaPlug, cfg: PPlugConfig) -> torch.optim.Optimizer:
    # As Hugging Face's Trainer (the authors' optimizer): no weight decay on biases and LayerNorm weights,
    # so two groups per learning rate (decayed, not decayed); empty groups are left out.
    norms = [(m, mod) for m, mod in plug.named_modules() if isinstance(mod, torch.nn.LayerNorm)]
    in_norm = {f"{m}.{n}" if m else n for m, mod in norms for n, _ in mod.named_parameters(recurse=False)}
    groups = []
    for in_encoder, lr in ((False, cfg.lr), (True, cfg.encoder_lr)):
        named = [
            (n, p)
            for n, p in plug.named_parameters()
            if p.requires_grad and n.startswith("input_encoder.") == in_encoder
        ]
        exempt = [n in in_norm or "bias" in n for n, _ in named]
        for no_decay, decay in ((False, cfg.weight_decay), (True, 0.0)):
            params = [p for (_, p), ex in zip(named, exempt) if ex == no_decay]
            if params:
                groups.append({"params": params, "lr": lr, "weight_decay": decay})
    return torch.optim.AdamW(groups)


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
    save_every: int = 0,
    monitor=None,
) -> TrainResult:
    """Train the plug; only its parameters receive gradients. Saves a resumable state in out_dir when given.

    hide_history=True trains the pplug-no-history control: the very same plug, every history hidden.
    stop_after_steps interrupts the run (to test resuming); resume=True continues from out_dir's state.
    meta is saved beside the weights (e.g. the method name, which `predict` checks).
    save_every=N also writes out_dir (plug + resumable state, the folder replaced as a whole) every N optimizer
    steps, so that a killed run resumes from its last save and ends with the same plug, bit for bit.
    monitor (engine.autostop.AutoStop) is called after every optimizer step and may end training early; at the
    end it puts its best plug state back, so that the saved plug is the one validation chose.
    """
    from accelerate import Accelerator, DistributedDataParallelKwargs

    # Some plug weights get no gradient in a step (the encoder's unused pooler; the projector when the
    # history is hidden), so DDP must look for unused parameters.
    # Without an accelerator, accelerate recognises a multi-process launch (torchrun, or `accelerate launch`
    # with mpirun) as distributed (gloo) only when told to use the CPU; otherwise every process would train
    # alone on all the data and all of them would write the same out_dir.
    # accelerate keeps one mixed-precision setting per process; a run may ask for another than the last one did
    # (fp32 then bf16 in one notebook or benchmark), so its state is reset (the process group, if any, stays).
    from accelerate.state import AcceleratorState
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    AcceleratorState._reset_state(reset_partial_state=False)
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
    # keep_fp32_wrapper=False: the plug handed back must not keep accelerate's autocast patch on its forward,
    # or the trained plug would compute in bf16 where a loaded copy of it computes in fp32. Training steps run
    # under the explicit accelerator.autocast() below.
    raw_plug = accelerator.unwrap_model(plug, keep_fp32_wrapper=False)
    plm.model.requires_grad_(False)

    result, start_step = TrainResult(plug=raw_plug), 0
    if resume:
        if not out_dir:
            raise CheckpointError("resuming needs the checkpoint folder of the interrupted run")
        plug_state, optimizer_state, rest = read_training_state(out_dir)
        saved_cfg = read_plug_config(out_dir)["config"]
        now = json.loads(json.dumps(cfg.training_fields()))  # as JSON holds it (tuples become lists)
        changed = sorted(k for k, v in now.items() if k in saved_cfg and saved_cfg[k] != v)
        if changed:
            raise CheckpointError(
                f"{out_dir}: the interrupted run was trained with other settings ({', '.join(changed)}); "
                "resume with the same settings or train afresh without --resume"
            )
        missing, unexpected = raw_plug.load_state_dict(plug_state, strict=False)
        if unexpected or any(k in raw_plug.trainable_state_dict() for k in missing):
            raise CheckpointError(f"{out_dir}: the training state does not match this plug")
        optimizer.load_state_dict(optimizer_state)
        scheduler.load_state_dict(rest["scheduler"])
        start_step = rest["step"]
        result.losses = [tuple(x) for x in rest["losses"]]
        result.dev_losses = [tuple(x) for x in rest["dev_losses"]]

    def save(step: int, seconds: float) -> None:
        # One folder, replaced as a whole: a kill leaves the previous save or this one, never a mix.
        with atomic_dir(out_dir) as tmp:
            info = {"hide_history": hide_history, "steps": step, "train_seconds": round(seconds, 2)}
            raw_plug.write(tmp, meta={**(meta or {}), **info})
            write_training_state(
                tmp,
                raw_plug.trainable_state_dict(),
                optimizer.state_dict(),
                {
                    "scheduler": scheduler.state_dict(),
                    "step": step,
                    "losses": result.losses,
                    "dev_losses": result.dev_losses,
                },
            )
            (tmp / "losses.json").write_text(json.dumps({"train": result.losses, "dev": result.dev_losses}) + "\n")

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
            if save_every and out_dir and step % save_every == 0 and step < total_steps and accelerator.is_main_process:
                save(step, time.perf_counter() - t0)
            if monitor is not None and monitor(step, raw_plug):
                done = True
                break
        if done:
            break
    bar.close()
    plug.eval()
    if monitor is not None:
        monitor.finish(step, raw_plug)  # a last check, then the best state goes back into the plug
    if dev_examples and accelerator.is_main_process and (not result.dev_losses or result.dev_losses[-1][0] != step):
        result.dev_losses.append((step, dev_loss(raw_plug, plm, hist, dev_examples, cfg.eval_batch_size, hide_history)))
    result.seconds, result.steps = time.perf_counter() - t0, step
    if out_dir and accelerator.is_main_process:
        save(step, result.seconds)
    accelerator.wait_for_everyone()
    return result


def train(
    stack: Stack,
    train_ex: list[Example],
    dev_ex: list[Example] | None,
    method: str = "pplug",
    out_dir: str | os.PathLike | None = None,
    cfg: PPlugConfig | None = None,
    resume: bool = False,
    save_every: int = 0,
    auto: AutoLength | None = None,
) -> TrainResult:
    """Train a plug for `pplug`, a variant or the `pplug-no-history` control (the same plug, histories hidden).

    A variant trains with its own config override and, for pplug+retrieval, its retrieval prompts; the method
    name is saved beside the weights so that `predict` can refuse a checkpoint trained as something else.
    resume and save_every: see train_plug. auto: decide the length from validation users instead of cfg.epochs
    (result.autostop then says what was chosen and why).
    """
    if method not in TRAINABLE:
        raise InputError(f"train --method must be one of {', '.join(TRAINABLE)}, got '{method}'")
    cfg = variant_config(cfg or stack.cfg, get_method(method))
    reads = dict(tokenizer=stack.plm.tokenizer, max_input_tokens=cfg.max_input_tokens, hist=stack.hist)
    train_ex = method_examples(get_method(method), train_ex, stack.task, **reads)
    dev_ex = method_examples(get_method(method), dev_ex, stack.task, **reads) if dev_ex else dev_ex
    plug = new_plug(stack, cfg)
    hide = method == "pplug-no-history"
    monitor = None
    if auto is not None:
        train_ex, val = split_validation_users(train_ex, auto.share, cfg.seed)
        every = auto.every or max(1, math.ceil(len(train_ex) / (cfg.batch_size * cfg.grad_accum)) // 2)
        # The validation score: the mean answer-token NLL of the held-out users (lower is better).
        loss = lambda p: dev_loss(p, stack.plm, stack.hist, val, cfg.eval_batch_size, hide)  # noqa: E731
        monitor = AutoStop(loss, every, auto.patience, auto.max_seconds, auto.max_epochs)
        cfg = cfg.replace(epochs=auto.max_epochs)
    result = train_plug(
        cfg,
        plug,
        stack.plm,
        stack.hist,
        train_ex,
        dev_ex,
        hide_history=hide,
        out_dir=out_dir,
        meta={"method": method},
        resume=resume,
        save_every=save_every,
        monitor=monitor,
    )
    result.autostop = monitor
    return result
