"""Wiring: load the models a config names, train a plug, evaluate a method into a results row."""

from __future__ import annotations

import math
import os
import resource
import sys
from dataclasses import dataclass

import torch

from ..config import PPlugConfig, cache_dir
from ..errors import InputError
from ..lamp.data import Example
from ..lamp.metrics import metric_keys, top_share
from ..lamp.tasks import get_task
from ..model.encoder import HistoryEncoder, SentenceEncoder
from ..model.injection import PPlugLM, embedding_scale
from ..model.plug import PersonaPlug, build_plug, load_plug
from .autostop import AutoStop, split_validation_users, validation_loss
from .loading import load_encoder, load_llm
from .methods import TRAINABLE, get_method, method_examples, variant_config
from .predict import evaluate, predict
from .train import TrainResult, train_plug


@dataclass
class Stack:
    """The frozen pieces of a run: the LLM wrapper and the history encoder (with its cache)."""

    cfg: PPlugConfig
    plm: PPlugLM
    encoder: SentenceEncoder
    hist: HistoryEncoder


def pick_device() -> torch.device:
    """cuda, then mps, then cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def load_stack(cfg: PPlugConfig, device: torch.device | None = None, disk_cache: bool = True) -> Stack:
    """Load the frozen LLM and the encoder named by cfg (offline defaults unless a hub name is given)."""
    device = device or pick_device()
    llm = load_llm(cfg.llm)
    plm = PPlugLM(llm, cfg.chat_template, cfg.max_input_tokens, cfg.soft_position).to(device)
    tok, model, pooling = load_encoder(cfg.encoder)
    encoder = SentenceEncoder(tok, model.to(device), pooling, cfg.max_encoder_tokens)
    hist = HistoryEncoder(encoder, cfg.encoder, disk_dir=cache_dir() / "history_vectors" if disk_cache else None)
    return Stack(cfg, plm, encoder, hist)


def new_plug(stack: Stack, cfg: PPlugConfig | None = None) -> PersonaPlug:
    """A freshly initialised plug (seeded) for the stack's encoder and LLM."""
    cfg = cfg or stack.cfg
    return build_plug(cfg, stack.encoder, stack.plm.dim, embedding_scale(stack.plm.model)).to(stack.plm.device)


def open_plug(stack: Stack, ckpt: str | os.PathLike) -> PersonaPlug:
    """A saved plug, checked against the stack's LLM width."""
    return load_plug(ckpt, stack.encoder, stack.plm.dim).to(stack.plm.device)


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
    cfg = variant_config(cfg or stack.cfg, method)
    tok, hist = stack.plm.tokenizer, stack.hist
    train_ex = method_examples(method, train_ex, cfg.task, tok, cfg.max_input_tokens, hist)
    dev_ex = method_examples(method, dev_ex, cfg.task, tok, cfg.max_input_tokens, hist) if dev_ex else dev_ex
    plug = new_plug(stack, cfg)
    hide = method == "pplug-no-history"
    monitor = None
    if auto is not None:
        train_ex, val = split_validation_users(train_ex, auto.share, cfg.seed)
        every = auto.every or max(1, math.ceil(len(train_ex) / (cfg.batch_size * cfg.grad_accum)) // 2)
        loss = validation_loss(stack.plm, stack.hist, val, cfg.eval_batch_size, hide)
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


@dataclass(frozen=True)
class AutoLength:
    """How `train` decides its length when no epoch count is given (see engine.autostop)."""

    share: float = 0.15  # of the training users held out for validation
    every: int = 0  # optimizer steps between validation checks (0: twice per epoch)
    patience: int = 3  # checks without a gain before stopping
    max_epochs: float = 8.0  # the epoch cap (also the length of the learning-rate schedule)
    max_seconds: float = 1200.0  # the time cap


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far (MB), or peak CUDA memory on a GPU."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (2**20 if sys.platform == "darwin" else 2**10)


class PeakMemory:
    """Peak memory (MB) inside a `with` block: CUDA's counter on a GPU, sampled process RSS on a CPU."""

    def __enter__(self) -> "PeakMemory":
        self.mb = 0.0
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
            return self
        import threading

        import psutil

        proc, self._stop = psutil.Process(), threading.Event()

        def sample():
            while True:
                self.mb = max(self.mb, proc.memory_info().rss / 2**20)
                if self._stop.wait(0.02):
                    break

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if torch.cuda.is_available():
            self.mb = torch.cuda.max_memory_allocated() / 2**20
        else:
            self._stop.set()
            self._thread.join()


def result_row(
    stack: Stack,
    examples: list[Example],
    task: str,
    method: str,
    plug: PersonaPlug | None = None,
    decoding: str = "generate",
    split: str = "dev",
    prompts: list[str] | None = None,
    label: str | None = None,
    progress: bool = True,
    train_seconds: float | None = None,
) -> dict:
    """Predict with a method (its examples already as method_examples gives them) and return its results row:
    official metrics, prompt tokens, seconds per example, and how concentrated the answers are."""
    with PeakMemory() as mem:
        pred = predict(
            examples,
            task,
            stack.plm,
            plug,
            stack.hist,
            get_method(method).soft,
            decoding,
            stack.cfg.eval_batch_size,
            stack.cfg.num_beams,
            prompts=prompts,
            progress=progress,
        )
    metrics = evaluate(examples, task, pred)
    row = {"method": label or method, "task": get_task(task).name, "split": split, "decoding": decoding}
    row.update({k: round(metrics[k], 4) for k in metric_keys(task)})
    row.update(
        {
            "prompt_tokens_mean": round(pred.prompt_tokens_mean, 1),
            "seconds_per_example": round(pred.seconds_per_example, 4),
            "examples": len(examples),
            "peak_memory_mb": round(mem.mb, 1),
        }
    )
    if get_task(task).labels:
        # Collapse shows here: a plug that answers one label everywhere has a top share far above the gold's.
        label, share = top_share(list(pred.answers.values()))
        row.update(
            {
                "top_answer": label,
                "top_answer_share": round(share, 3),
                "top_gold_share": round(top_share([e.target for e in examples])[1], 3),
            }
        )
    if train_seconds is not None:
        row["train_seconds"] = round(train_seconds, 1)
    row["_answers"] = pred.answers
    return row


def public(row: dict) -> dict:
    """A row without the private answers."""
    return {k: v for k, v in row.items() if not k.startswith("_")}


def markdown_table(rows: list[dict]) -> str:
    """Rows as a markdown table (metrics rounded to 3 decimals)."""
    rows = [public(r) for r in rows]
    keys = [k for k in rows[0] if k not in {"task", "split", "examples"}]
    for r in rows[1:]:
        keys += [k for k in r if k not in keys and k not in {"task", "split", "examples"}]
    fmt = lambda v: f"{v:.3f}" if isinstance(v, float) and abs(v) < 10 else ("" if v is None else str(v))
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(fmt(r.get(k)) for k in keys) + " |" for r in rows]
    return "\n".join(lines)
