"""The frozen pieces of a run, loaded once: the LLM wrapper and the history encoder; plugs made for them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch

from ..config import PPlugConfig, cache_dir, threads_from_env
from ..lamp.tasks import TaskSpec, get_task
from ..model.encoder import HistoryEncoder, SentenceEncoder
from ..model.injection import PPlugLM, embedding_scale
from ..model.plug import PersonaPlug, build_plug, load_plug
from .fast_step import FastFrozenLLM
from .loading import load_encoder, load_llm


@dataclass
class Stack:
    """The frozen pieces of a run: the LLM wrapper and the history encoder (with its cache)."""

    cfg: PPlugConfig
    plm: PPlugLM
    encoder: SentenceEncoder
    hist: HistoryEncoder
    bf16_llm: FastFrozenLLM | None = field(default=None, repr=False)  # made on first use by report.answering_llm

    @property
    def task(self) -> TaskSpec:
        """The config's task (a property: a sweep may swap the config of a loaded stack)."""
        return get_task(self.cfg.task)


def pick_device() -> torch.device:
    """cuda, then mps, then cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def apply_threads() -> int:
    """Set torch's CPU threads from $MINIPPLUG_THREADS when it is set; returns the number torch now uses."""
    n = threads_from_env()
    if n is not None:
        torch.set_num_threads(n)
    return torch.get_num_threads()


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
