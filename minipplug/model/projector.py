"""Proj and the instruction embedding I: small MLPs from the encoder's space to the LLM's embedding space."""

from __future__ import annotations

import torch
import torch.nn as nn


class Projector(nn.Module):
    """2-layer MLP with GELU (paper: 768 -> 4096 -> 4096), emitting n_tokens soft tokens per input vector."""

    def __init__(self, d_in: int, d_out: int, hidden: int = 0, n_tokens: int = 1):
        super().__init__()
        hidden = hidden or d_out
        self.n_tokens, self.d_out = n_tokens, d_out
        self.net = nn.Sequential(nn.Linear(d_in, hidden), nn.GELU(), nn.Linear(hidden, d_out * n_tokens))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.net(x)  # (..., d_out * n_tokens)
        return y.view(*x.shape[:-1], self.n_tokens, self.d_out)  # (..., n_tokens, d_out)


class InstructionEmbedding(nn.Module):
    """Trainable vector(s) I shared by all users, through their own MLP: tells the LLM 'a user embedding follows'."""

    def __init__(self, d_in: int, d_out: int, hidden: int = 0, n_tokens: int = 1):
        super().__init__()
        self.vector = nn.Parameter(torch.randn(d_in) / d_in**0.5)  # (d_in,)
        self.proj = Projector(d_in, d_out, hidden, n_tokens)

    def forward(self, batch_size: int) -> torch.Tensor:
        return self.proj(self.vector).unsqueeze(0).expand(batch_size, -1, -1)  # (B, n_tokens, d_out)
