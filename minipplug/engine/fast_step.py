"""A faster training step on a CPU: the frozen LLM's blocks in bf16, plain attention, compiled, after a cached head.

Four levers, for training under bf16 autocast on a CPU (docs/performance.md has the profile and the numbers):
- Under autocast every Linear of the frozen LLM casts its fp32 weight to bf16 at every call, forward and
  backward; the weights never change, so one bf16 copy, made once, gives the same numbers bit for bit.
- Attention as plain matmuls and a softmax ("eager") instead of SDPA: at ~130 tokens and head width 64, the
  CPU's fused attention kernel spends more in its backward than the two small matmuls cost.
- Each decoder block compiled (torch.compile) fuses the elementwise work around the matmuls (RMSNorm,
  rotary, the SiLU gate, residual adds) that eager mode runs op by op.
- The chat template's head (SmolLM2: its default system prompt, 24 of a prompt's ~140 tokens) is the same in
  every prompt and comes before the soft tokens, so nothing the plug does reaches it: its keys and values,
  computed once, stand in for it in every row of every step, forward and backward.

They are engaged only inside a training step (`with fast.engaged():`), and the bf16 weights alone, under the
same autocast, for the automatic length's validation checks and for answering (`engaged(step=False)`, where the
run computes in bf16: report.answering_llm); the dev loss and checkpoints see the LLM exactly as it was loaded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import AttentionInterface, AttentionMaskInterface
from transformers.masking_utils import eager_mask

from ..model.injection import PPlugLM

COMPILE_ENV = "MINIPPLUG_COMPILE"  # "0" turns compilation off (a machine without a C++ compiler does it itself)


def decoder_blocks(model: nn.Module) -> list[nn.Module]:
    """The repeated transformer blocks of a Hugging Face decoder-only LLM ([] when there are none to find)."""
    inner = getattr(model, "model", None)
    layers = getattr(inner, "layers", None)
    return list(layers) if isinstance(layers, nn.ModuleList) else []


def can_compile() -> bool:
    """Whether torch.compile can build CPU kernels here: a C++ compiler on PATH, and not turned off."""
    return os.environ.get(COMPILE_ENV, "1") != "0" and shutil.which(os.environ.get("CXX", "g++")) is not None


HEAD_ATTENTION = "minipplug_eager_after_head"  # eager attention over a cached head, then the step's own tokens


def eager_after_head(module: nn.Module, query, key, value, attention_mask, scaling: float, dropout=0.0, **kwargs):
    """softmax(Q K^T / sqrt(d) + M) V over the cached head's keys and values followed by the step's own.

    query (B, H, T, d); key, value (B, H_kv, T, d); attention_mask (B, 1, T, T), additive, for the step's tokens.
    """
    head_k, head_v = module.minipplug_head  # (1, H_kv, S, d) each, at positions 0 .. S - 1
    B, S = key.shape[0], head_k.shape[2]
    key = torch.cat([head_k.expand(B, -1, -1, -1).to(key.dtype), key], dim=2)  # (B, H_kv, S + T, d)
    value = torch.cat([head_v.expand(B, -1, -1, -1).to(value.dtype), value], dim=2)
    groups = query.shape[1] // key.shape[1]  # grouped-query attention: each key head serves `groups` query heads
    key, value = key.repeat_interleave(groups, 1), value.repeat_interleave(groups, 1)  # (B, H, S + T, d)
    mask = F.pad(attention_mask, (S, 0))  # (B, 1, T, S + T): every token sees the whole head
    weights = (query @ key.transpose(2, 3) * scaling + mask).softmax(-1, dtype=torch.float32).to(query.dtype)
    return (weights @ value).transpose(1, 2).contiguous(), weights  # (B, T, H, d), (B, H, T, S + T)


AttentionInterface.register(HEAD_ATTENTION, eager_after_head)
AttentionMaskInterface.register(HEAD_ATTENTION, eager_mask)  # the step's own (B, 1, T, T) additive mask


class FastFrozenLLM:
    """bf16 weight copies, compiled blocks and a cached head for a frozen decoder-only LLM, per training step."""

    def __init__(
        self, model: nn.Module, bf16: bool, compile: bool, attention: str | None = None, head: PPlugLM | None = None
    ):
        self.config = model.config
        self.blocks = decoder_blocks(model)
        self.bf16 = bf16 and bool(self.blocks)
        self.attention = attention if self.blocks else None  # the attention implementation while engaged
        self.compile = compile and bool(self.blocks) and can_compile()
        # (module, fp32 weight, bf16 weight) for every Linear inside the blocks; the LM head stays as it is
        # (tied to the input embeddings, and only the answer positions go through it)
        self._linears = [
            (m, m.weight, nn.Parameter(m.weight.detach().to(torch.bfloat16), requires_grad=False))
            for block in (self.blocks if self.bf16 else [])
            for m in block.modules()
            if isinstance(m, nn.Linear)
        ]
        # dynamic=True: one graph for every batch length, instead of a recompilation per new length
        self._compiled = [torch.compile(b._call_impl, dynamic=True) for b in self.blocks] if self.compile else []
        self.plm, self.head_tokens = None, 0  # head: the PPlugLM whose shared head a step reads from a cache
        if head is not None and head.model is model and self.attention == "eager" and head.shared_head():
            self._cache_head(head)

    @torch.no_grad()
    def _cache_head(self, plm: PPlugLM) -> None:
        """Each block's keys and values of the shared head, computed once as a step would (autocast if bf16)."""
        ids = torch.tensor([plm.shared_head()], device=plm.device)  # (1, S)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            out = plm.model(input_ids=ids, use_cache=True)
        cache = out.cache if hasattr(out, "cache") else out.past_key_values
        for block, layer in zip(self.blocks, cache.layers):
            block.self_attn.minipplug_head = (layer.keys, layer.values)  # (1, H_kv, S, d) each
        self.plm, self.head_tokens, self.attention = plm, ids.shape[1], HEAD_ATTENTION

    @classmethod
    def for_training(cls, plm: PPlugLM, precision: str, device: torch.device) -> FastFrozenLLM:
        """All four levers for bf16 autocast on a CPU (where they were measured); none elsewhere."""
        on = precision == "bf16" and device.type == "cpu"
        return cls(plm.model, bf16=on, compile=on, attention="eager" if on else None, head=plm if on else None)

    @property
    def active(self) -> bool:
        return self.bf16 or self.compile or self.attention is not None

    @contextlib.contextmanager
    def engaged(self, step: bool = True) -> Iterator[None]:
        """The fast LLM for the duration, the loaded one after: every lever for a training step under bf16
        autocast; with step=False the bf16 weights alone, for a forward pass without gradients (a validation
        check: compiled blocks would compile a second, no-grad graph, and eager attention only pays backward)."""
        loaded_attention = self.config._attn_implementation
        compiled = self._compiled if step else []
        if self.attention and step:
            self.config._attn_implementation = self.attention  # read at every forward by transformers
        if self.plm is not None and step:
            self.plm.cached_head = self.head_tokens  # build() leaves the head out: attention reads it cached
        for m, _, fast in self._linears:
            m.weight = fast
        for block, fn in zip(self.blocks, compiled):
            block._compiled_call_impl = fn  # what nn.Module.compile() sets: __call__ then runs fn
        try:
            yield
        finally:
            self.config._attn_implementation = loaded_attention
            if self.plm is not None:
                self.plm.cached_head = 0
            for m, slow, _ in self._linears:
                m.weight = slow
            for block in self.blocks[: len(compiled)]:
                block._compiled_call_impl = None
