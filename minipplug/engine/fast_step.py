"""A faster training step on a CPU: the frozen LLM's blocks in bf16, plain attention, and compiled.

Three levers, for training under bf16 autocast on a CPU (docs/performance.md has the profile and the numbers):
- Under autocast every Linear of the frozen LLM casts its fp32 weight to bf16 at every call, forward and
  backward; the weights never change, so one bf16 copy, made once, gives the same numbers bit for bit.
- Attention as plain matmuls and a softmax ("eager") instead of SDPA: at ~130 tokens and head width 64, the
  CPU's fused attention kernel spends more in its backward than the two small matmuls cost.
- Each decoder block compiled (torch.compile) fuses the elementwise work around the matmuls (RMSNorm,
  rotary, the SiLU gate, residual adds) that eager mode runs op by op.

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

COMPILE_ENV = "MINIPPLUG_COMPILE"  # "0" turns compilation off (a machine without a C++ compiler does it itself)


def decoder_blocks(model: nn.Module) -> list[nn.Module]:
    """The repeated transformer blocks of a Hugging Face decoder-only LLM ([] when there are none to find)."""
    inner = getattr(model, "model", None)
    layers = getattr(inner, "layers", None)
    return list(layers) if isinstance(layers, nn.ModuleList) else []


def can_compile() -> bool:
    """Whether torch.compile can build CPU kernels here: a C++ compiler on PATH, and not turned off."""
    return os.environ.get(COMPILE_ENV, "1") != "0" and shutil.which(os.environ.get("CXX", "g++")) is not None


class FastFrozenLLM:
    """bf16 weight copies and compiled blocks for a frozen decoder-only LLM, swapped in per training step."""

    def __init__(self, model: nn.Module, bf16: bool, compile: bool, attention: str | None = None):
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

    @classmethod
    def for_training(cls, model: nn.Module, precision: str, device: torch.device) -> FastFrozenLLM:
        """All three levers for bf16 autocast on a CPU (where they were measured); none elsewhere."""
        on = precision == "bf16" and device.type == "cpu"
        return cls(model, bf16=on, compile=on, attention="eager" if on else None)

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
        for m, _, fast in self._linears:
            m.weight = fast
        for block, fn in zip(self.blocks, compiled):
            block._compiled_call_impl = fn  # what nn.Module.compile() sets: __call__ then runs fn
        try:
            yield
        finally:
            self.config._attn_implementation = loaded_attention
            for m, slow, _ in self._linears:
                m.weight = slow
            for block in self.blocks[: len(compiled)]:
                block._compiled_call_impl = None
