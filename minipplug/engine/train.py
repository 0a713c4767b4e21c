"""Training the plug (only the plug) with the frozen LLM in the loop, on Hugging Face Accelerate.

The story of a run, one function per step: _prepare (accelerator, examples, optimizer, schedule), _resume (the
saved state of an interrupted run), _step (one optimizer step over a group of micro-batches), _check (dev loss,
the early-stopping monitor), _save (one folder, replaced as a whole) and _finish, run in that order by `train_loop`.
`train` is the entry point: it resolves the method and hands `train_loop` a new plug.

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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..atomic import atomic_dir
from ..config import PPlugConfig
from ..errors import InputError
from ..lamp.data import Example
from ..model.encoder import HistoryEncoder
from ..model.injection import PPlugLM
from ..model.plug import CheckpointError, PersonaPlug, read_plug_config, soft_tokens
from .autostop import AutoLength, AutoStop, split_validation_users
from .fast_step import FastFrozenLLM
from .methods import TRAINABLE, get_method, method_examples, variant_config
from .stack import Stack, new_plug

STATE_TENSORS, STATE_JSON = "training_state.safetensors", "training_state.json"
CPUINFO = "/proc/cpuinfo"  # where Linux lists the CPU's flags
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})  # native bf16 (Cooper Lake, Sapphire Rapids, Zen 4 and later)


@dataclass
class TrainResult:
    """What a run leaves behind: the plug, its loss history, and timing."""

    plug: PersonaPlug
    losses: list[tuple[int, float]] = field(default_factory=list)  # (optimizer step, mean loss)
    dev_losses: list[tuple[int, float]] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0
    autostop: AutoStop | None = None  # the monitor that chose the length, when one did


def set_seed(seed: int) -> None:
    """Seed python, numpy and torch (CPU runs are then repeatable)."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def cpu_flags(path: str = CPUINFO) -> set[str]:
    """The CPU's feature flags as Linux lists them; empty where there is no such file (macOS, Windows)."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return set()
    return {f for line in text.splitlines() if line.startswith("flags") for f in line.split(":", 1)[1].split()}


def cpu_has_bf16(path: str = CPUINFO) -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX), where bf16 matmuls run faster than fp32.

    Decided from the CPU's own flags: oneDNN also answers yes on any AVX-512 CPU (Skylake, Cascade Lake), where
    bf16 is emulated and slower than fp32. Without a flags file (not Linux) the answer is no: fp32, the safe
    choice; --precision bf16 still forces bf16.
    """
    return bool(cpu_flags(path) & BF16_FLAGS)


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
    """Each example plus `copies` variants with part of its history dropped, seeded.

    As the authors' code: a history of more than 2 items loses at least one and at most half of them; a
    shorter one is copied whole.
    """
    if copies <= 0:
        return list(examples)
    rng = random.Random(seed)
    out = list(examples)
    for e in examples:
        for _ in range(copies):
            n = len(e.history)
            drop = rng.randint(1, n // 2) if n > 2 else 0
            keep = sorted(rng.sample(range(n), n - drop))
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


# --- the resumable state: safetensors + JSON, never pickle -------------------------------------------------------


def write_training_state(
    folder: Path, plug_state: dict, optimizer_state: dict, rest: dict, best_state: dict | None = None
) -> None:
    """A resumable state without pickle: every tensor in safetensors, everything else in JSON.

    plug_state: name -> tensor; optimizer_state: an optimizer's state_dict (its per-parameter tensors go to
    safetensors as ``optimizer.<param>.<name>``, its param_groups to JSON); rest: JSON-able values (step,
    losses, the scheduler's state_dict, the monitor's progress, ...); best_state: the early-stopping monitor's
    best plug so far (``best.<name>``).
    """
    from safetensors.torch import save_file

    tensors = {f"plug.{k}": v.detach().cpu().contiguous() for k, v in plug_state.items()}
    tensors |= {f"best.{k}": v.detach().cpu().contiguous() for k, v in (best_state or {}).items()}
    for pid, slots in optimizer_state["state"].items():
        for name, value in slots.items():
            if not isinstance(value, torch.Tensor):
                raise TypeError(f"optimizer state {pid}.{name} is not a tensor: {type(value).__name__}")
            tensors[f"optimizer.{pid}.{name}"] = value.detach().cpu().contiguous()
    save_file(tensors, str(folder / STATE_TENSORS))
    doc = {"format": 1, "optimizer_param_groups": optimizer_state["param_groups"], **rest}
    (folder / STATE_JSON).write_text(json.dumps(doc) + "\n")  # a diverged loss (NaN) is kept as Python reads it


def _read_state_files(folder: Path, check_only: bool) -> tuple[dict, dict]:
    """(tensors, JSON document) of a training state; a missing, truncated, foreign or pickled one is refused."""
    from safetensors import safe_open
    from safetensors.torch import load_file

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
        tensors = {} if check_only else load_file(str(tpath))
    except Exception as e:  # safetensors raises its own error type for a truncated or foreign file
        raise CheckpointError(f"{tpath}: cannot read the training state ({e})") from None
    try:
        doc = json.loads(jpath.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{jpath}: not a readable training state ({e})") from None
    needed = ("format", "optimizer_param_groups", "scheduler", "step", "losses", "dev_losses")
    if not isinstance(doc, dict) or any(k not in doc for k in needed):
        raise CheckpointError(f"{jpath}: a training state must be a JSON object with {', '.join(needed)}")
    return tensors, doc


def read_training_state(folder: str | os.PathLike, check_only: bool = False) -> tuple[dict, dict, dict, dict] | None:
    """(plug_state, optimizer_state, rest, best_state) as write_training_state wrote them; never unpickles.

    A missing, truncated or foreign file is a CheckpointError naming it; a legacy pickled training_state.pt
    is refused rather than loaded (unpickling can run arbitrary code). check_only reads the tensors file's header
    and the JSON only (the CLI's check before the models load) and returns None.
    """
    tensors, doc = _read_state_files(Path(folder), check_only)
    if check_only:
        return None
    by_prefix: dict[str, dict] = {"plug": {}, "best": {}, "optimizer": {}}
    for k, v in tensors.items():
        prefix, name = k.split(".", 1)
        by_prefix[prefix][name] = v
    opt: dict[int, dict] = {}
    for k, v in by_prefix["optimizer"].items():
        pid, name = k.split(".", 1)
        opt.setdefault(int(pid), {})[name] = v
    optimizer_state = {"state": dict(sorted(opt.items())), "param_groups": doc.pop("optimizer_param_groups")}
    return by_prefix["plug"], optimizer_state, doc, by_prefix["best"]


# --- the run: prepare, resume, step, check, save, finish ---------------------------------------------------------


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


@dataclass
class _Run:
    """One run's moving parts: built by _prepare, advanced by _step, written by _save."""

    cfg: PPlugConfig
    accelerator: Any
    plug: Any  # the plug as accelerate wraps it (DDP in a multi-process run): the training steps call this
    raw_plug: PersonaPlug  # the same weights unwrapped: evaluated, checked and saved
    plm: PPlugLM
    hist: HistoryEncoder
    examples: list[Example]
    dev_examples: list[Example] | None
    hide_history: bool
    optimizer: torch.optim.Optimizer
    scheduler: Any
    total_steps: int
    out_dir: Path | None
    meta: dict
    monitor: AutoStop | None
    result: TrainResult
    fast: FastFrozenLLM  # the frozen LLM as the training steps run it
    start_step: int = 0  # steps already done before an interruption


def _accelerator(cfg: PPlugConfig):
    """A fresh Accelerator for this run's precision, on the CPU (gloo) for a multi-process launch without GPUs."""
    from accelerate import Accelerator, DistributedDataParallelKwargs
    from accelerate.state import AcceleratorState

    # accelerate keeps one mixed-precision setting per process; a run may ask for another than the last one did
    # (fp32 then bf16 in one notebook or benchmark), so its state is reset (the process group, if any, stays).
    AcceleratorState._reset_state(reset_partial_state=False)
    return Accelerator(
        # Without an accelerator, accelerate takes a multi-process launch (torchrun, or `accelerate launch` with
        # mpirun) as distributed (gloo) only when told to use the CPU; otherwise every process would train
        # alone on all the data and all of them would write the same out_dir.
        cpu=_cpu_only() and int(os.environ.get("WORLD_SIZE", "1")) > 1,
        mixed_precision=pick_precision(cfg),
        # Some plug weights get no gradient in a step (the encoder's unused pooler; the projector when the
        # history is hidden), so DDP must look for unused parameters.
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )


def _from_rank0(accelerator) -> Any:
    """share(values) for AutoStop: rank 0's values in every process (one broadcast), so all decide alike."""
    from accelerate.utils import broadcast

    def share(values: list[float]) -> list[float]:
        return broadcast(torch.tensor(values, dtype=torch.float64, device=accelerator.device), 0).tolist()

    return share


def _prepare(
    cfg: PPlugConfig, plug: PersonaPlug, plm: PPlugLM, hist: HistoryEncoder, examples: list[Example], **run: Any
) -> _Run:
    """Accelerator, augmented examples with their histories encoded once, optimizer and learning-rate schedule."""
    from transformers import get_linear_schedule_with_warmup

    accelerator = _accelerator(cfg)
    set_seed(cfg.seed)
    examples = augment_history(examples, cfg.history_dropout_copies, cfg.seed)
    if any(e.target is None for e in examples):
        raise ValueError("training examples need targets (pass the outputs file)")
    plm.to(accelerator.device)
    hist.encoder.to(accelerator.device)
    # Encode every history item once, before the first step (the cache serves every later epoch).
    items = [] if run["hide_history"] else [t for e in examples for t in e.history[-cfg.max_history :]]
    hist.encode(list(dict.fromkeys(items)), progress=cfg.progress and accelerator.is_main_process)
    total_steps = max(1, math.ceil(_steps_per_epoch(cfg, len(examples)) * cfg.epochs))
    optimizer = _optimizer(plug, cfg)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total_steps), total_steps)
    wrapped, optimizer = accelerator.prepare(plug, optimizer)
    # keep_fp32_wrapper=False: the plug handed back must not keep accelerate's autocast patch on its forward,
    # or the trained plug would compute in bf16 where a loaded copy of it computes in fp32. Training steps run
    # under the explicit accelerator.autocast() in _step.
    raw_plug = accelerator.unwrap_model(wrapped, keep_fp32_wrapper=False)
    plm.model.requires_grad_(False)
    monitor = run["monitor"]
    if monitor is not None and accelerator.num_processes > 1:
        monitor.share = _from_rank0(accelerator)
    result = TrainResult(plug=raw_plug, autostop=monitor)
    fast = FastFrozenLLM.for_training(plm.model, accelerator.mixed_precision, accelerator.device)
    return _Run(
        cfg,
        accelerator,
        wrapped,
        raw_plug,
        plm,
        hist,
        examples,
        optimizer=optimizer,
        scheduler=scheduler,
        total_steps=total_steps,
        result=result,
        fast=fast,
        **run,
    )


def _steps_per_epoch(cfg: PPlugConfig, n_examples: int) -> int:
    return math.ceil(n_examples / (cfg.batch_size * cfg.grad_accum))


def _resume(run: _Run) -> None:
    """Continue the interrupted run saved in out_dir: plug, optimizer, schedule, losses and monitor as they were."""
    if not run.out_dir:
        raise CheckpointError("resuming needs the checkpoint folder of the interrupted run")
    plug_state, optimizer_state, rest, best = read_training_state(run.out_dir)
    saved_cfg = read_plug_config(run.out_dir)["config"]
    now = json.loads(json.dumps(run.cfg.training_fields()))  # as JSON holds it (tuples become lists)
    changed = sorted(k for k, v in now.items() if k in saved_cfg and saved_cfg[k] != v)
    if changed:
        raise CheckpointError(
            f"{run.out_dir}: the interrupted run was trained with other settings ({', '.join(changed)}); "
            "resume with the same settings or train afresh without --resume"
        )
    if (run.monitor is None) != ("monitor" not in rest):
        saved = "automatic" if "monitor" in rest else "a fixed number of epochs"
        raise CheckpointError(f"{run.out_dir}: the interrupted run's length was {saved}; resume it the same way")
    missing, unexpected = run.raw_plug.load_state_dict(plug_state, strict=False)
    if unexpected or any(k in run.raw_plug.trainable_state_dict() for k in missing):
        raise CheckpointError(f"{run.out_dir}: the training state does not match this plug")
    run.optimizer.load_state_dict(optimizer_state)
    run.scheduler.load_state_dict(rest["scheduler"])
    run.start_step, run.result.seconds = rest["step"], rest.get("seconds", 0.0)
    run.result.losses = [tuple(x) for x in rest["losses"]]
    run.result.dev_losses = [tuple(x) for x in rest["dev_losses"]]
    if run.monitor is not None:
        run.monitor.load_state_dict(rest["monitor"], best)


def _schedule(cfg: PPlugConfig, n_examples: int, total_steps: int) -> Iterator[tuple[int, list[list[int]]]]:
    """(optimizer step, its group of micro-batches of example indices), epoch after epoch, seeded per epoch.

    The same seed gives the same groups whatever happened before, so a resumed run meets exactly the batches
    the uninterrupted one met.
    """
    micro, step = cfg.batch_size, 0  # examples per micro-batch, all processes together
    for epoch in range(math.ceil(cfg.epochs)):
        order = torch.randperm(n_examples, generator=torch.Generator().manual_seed(cfg.seed * 1000 + epoch)).tolist()
        batches = [order[i : i + micro] for i in range(0, len(order), micro)]
        for i in range(0, len(batches), cfg.grad_accum):
            if step >= total_steps:
                return
            step += 1
            yield step, batches[i : i + cfg.grad_accum]


def _step(run: _Run, group: list[list[int]]) -> float:
    """One optimizer step over a group of micro-batches; returns their mean loss."""
    acc, world, rank = run.accelerator, run.accelerator.num_processes, run.accelerator.process_index
    losses = []
    # Gradients of the group's micro-batches add up (averaged), then one optimizer step. Done by hand:
    # accelerate's own counter skips the step of an epoch's short last group and carries its gradient over.
    for pos, idx in enumerate(group):
        mine = [run.examples[j] for j in idx[rank::world]] or [run.examples[idx[0]]]  # this process's share
        sync = pos == len(group) - 1  # DDP all-reduces on the group's last backward only
        with contextlib.nullcontext() if sync else acc.no_sync(run.plug), run.fast.engaged(), acc.autocast():
            loss = batch_loss(run.plug, run.plm, run.hist, mine, run.hide_history)
            acc.backward(loss / len(group))
        losses.append(float(loss.detach()))
    if run.cfg.max_grad_norm:
        acc.clip_grad_norm_(run.plug.parameters(), run.cfg.max_grad_norm)
    run.optimizer.step()
    run.optimizer.zero_grad()
    run.scheduler.step()
    return sum(losses) / len(losses)


def _dev_loss(run: _Run) -> float:
    return dev_loss(run.raw_plug, run.plm, run.hist, run.dev_examples, run.cfg.eval_batch_size, run.hide_history)


def _check(run: _Run, step: int) -> bool:
    """After a step: the dev loss when due (main process), then the monitor; True when the monitor stops the run."""
    cfg, acc = run.cfg, run.accelerator
    if cfg.eval_every and run.dev_examples and step % cfg.eval_every == 0 and acc.is_main_process:
        run.plug.eval()
        run.result.dev_losses.append((step, _dev_loss(run)))
        run.plug.train()
    if run.monitor is None:
        return False
    with _validating(run):
        return run.monitor(step, run.raw_plug)


def _validating(run: _Run) -> contextlib.ExitStack:
    """The monitor's checks under the training's autocast with the bf16 block weights (bf16 matmuls where the
    training has them); only the stopping signal reads these losses (the dev loss stays fp32)."""
    stack = contextlib.ExitStack()
    stack.enter_context(run.fast.engaged(step=False))
    stack.enter_context(run.accelerator.autocast())
    return stack


def _save(run: _Run, step: int, seconds: float, last_state: dict | None = None) -> None:
    """Write out_dir, replaced as a whole: the plug, and the state to resume from (optimizer, schedule, monitor).

    The state's plug is last_state when given (the last step's weights, to which the optimizer and schedule
    belong), while plug.safetensors holds the plug as it is now (at the end: the one validation chose).
    """
    result, monitor = run.result, run.monitor
    rest = {"scheduler": run.scheduler.state_dict(), "step": step, "seconds": seconds}
    rest |= {"losses": result.losses, "dev_losses": result.dev_losses}
    best = None
    if monitor is not None:
        rest["monitor"], best = monitor.state_dict()
    # One folder, replaced as a whole: a kill leaves the previous save or this one, never a mix.
    with atomic_dir(run.out_dir) as tmp:
        length = "auto" if run.monitor is not None else "epochs"  # compare reuses a plug of the same kind only
        info = {"hide_history": run.hide_history, "steps": step, "train_seconds": round(seconds, 2), "length": length}
        run.raw_plug.write(tmp, meta={**run.meta, **info})
        state = last_state or run.raw_plug.trainable_state_dict()
        write_training_state(tmp, state, run.optimizer.state_dict(), rest, best)
        (tmp / "losses.json").write_text(json.dumps({"train": result.losses, "dev": result.dev_losses}) + "\n")


def _finish(run: _Run, step: int, seconds: float, ended: bool) -> None:
    """The monitor's last check and its best plug back in; the final dev loss; the final save.

    ended=False (an interruption asked for by stop_after_steps) saves the run as it stands, to be resumed.
    """
    run.plug.eval()
    last_state = {k: v.detach().clone() for k, v in run.raw_plug.trainable_state_dict().items()}
    if run.monitor is not None and ended:
        with _validating(run):
            run.monitor.finish(step, run.raw_plug)  # a last check, then the best state goes back into the plug
        run.monitor.restore_best(run.raw_plug)
    dev, done = run.dev_examples, run.result.dev_losses
    if dev and run.accelerator.is_main_process and (not done or done[-1][0] != step):
        done.append((step, _dev_loss(run)))
    run.result.seconds, run.result.steps = seconds, step
    if run.out_dir and run.accelerator.is_main_process:
        _save(run, step, seconds, last_state)
    run.accelerator.wait_for_everyone()


def _progress_bar(run: _Run):
    """A tqdm bar over the run's optimizer steps (main process only), starting where a resumed run starts."""
    from tqdm.auto import tqdm

    desc = "training no-history control" if run.hide_history else "training plug"
    show = run.cfg.progress and run.accelerator.is_main_process
    return tqdm(total=run.total_steps, initial=run.start_step, desc=desc, disable=not show)


def train_loop(
    cfg: PPlugConfig,
    plug: PersonaPlug,
    plm: PPlugLM,
    hist: HistoryEncoder,
    examples: list[Example],
    dev_examples: list[Example] | None = None,
    *,
    hide_history: bool = False,
    out_dir: str | os.PathLike | None = None,
    resume: bool = False,
    save_every: int = 0,
    monitor: AutoStop | None = None,
    meta: dict | None = None,
    stop_after_steps: int | None = None,
) -> TrainResult:
    """The training loop: only the plug's parameters receive gradients (see `train` for the parameters).

    stop_after_steps interrupts the run after that step, saving it as a kill after a save would (tests).
    """
    run = _prepare(
        cfg,
        plug,
        plm,
        hist,
        examples,
        dev_examples=dev_examples,
        hide_history=hide_history,
        out_dir=Path(out_dir) if out_dir else None,
        meta=meta or {},
        monitor=monitor,
    )
    if resume:
        _resume(run)
    main, bar = run.accelerator.is_main_process, _progress_bar(run)
    t0, seconds_before = time.perf_counter(), run.result.seconds  # seconds: those of the run before it resumed
    step, interrupted = run.start_step, False
    finished_before = monitor is not None and bool(monitor.reason)  # resuming a run that had already stopped
    if monitor is not None:
        monitor.start()
    run.plug.train()
    for step, group in () if finished_before else _schedule(cfg, len(run.examples), run.total_steps):
        if step <= run.start_step:
            continue  # done before the interruption: the same batches, skipped
        run.result.losses.append((step, _step(run, group)))
        bar.update(1)
        bar.set_postfix(loss=f"{run.result.losses[-1][1]:.3f}")
        if _check(run, step):
            break  # the monitor's rule ended the run (patience or the time cap)
        if step == stop_after_steps:
            interrupted = True
            break
        if save_every and run.out_dir and step % save_every == 0 and step < run.total_steps and main:
            _save(run, step, seconds_before + time.perf_counter() - t0)
    bar.close()
    _finish(run, step, seconds_before + time.perf_counter() - t0, ended=not interrupted)
    return run.result


def train(
    stack: Stack,
    train_ex: list[Example],
    dev_ex: list[Example] | None = None,
    method: str = "pplug",
    *,
    cfg: PPlugConfig | None = None,
    out_dir: str | os.PathLike | None = None,
    resume: bool = False,
    save_every: int = 0,
    auto: AutoLength | None = None,
    stop_after_steps: int | None = None,
) -> TrainResult:
    """Train a plug for `pplug`, a variant or the `pplug-no-history` control (the same plug, histories hidden).

    The run's config is cfg (default: the stack's); its max_train_examples cuts the training file first. A
    variant trains with its own config override and, for pplug+retrieval, its retrieval prompts; the method
    name is saved beside the weights so that `predict` can refuse a checkpoint trained as something else.
    out_dir: the checkpoint folder, written at the end and every save_every optimizer steps (replaced as a
    whole), so that a killed run resumes from its last save (resume=True) and ends with the same plug, bit for
    bit. auto: decide the length on validation users held out of train_ex instead of cfg.epochs;
    result.autostop then says what was chosen and why.
    """
    if method not in TRAINABLE:
        raise InputError(f"train --method must be one of {', '.join(TRAINABLE)}, got '{method}'")
    spec = get_method(method)  # the method, looked up once
    cfg = variant_config(cfg or stack.cfg, spec)
    if cfg.max_train_examples:
        train_ex = train_ex[: cfg.max_train_examples]  # cut first: validation then comes out of the cut
    hist = stack.hist
    reads = dict(tokenizer=stack.plm.tokenizer, max_input_tokens=cfg.max_input_tokens, hist=hist)
    train_ex = method_examples(spec, train_ex, stack.task, **reads)
    dev_ex = method_examples(spec, dev_ex, stack.task, **reads) if dev_ex else dev_ex
    hide = method == "pplug-no-history"
    monitor = None
    if auto is not None:
        train_ex, monitor = validation_monitor(stack, cfg, train_ex, auto, hide)
        cfg = cfg.replace(epochs=auto.max_epochs)
    return train_loop(
        cfg,
        new_plug(stack, cfg),
        stack.plm,
        hist,
        train_ex,
        dev_ex,
        hide_history=hide,
        out_dir=out_dir,
        meta={"method": method},
        resume=resume,
        save_every=save_every,
        monitor=monitor,
        stop_after_steps=stop_after_steps,
    )


def validation_monitor(
    stack: Stack, cfg: PPlugConfig, examples: list[Example], auto: AutoLength, hide: bool
) -> tuple[list[Example], AutoStop]:
    """(the examples left to train on, the monitor that validates on the held-out users)."""
    fit, val = split_validation_users(examples, auto.share, cfg.seed, auto.max_validation)
    every = auto.every or max(1, _steps_per_epoch(cfg, len(fit)) // 2)  # twice per epoch
    # The validation score: the mean answer-token NLL of the held-out users (lower is better).
    loss = lambda p: dev_loss(p, stack.plm, stack.hist, val, cfg.eval_batch_size, hide)  # noqa: E731
    monitor = AutoStop(loss, every, auto.patience, auto.max_seconds, auto.max_epochs)
    users = len({e.user if e.user is not None else e.id for e in val})
    monitor.validation = f"{len(val)} questions of {users} held-out users (at most {auto.max_validation})"
    return fit, monitor
