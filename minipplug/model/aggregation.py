"""Aggregation: how the history vectors of one user become one weighting over their items.

Input-aware attention (paper, Eq. 3): w_i = softmax_i(Enc_input(x_u) . Enc_his(h_i) / tau).
Both vectors are unit length, so the score is a cosine in [-1, 1]: with tau = 1 the softmax over a
long history is nearly uniform, which is why a smaller tau sharpens it (see docs/training.md).
"""

from __future__ import annotations

import torch

MODES = ("attention", "mean", "topk")


def aggregation_weights(
    query: torch.Tensor,  # (B, D) unit vectors from Enc_input
    history: torch.Tensor,  # (B, N, D) unit vectors from Enc_his
    mask: torch.Tensor,  # (B, N) True for real items, False for padding
    mode: str = "attention",
    temperature: float = 1.0,
    top_k: int = 4,
) -> torch.Tensor:
    """Weights (B, N) over each user's items; they sum to 1, or to 0 for an empty history (never NaN)."""
    if mode not in MODES:
        raise ValueError(f"aggregation must be one of {MODES}, got '{mode}'")
    mask = mask.bool()
    if history.shape[1] == 0:
        return history.new_zeros(history.shape[:2])  # (B, 0)
    if mode == "mean":
        w = mask.to(history.dtype)  # (B, N)
        return w / w.sum(-1, keepdim=True).clamp(min=1.0)
    scores = torch.einsum("bd,bnd->bn", query.to(history.dtype), history) / temperature  # (B, N)
    if mode == "topk":
        # Keep exactly the k best-scoring real items (the paper's "top-4 weighted items" ablation). On equal
        # scores the earlier items win: a stable sort keeps profile order among ties, so k means k.
        k = min(top_k, history.shape[1])
        order = scores.masked_fill(~mask, float("-inf")).sort(dim=-1, descending=True, stable=True).indices  # (B, N)
        best = torch.zeros_like(mask).scatter(-1, order[:, :k], True)  # (B, N)
        mask = mask & best  # fewer than k real items: padding stays out
    scores = scores.masked_fill(~mask, float("-inf"))
    w = torch.softmax(scores, dim=-1)  # (B, N); a row with no real item is all NaN here
    return torch.where(mask.any(-1, keepdim=True), w, torch.zeros_like(w))
